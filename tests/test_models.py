"""Model layer: registry, every classifier's shapes, parameter counts, summary, transfer, export."""
from __future__ import annotations

import json
from urllib.error import URLError

import pytest
import torch
from torch import nn

import app.models as models
from app.core.errors import ModelError, OfflineError
from app.models import (
    build_model,
    count_parameters,
    export_onnx,
    export_torchscript,
    get_model_info,
    list_models,
    register,
    summarize,
)
from app.models import registry, zoo

CLASSIFIERS = ["softmax", "mlp", "classic-cnn", "lenet5", "cnn4", "vgg11", "vgg16", "resnet18",
               "inception", "tv-resnet18", "tv-vgg16"]
SHAPES = [(1, 28, 28), (3, 32, 32), (1, 32, 32), (3, 64, 64)]

# The big nets (tv-vgg16 alone has 134 M parameters and takes a second to build) run each shape
# once, with the class counts alternating, so every shape and both counts are still covered.
_HEAVY = {"vgg16", "resnet18", "tv-resnet18", "tv-vgg16"}
_HEAVY_CASES = {((1, 28, 28), 10), ((3, 32, 32), 3), ((1, 32, 32), 3), ((3, 64, 64), 10)}


def _claims(name: str, shape: tuple[int, int, int]) -> bool:
    info = get_model_info(name)
    c, h, w = shape
    return (c in info.channels and min(h, w) >= info.min_size
            and (info.max_size is None or max(h, w) <= info.max_size))


def _cases():
    for name in CLASSIFIERS:
        for shape in SHAPES:
            for k in (10, 3):
                if name in _HEAVY and (shape, k) not in _HEAVY_CASES:
                    continue
                yield name, shape, k


@pytest.fixture(autouse=True)
def _quiet_torch(monkeypatch, tmp_path):
    torch.manual_seed(0)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # never the real hub cache


def test_registry_lists_every_classifier_with_complete_info():
    names = [info.name for info in list_models(task="classify")]
    assert set(CLASSIFIERS) <= set(names)
    assert {"kp-cnn4", "dcgan"} <= {info.name for info in list_models()}   # every family registered
    for info in list_models(task="classify"):
        assert info.description and "\n" not in info.description
        assert set(registry.DEFAULT_HYPERPARAMETERS) <= set(info.defaults)
        # the pretrained efficientnet-lite0 trains only a last layer on cached features: AdamW suits it
        assert info.defaults["optimizer"] == ("adamw" if info.name == "efficientnet-lite0" else "sgd")
        assert info.defaults["lr"] > 0
        json.dumps(info.to_dict())
    assert get_model_info("cnn4").defaults["lr"] == 0.05
    assert get_model_info("vgg16").options == {"batch_norm": True}
    assert get_model_info("tv-resnet18").options["pretrained"] is False
    assert list_models(task="no-such-task") == []


@pytest.mark.parametrize("name,shape,k", list(_cases()))
def test_forward_gives_logits_and_features(name, shape, k):
    assert _claims(name, shape)
    options = {"upscale_to": 32} if name == "tv-vgg16" else {}  # 224 px is too slow for a unit test
    model = build_model(name, shape[0], shape[1:], k, **options).eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        logits = model(x)
        feats = model.features(x)
        assert logits.shape == (2, k)
        assert feats.shape == (2, model.feature_dim)
        assert torch.allclose(model.classifier_head(feats), logits, atol=1e-5)
    assert torch.isfinite(logits).all()


def test_training_step_runs_with_batchnorm_models():
    model = build_model("cnn4", 1, 28, 10)
    loss = nn.functional.cross_entropy(model(torch.randn(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name,shape,k,expected", [
    ("classic-cnn", (1, 28, 28), 10, 21_840),   # 260 + 5,020 + 16,050 + 510
    ("softmax", (1, 28, 28), 10, 7_850),        # 784 * 10 + 10
    ("lenet5", (1, 28, 28), 10, 61_706),        # 156 + 2,416 + 48,120 + 10,164 + 850
    ("lenet5", (1, 32, 32), 10, 61_706),        # 32 px: no padding, same 16x5x5 maps
    ("lenet5", (3, 32, 32), 10, 62_006),
    ("mlp", (1, 28, 28), 10, 235_146),          # 200,960 + 32,896 + 1,290
    ("inception", (1, 28, 28), 10, 97_298),
    ("cnn4", (1, 28, 28), 10, 1_676_970),
    ("vgg11", (1, 28, 28), 10, 9_227_210),
    ("vgg16", (3, 32, 32), 10, 14_724_042),     # CIFAR VGG-16 with BN and bias-free convs
    ("resnet18", (3, 32, 32), 10, 11_173_962),  # the CIFAR ResNet-18 count
])
def test_parameter_counts(name, shape, k, expected):
    model = build_model(name, shape[0], shape[1:], k)
    assert count_parameters(model) == expected
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


def test_classic_cnn_has_the_curriculum_layers_in_order():
    model = build_model("classic-cnn", 1, 28, 10)
    types = [type(m).__name__ for m in model.body] + [type(model.classifier_head).__name__]
    assert types == ["Conv2d", "MaxPool2d", "ReLU", "Conv2d", "Dropout2d", "MaxPool2d", "ReLU",
                     "Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    assert model.body.fc1.in_features == 320


def test_vgg_without_batch_norm_and_resnet_stems():
    plain = build_model("vgg11", 3, 32, 10, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert build_model("vgg11", 3, 32, 10, batch_norm="false").body.conv1.bias is not None
    small = build_model("resnet18", 3, 32, 10)
    assert small.body.conv1.kernel_size == (3, 3) and not hasattr(small.body, "maxpool")
    large = build_model("resnet18", 3, 96, 10)
    assert large.body.conv1.kernel_size == (7, 7) and hasattr(large.body, "maxpool")
    assert large(torch.randn(1, 3, 96, 96)).shape == (1, 10)


def test_summary_of_a_single_conv_counts_832():
    conv = nn.Conv2d(1, 32, 5, padding=2)
    s = summarize(conv, (1, 28, 28))
    assert s.total_params == s.trainable_params == 832
    assert [(r.type, r.output_shape, r.params) for r in s.rows] == [("Conv2d", (1, 32, 28, 28), 832)]


@pytest.mark.parametrize("name", ["classic-cnn", "cnn4", "inception", "tv-resnet18"])
def test_summary_totals_match_the_parameters(name):
    model = build_model(name, 1, 28, 10)
    model.train()
    model.body[0].eval()  # a module that was in eval mode stays so
    s = summarize(model, (1, 28, 28))
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.trainable_params == s.total_params
    assert sum(r.params for r in s.rows) == s.total_params
    nbytes = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    assert s.size_mb == pytest.approx(nbytes / 2**20)
    assert s.output_shape == (1, 10) and s.rows[-1].name == "classifier_head"
    assert model.training and not model.body[0].training and model.classifier_head.training
    table = s.format_table()
    assert f"{s.total_params:,}" in table and "Total params" in table
    assert json.loads(json.dumps(s.to_dict()))["total_params"] == s.total_params


def test_summary_table_for_classic_cnn():
    s = summarize(build_model("classic-cnn", 1, 28, 10), (1, 28, 28))
    rows = {r.name: r for r in s.rows}
    assert rows["body.conv1"].params == 260 and rows["body.conv1"].output_shape == (1, 10, 24, 24)
    assert rows["body.flatten"].output_shape == (1, 320)
    assert rows["body.fc1"].params == 16_050
    assert "21,840" in s.format_table()
    with pytest.raises(ModelError):
        summarize(build_model("classic-cnn", 1, 28, 10), (1, 8, 8))


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ModelError, match="no model called 'alexnet'.*cnn4"):
        build_model("alexnet", 1, 28, 10)


def test_image_size_limits_and_channels():
    with pytest.raises(ModelError, match="lenet5 needs images of at least 12x12 pixels"):
        build_model("lenet5", 1, 8, 10)
    with pytest.raises(ModelError, match="classic-cnn needs images of at least 16x16"):
        build_model("classic-cnn", 1, (28, 10), 10)
    with pytest.raises(ModelError, match="softmax works with images of at most 128x128"):
        build_model("softmax", 3, 256, 10)
    with pytest.raises(ModelError, match="4 channels"):
        build_model("cnn4", 4, 28, 10)
    with pytest.raises(ModelError, match="classes"):
        build_model("cnn4", 1, 28, 0)
    with pytest.raises(ModelError, match="image size"):
        build_model("cnn4", 1, (28,), 10)


def test_options_are_checked_and_coerced():
    with pytest.raises(ModelError, match="no option 'dropuot'.*dropout"):
        build_model("mlp", 1, 28, 10, dropuot=0.1)
    with pytest.raises(ModelError, match="cnn4 has no option 'batch_norm'"):
        build_model("cnn4", 1, 28, 10, batch_norm=False)
    with pytest.raises(ModelError, match="must be a number"):
        build_model("mlp", 1, 28, 10, dropout="lots")
    with pytest.raises(ModelError, match="between 0 and 1"):
        build_model("mlp", 1, 28, 10, dropout=1.5)
    with pytest.raises(ModelError, match="yes or no"):
        build_model("vgg11", 1, 28, 10, batch_norm="maybe")
    assert build_model("mlp", 1, 28, 10, dropout="0.3").body.drop1.p == pytest.approx(0.3)
    assert build_model("cnn4", 1, 28, 10, hidden="256").feature_dim == 256


def test_other_modules_can_register_models(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register("kp-test", "A test keypoint net.", task="keypoints", options={"width": 8}, min_size=4)
    def build(in_channels, image_size, num_classes, width):
        return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size[0] * image_size[1], num_classes))

    assert [i.name for i in list_models(task="keypoints")][-1] == "kp-test"
    assert "kp-test" not in [i.name for i in list_models(task="classify")]
    assert get_model_info("kp-test").defaults == {}
    assert build_model("kp-test", 1, (6, 5), 136)(torch.zeros(2, 1, 6, 5)).shape == (2, 136)
    with pytest.raises(ValueError, match="registered twice"):
        register("kp-test", "again")(build)
    with pytest.raises(ValueError, match="takes no keyword"):
        register("kp-bad", "options the builder lacks", options={"depth": 2})(
            lambda in_channels, image_size, num_classes: nn.Identity())


def test_pretrained_weights_missing_names_the_path(tmp_path):
    expected = tmp_path / "torch-home" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert zoo.pretrained_weights_path("tv-resnet18") == expected
    assert not zoo.pretrained_available("tv-resnet18")
    with pytest.raises(ModelError, match="ImageNet weights for resnet18 are not on this computer") as err:
        build_model("tv-resnet18", 3, 32, 10, pretrained=True)
    assert str(expected) in str(err.value) and "Download" in str(err.value)


def test_pretrained_weights_are_loaded_from_the_hub_cache():
    import torchvision

    reference = torchvision.models.resnet18()
    path = zoo.pretrained_weights_path("resnet18")
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    assert zoo.pretrained_available("resnet18")
    model = build_model("tv-resnet18", 1, 28, 5, pretrained=True)
    body = model.body
    assert body.upscale.size == (64, 64)
    assert torch.equal(body.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    # grey input: the RGB kernels summed == the network on the grey image repeated 3 times
    assert torch.allclose(body.conv1.weight, reference.conv1.weight.sum(1, keepdim=True))
    x = torch.rand(1, 1, 64, 64)
    rgb = nn.Sequential(*list(reference.children())[:-1]).eval()
    assert torch.allclose(model.eval().features(x), rgb(x.repeat(1, 3, 1, 1)).flatten(1), atol=1e-4)

    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot be read"):
        build_model("tv-resnet18", 3, 32, 10, pretrained=True)


def test_download_pretrained_offline_gives_a_plain_error(monkeypatch):
    def offline(*_args, **_kwargs):
        raise URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(OfflineError, match="Could not download the ImageNet weights for vgg16"):
        zoo.download_pretrained("tv-vgg16", progress=False)
    path = zoo.pretrained_weights_path("tv-vgg16")
    assert not path.exists()  # nothing half-written is left behind
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    assert zoo.download_pretrained("tv-vgg16", progress=False) == path  # present: no download


def test_freeze_backbone_leaves_only_the_head_trainable():
    model = build_model("tv-resnet18", 3, 32, 4, freeze_backbone=True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"classifier_head.weight", "classifier_head.bias"}
    assert count_parameters(model, trainable_only=True) == 512 * 4 + 4
    assert summarize(model, (3, 32, 32)).trainable_params == 512 * 4 + 4
    model.train()
    assert model.classifier_head.training and not model.body.bn1.training  # frozen BN statistics
    before = model.body.bn1.running_mean.clone()
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert torch.equal(model.body.bn1.running_mean, before)
    assert model.body.conv1.weight.grad is None and model.classifier_head.weight.grad is not None
    model.set_backbone_frozen(False)  # second stage: fine-tune everything
    assert count_parameters(model, trainable_only=True) == count_parameters(model)
    assert model.body.bn1.training


def test_tv_vgg16_enlarges_small_images_to_224():
    model = build_model("tv-vgg16", 1, 28, 10, freeze_backbone=True)
    assert model.body.upscale.size == (224, 224)
    assert model.feature_dim == 4096
    assert count_parameters(model, trainable_only=True) == 4096 * 10 + 10
    with pytest.raises(ModelError, match="upscale_to"):
        build_model("tv-vgg16", 1, 28, 10, upscale_to=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_export_torchscript_and_onnx_round_trip(tmp_path):
    out = tmp_path / "exports"
    model = build_model("classic-cnn", 1, 28, 10)
    model.train()
    x = torch.randn(5, 1, 28, 28)

    ts = export_torchscript(model, (1, 28, 28), out / "ts" / "model.pt")
    assert ts.path.is_file() and ts.verified_with == "torch.jit.load" and ts.max_abs_diff <= 1e-4
    assert model.training  # the caller's model is untouched
    with torch.no_grad():
        expected = model.eval()(x)
        assert torch.allclose(torch.jit.load(str(ts.path))(x), expected, atol=1e-4)

    ort = pytest.importorskip("onnxruntime")
    ox = export_onnx(model, (1, 28, 28), out / "model.onnx")
    assert ox.verified_with == "onnxruntime" and ox.max_abs_diff <= 1e-4
    session = ort.InferenceSession(str(ox.path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": x.numpy()})[0]  # batch 5: the batch axis is dynamic
    assert torch.allclose(torch.from_numpy(got), expected, atol=1e-4)
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "ts"]  # no temp files left


class _Noisy(nn.Module):
    def forward(self, x):
        return x.flatten(1).mean(1, keepdim=True) + torch.rand(x.shape[0], 1)


def test_export_that_does_not_reproduce_the_model_is_refused(tmp_path):
    out = tmp_path / "exports"
    with pytest.raises(ModelError, match="does not compute the same results"):
        export_torchscript(_Noisy(), (1, 4, 4), out / "noisy.pt")
    assert list(out.iterdir()) == []  # neither the file nor a temp file
    with pytest.raises(ModelError, match="input shape"):
        export_torchscript(_Noisy(), (1, 0, 4), out / "noisy.pt")
