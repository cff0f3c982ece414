"""Networks as the lessons print them: torchvision-exact VGG-11/16 and ResNet-18, the layer choices of
the classic models, and the layer calculator checked against PyTorch."""
import json
import re

import pytest
import torch
import torchvision
from torch import nn

from app.cli import main
from app.core.errors import ModelError
from app.engine.config import TrainConfig
from app.engine.build import make_trainer
from app.models import build_model, get_model_info
from app.models.calculator import LAYER_TYPES, calculate, calculate_text, parse_layer
from app.models.layers import ACTIVATIONS, NORMS, class_probabilities, classification_loss
from app.models.summary import summarize


def _leaf_shapes(model: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple]]:
    rows = []
    hooks = [m.register_forward_hook(lambda m, i, o: rows.append((type(m).__name__, tuple(o.shape))))
             for m in model.modules() if next(m.children(), None) is None]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return rows


# ---------------------------------------------------------------------------------------------- torchvision
def test_tv_vgg11_summary_is_torchvisions_vgg11(capsys):
    assert main(["summary", "--model", "tv-vgg11", "--input", "3x224x224", "--classes", "1000"]) == 0
    table = capsys.readouterr().out
    assert "Total params:         132,863,336" in table
    with torch.device("meta"):        # torchvision's own network, shapes only
        reference = torchvision.models.vgg11()
        expected = _leaf_shapes(reference, torch.zeros(1, 3, 224, 224))
    assert sum(p.numel() for p in reference.parameters()) == 132_863_336
    rows = [(m.group(2), tuple(int(v) for v in m.group(3).split(",")))
            for m in (re.match(r"^(\S+)\s+(\S+)\s+\(([\d, ]+)\)", line) for line in table.splitlines()) if m]
    # torchvision flattens with torch.flatten (no layer); ours shows it as a Flatten row
    ours = [row for row in rows if row[0] not in ("Flatten", "shape:")]
    assert ours == expected
    maps = [shape for kind, shape in ours if kind == "MaxPool2d"]
    assert maps == [(1, 64, 112, 112), (1, 128, 56, 56), (1, 256, 28, 28), (1, 512, 14, 14), (1, 512, 7, 7)]
    assert ours[-1] == ("Linear", (1, 1000))


@pytest.mark.parametrize("name, arch", [("tv-vgg16", "vgg16"), ("tv-resnet18", "resnet18")])
def test_other_torchvision_models_are_exact(name, arch):
    with torch.device("meta"):        # the architecture only: no time spent filling 138 million weights
        ours = build_model(name, 3, 224, 1000)
        ref = getattr(torchvision.models, arch)()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
    assert [tuple(v.shape) for v in ours.state_dict().values()] == [tuple(v.shape) for v in ref.state_dict().values()]


def test_small_image_vgg11_says_how_it_differs():
    text = get_model_info("vgg11").description
    assert "small images" in text and "tv-vgg11" in text and "4096" in text
    assert "132,863,336" in get_model_info("tv-vgg11").description


# ---------------------------------------------------------------------------------------------- layer choices
CLASSIC = ["mlp", "classic-cnn", "lenet5", "cnn4"]
NORM_TYPES = {"batch": ("BatchNorm2d", "BatchNorm1d"), "layer": ("LayerNorm2d", "LayerNorm"),
              "instance": ("InstanceNorm2d",), "group": ("GroupNorm",)}
ACT_TYPES = {"relu": nn.ReLU, "leaky-relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU, "tanh": nn.Tanh,
             "sigmoid": nn.Sigmoid}


def _one_step(model: nn.Module) -> float:
    torch.manual_seed(0)
    x, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    loss = classification_loss(model(x), y, model.output_kind)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    return float(loss.detach())


@pytest.mark.parametrize("model_name", CLASSIC)
@pytest.mark.parametrize("norm", NORMS)
def test_every_norm_builds_and_trains_one_step(model_name, norm):
    if model_name == "mlp" and norm == "instance":
        with pytest.raises(ModelError, match="instance normalisation works on feature maps"):
            build_model("mlp", 1, 28, 10, norm="instance")
        return
    model = build_model(model_name, 1, 28, 10, norm=norm)
    types = {type(m).__name__ for m in model.modules()}
    norm_types = {"BatchNorm2d", "BatchNorm1d", "LayerNorm2d", "LayerNorm", "InstanceNorm2d", "GroupNorm"}
    if norm == "none":
        assert not types & norm_types
    else:
        assert types & norm_types and types & norm_types <= set(NORM_TYPES[norm])
        table = summarize(model, (1, 28, 28)).format_table()
        assert any(t in table for t in NORM_TYPES[norm])
    assert torch.isfinite(torch.tensor(_one_step(model)))


@pytest.mark.parametrize("model_name", CLASSIC)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_builds_and_trains_one_step(model_name, activation):
    model = build_model(model_name, 1, 28, 10, activation=activation)
    acts = [m for m in model.modules() if isinstance(m, tuple(ACT_TYPES.values()))]
    assert acts and all(type(m) is ACT_TYPES[activation] for m in acts)
    assert torch.isfinite(torch.tensor(_one_step(model)))


@pytest.mark.parametrize("model_name", CLASSIC)
def test_log_softmax_nll_is_cross_entropy_written_out(model_name):
    torch.manual_seed(1)
    ce = build_model(model_name, 1, 28, 10)
    torch.manual_seed(1)
    nll = build_model(model_name, 1, 28, 10, loss="log-softmax+nll")
    assert ce.output_kind == "logits" and nll.output_kind == "log-probs"
    assert isinstance(list(nll.modules())[-1], nn.LogSoftmax)
    assert "LogSoftmax" in summarize(nll, (1, 28, 28)).format_table()
    x, y = torch.randn(6, 1, 28, 28), torch.randint(0, 10, (6,))
    ce.eval(), nll.eval()
    with torch.no_grad():
        a, b = ce(x), nll(x)
        assert torch.allclose(classification_loss(a, y, "logits"), classification_loss(b, y, "log-probs"), atol=1e-5)
        assert torch.allclose(class_probabilities(a, "logits"), class_probabilities(b, "log-probs"), atol=1e-6)
    _one_step(nll)


def test_unknown_choice_is_a_plain_message():
    with pytest.raises(ModelError, match="unknown activation 'swish'"):
        build_model("lenet5", 1, 28, 10, activation="swish")
    with pytest.raises(ModelError, match="unknown normalisation 'weight'"):
        build_model("cnn4", 1, 28, 10, norm="weight")


def test_layer_choices_through_the_cli_are_recorded_and_shown(tmp_path, capsys):
    from helpers import write_mnist_root

    root = tmp_path / "mnist"
    write_mnist_root(root, n_train=64, n_test=32)
    out = tmp_path / "run"
    rc = main(["train", "--data", "mnist", "--data-root", str(root), "--model", "lenet5", "--option", "norm=group",
               "--option", "activation=GELU", "--option", "loss=nll", "--epochs", "1", "--batch-size", "16",
               "--device", "cpu", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_options"] == {"norm": "group", "activation": "GELU", "loss": "nll"}
    assert main(["summary", "--model", "lenet5", "--option", "norm=group", "--option", "activation=gelu",
                 "--option", "loss=nll"]) == 0
    table = capsys.readouterr().out
    assert "GroupNorm" in table and "GELU" in table and "LogSoftmax" in table
    assert main(["train", "--data", "mnist", "--data-root", str(root), "--model", "cnn4", "--option", "norm=fancy",
                 "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "bad")]) == 2
    assert "unknown normalisation" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- calculator
CASES = [
    ("Conv2d", (1, 32, 5), {"padding": 2}, (1, 28, 28)),
    ("Conv2d", (3, 16, 3), {"stride": 2}, (3, 33, 31)),
    ("Conv2d", (4, 8, (3, 5)), {"stride": (2, 1), "padding": (1, 2), "dilation": 2, "groups": 2, "bias": False}, (4, 20, 17)),
    ("ConvTranspose2d", (16, 8, 4), {"stride": 2, "padding": 1}, (16, 7, 7)),
    ("ConvTranspose2d", (6, 4, 3), {"stride": 3, "output_padding": 2, "groups": 2, "dilation": 1}, (6, 5, 9)),
    ("ConvTranspose2d", (2, 3, (2, 3)), {"dilation": 2, "bias": False}, (2, 4, 4)),
    ("MaxPool2d", (2,), {}, (32, 28, 28)),
    ("MaxPool2d", (3,), {"stride": 2, "ceil_mode": True}, (3, 8, 8)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "dilation": 2}, (3, 15, 14)),
    ("MaxPool2d", (2,), {"stride": 2, "ceil_mode": True, "padding": 1}, (1, 5, 6)),
    ("AvgPool2d", (2,), {}, (6, 27, 27)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 10, 9)),
    ("AvgPool2d", ((2, 4),), {"stride": (1, 3)}, (1, 9, 13)),
    ("Linear", (3136, 128), {}, (3136,)),
    ("Linear", (7, 3), {"bias": False}, (5, 7)),
    ("Flatten", (), {}, (64, 7, 7)),
    ("Flatten", (), {"start_dim": 2}, (4, 5, 6)),
    ("BatchNorm2d", (32,), {}, (32, 14, 14)),
    ("BatchNorm2d", (8,), {"affine": False}, (8, 3, 3)),
]


@pytest.mark.parametrize("kind, args, kwargs, shape", CASES)
def test_calculator_matches_pytorch(kind, args, kwargs, shape):
    r = calculate(kind, args, kwargs, shape)
    layer = getattr(nn, kind)(*args, **kwargs).eval()
    with torch.no_grad():
        y = layer(torch.zeros(2, *shape))
    assert r.output_shape == tuple(y.shape[1:])
    assert r.params == sum(p.numel() for p in layer.parameters())
    words = " ".join(r.formula)
    assert f"{r.output_shape[-1]:,}" in words or str(r.output_shape[-1]) in words


def test_calculator_covers_every_listed_layer():
    assert {c[0] for c in CASES} == set(LAYER_TYPES)


def test_calculator_spells_out_the_lesson_example():
    r = calculate_text("nn.Conv2d(1, 32, 5, padding=2)", (1, 28, 28))
    assert r.output_shape == (32, 28, 28) and r.params == 832
    text = r.text
    assert "1x28x28 -> 32x28x28, 832 parameters" in text
    assert "floor((28 + 2 x 2 - 1 x (5 - 1) - 1) / 1) + 1 = 28" in text
    assert "32 x 1 x 5 x 5 = 800" in text and "800 weights + 32 biases = 832" in text
    assert parse_layer("MaxPool2d(kernel_size=(2, 2))") == ("MaxPool2d", (), {"kernel_size": (2, 2)})


@pytest.mark.parametrize("text, shape, needle", [
    ("Conv2d(3, 8, 3)", (1, 28, 28), "expects 3 input channels"),
    ("Conv2d(1, 8, 7)", (1, 4, 4), "too small"),
    ("Linear(100, 10)", (64, 7, 7), "flatten the maps first"),
    ("MaxPool2d(2, padding=2)", (1, 8, 8), "at most half the kernel"),
    ("Dense(3)", (3,), "knows Conv2d"),
    ("Conv2d(1, 8, __import__('os'))", (1, 8, 8), "plain numbers"),
    ("Conv2d(1, 8, 3, colour=2)", (1, 8, 8), "no argument 'colour'"),
])
def test_calculator_bad_input_is_a_plain_message(text, shape, needle):
    with pytest.raises(ModelError, match=needle.replace("(", r"\(")):
        calculate_text(text, shape)
