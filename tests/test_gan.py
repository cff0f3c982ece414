"""GAN models, the GAN task on the shared Trainer, the Fréchet distance and the gan CLI (tiny data)."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch

from app.engine.build import make_trainer
from app.engine.checkpoint import FORMAT, save_checkpoint
from app.engine.events import Samples
from app.engine.trainer import Trainer
from app.engine.fid import GanScorer, feature_stats, frechet_distance, frechet_from_stats
from app.engine.gan import (GanTask, gan_config, interpolate_latents, load_generator, make_grid, make_strip,
                            sample_latents)
from app.core.errors import CheckpointError, ModelError, UserError
from app.models import build_model, list_models
from helpers import tiny_dataset, write_mnist_root

SMALL = {"g_width": 8, "d_width": 8, "latent_dim": 16}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one thread is as fast as two and does not fight other processes for the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_classifier(path, ds, model="mlp"):
    """A (randomly initialised) classifier checkpoint for the score: deterministic features are all
    the Fréchet distance needs."""
    torch.manual_seed(0)
    net = build_model(model, ds.channels, ds.size, ds.num_classes)
    save_checkpoint({"format": FORMAT, "kind": "best", "model": net.state_dict(),
                     "meta": {"task": "classify", "model": model, "model_options": {},
                              "input_shape": list(ds.input_shape), "classes": list(ds.classes),
                              "mean": list(ds.mean), "std": list(ds.std), "data": ds.name}}, path)
    return path


def train_tiny(tmp_path, epochs=2, extra=None, **changes):
    ds = tiny_dataset(64, 32, classes=4, size=28)
    cfg = gan_config("tiny", epochs=epochs, batch_size=16, model_options=SMALL,
                     extra={"grid": 16, "score": False, **(extra or {})}, **changes)
    events = []
    trainer = make_trainer(cfg, out=tmp_path / "run", dataset=ds, callbacks=[events.append])
    fin = trainer.fit()
    return trainer, fin, events, ds


# ------------------------------------------------------------------------------------------- models
@pytest.mark.parametrize("channels,side", [(1, 28), (3, 28), (1, 32), (3, 32), (3, 64)])
def test_dcgan_adapts_to_size_and_channels(channels, side):
    pair = build_model("dcgan", channels, side, 1, **SMALL)
    x = pair.generator(torch.randn(3, 16))
    assert x.shape == (3, channels, side, side)
    assert float(x.detach().abs().max()) <= 1.0
    assert pair.discriminator(x).shape == (3,)


def test_fc_gan_and_registry():
    assert {m.name for m in list_models("gan")} == {"dcgan", "fc-gan"}
    pair = build_model("fc-gan", 1, 28, 1, latent_dim=10, hidden=8)
    assert pair.generator(torch.randn(2, 10)).shape == (2, 1, 28, 28)
    assert pair.discriminator(torch.zeros(2, 1, 28, 28)).shape == (2,)
    with pytest.raises(ModelError, match="28, 32 or 64"):
        build_model("dcgan", 1, 30, 1)
    with pytest.raises(ModelError, match="square"):
        build_model("dcgan", 1, (28, 32), 1)


# ------------------------------------------------------------------------------------------- the task
def test_gan_task_trains_and_writes_grids(tmp_path):
    trainer, fin, events, _ = train_tiny(tmp_path)
    assert fin.reason == "completed" and fin.epoch == 2
    for row in trainer.history:
        for k in ("train_d_loss", "train_g_loss", "train_d_x", "train_d_gz"):
            assert math.isfinite(row[k])
        assert 0 <= row["train_d_x"] <= 1 and 0 <= row["train_d_gz"] <= 1
    run = tmp_path / "run"
    grids = sorted(p.name for p in (run / "samples").iterdir())
    assert grids == ["epoch_001.png", "epoch_002.png"]
    samples = [e for e in events if isinstance(e, Samples)]
    assert [s.epoch for s in samples] == [1, 2]
    assert samples[0].image.shape == (4 * 30 + 2, 4 * 30 + 2) and samples[0].image.dtype == np.uint8
    with open(run / "batches.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and all(math.isfinite(float(r["d_loss"])) for r in rows)
    # without a score, best.pt follows the latest epoch; it holds the generator only
    gen = load_generator(run / "best.pt")
    assert gen.meta["data"] == "tiny" and gen.image_shape == (1, 28, 28)
    assert set(gen.generator.state_dict()) == set(trainer.task.g_net.state_dict())


def test_generation_is_repeatable(tmp_path):
    train_tiny(tmp_path, epochs=1)
    gen = load_generator(tmp_path / "run")          # the folder means its best.pt
    a, b = gen.sample(8, seed=5), gen.sample(8, seed=5)
    assert a.dtype == torch.uint8 and a.shape == (8, 1, 28, 28)
    assert torch.equal(a, b)
    assert not torch.equal(gen.latents(8, 5), gen.latents(8, 6))
    # a sample depends only on (seed, index), not on how many were asked for
    assert torch.equal(gen.sample(3, seed=5), a[:3])
    last = load_generator(tmp_path / "run" / "last.pt")
    assert torch.equal(last.sample(4, seed=5), a[:4])


def test_one_class_and_label_smoothing(tmp_path):
    ds = tiny_dataset(64, 32, classes=4, size=28)
    task = GanTask(ds, "dcgan", model_options=SMALL, batch_size=8, class_index="class2", label_smoothing=0.1,
                   score=False)
    Trainer(task, epochs=1, device="cpu").fit()
    assert task.class_index == 2 and task.real_target == pytest.approx(0.9)
    assert task.loader.num_samples == int((ds.train.labels == 2).sum())
    assert task.meta()["class_name"] == "class2"
    with pytest.raises(UserError, match="classes 0 to 3"):
        GanTask(ds, "dcgan", class_index=7)
    with pytest.raises(UserError, match="not a GAN"):
        GanTask(ds, "cnn4")


def test_score_every_n_epochs_goes_to_metrics(tmp_path):
    ds = tiny_dataset(64, 32, classes=4, size=28)
    clf = tiny_classifier(tmp_path / "clf.pt", ds)
    trainer, fin, events, _ = train_tiny(tmp_path, epochs=2, extra={"score": True, "classifier": str(clf),
                                                                    "score_samples": 48, "score_every": 2})
    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["fd"] == "" and float(rows[1]["fd"]) > 0
    assert 0.25 <= float(rows[1]["class_max_share"]) <= 1
    ends = [e for e in events if type(e).__name__ == "EpochEnd"]
    score = ends[1].details["score"]
    assert sum(score["histogram"]) == 48 and score["n"] == 48
    assert fin.best["epoch"] == 2 and trainer.task.monitor == ("fd", "min")


# ------------------------------------------------------------------------------------------- the distance
def test_frechet_distance_closed_form_and_identity():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 6, generator=g)
    assert frechet_distance(a, a) < 1e-8
    d = 6
    mu = torch.full((d,), 0.5)
    # N(0, I) vs N(mu, s^2 I): |mu|^2 + d (1 - s)^2
    for s in (1.0, 2.0, 0.5):
        fd = frechet_from_stats(torch.zeros(d), torch.eye(d), mu, s * s * torch.eye(d))
        assert fd == pytest.approx(float(mu.dot(mu)) + d * (1 - s) ** 2, abs=1e-9)
    # a non-diagonal case against the eigenvalues of C1 C2 directly
    c1 = feature_stats(a)[1]
    c2 = feature_stats(a @ torch.randn(6, 6, generator=g))[1]
    ev = torch.linalg.eigvals(c1 @ c2).real.clamp(min=0).sqrt().sum()
    expect = float(c1.trace() + c2.trace() - 2 * ev)
    assert frechet_from_stats(torch.zeros(d), c1, torch.zeros(d), c2) == pytest.approx(expect, rel=1e-6)


def test_scorer_zero_for_identical_images_and_grows_with_noise(tmp_path):
    from app.engine.predict import load_classifier

    ds = tiny_dataset(64, 200, classes=4, size=28)
    clf = load_classifier(tiny_classifier(tmp_path / "clf.pt", ds))
    real = ds.test.images
    scorer = GanScorer(clf, real, n_samples=200)
    assert scorer.score_images(real).fd < 1e-6
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(real.shape, generator=g)
    scores = []
    for sigma in (10, 40, 120):
        noisy = (real.float() + sigma * noise).clamp(0, 255).to(torch.uint8)
        scores.append(scorer.score_images(noisy).fd)
    assert 0 < scores[0] < scores[1] < scores[2]
    res = scorer.score_images(real)
    assert sum(res.histogram) == 200 and res.classes == ds.classes


# ------------------------------------------------------------------------------------------- images and latents
def test_grid_strip_and_interpolation():
    imgs = torch.randint(0, 255, (5, 3, 8, 8), dtype=torch.uint8)
    grid = make_grid(imgs)                     # 3 columns, 2 rows
    assert grid.shape == (2 * 10 + 2, 3 * 10 + 2, 3)
    assert np.array_equal(grid[2:10, 2:10], imgs[0].permute(1, 2, 0).numpy())
    assert make_strip(imgs[:, :1]).shape == (12, 5 * 10 + 2)
    z = sample_latents(2, 32, seed=1)
    path = interpolate_latents(z[0], z[1], 7)
    assert path.shape == (7, 32)
    assert torch.allclose(path[0], z[0], atol=1e-5) and torch.allclose(path[-1], z[1], atol=1e-5)
    lin = interpolate_latents(z[0], z[1], 7, spherical=False)
    assert torch.allclose(lin[3], (z[0] + z[1]) / 2, atol=1e-6)


# ------------------------------------------------------------------------------------------- CLI end to end
def test_cli_gan_train_generate_score(tmp_path, capsys):
    from app.cli import main

    root = tmp_path / "mnist"
    write_mnist_root(root, n_train=120, n_test=60)
    from app.data import load_dataset

    ds = load_dataset("mnist", root)
    clf = tiny_classifier(tmp_path / "clf.pt", ds)
    run = tmp_path / "gan-run"
    opts = ["--option", "g_width=8", "--option", "d_width=8", "--option", "latent_dim=16"]
    rc = main(["gan", "train", "--data", "mnist", "--data-root", str(root), "--class", "3", "--epochs", "1",
               "--out", str(run), "--batch-size", "4", "--classifier", str(clf), "--score-samples", "30",
               "--quiet", *opts])
    assert rc == 0
    assert (run / "best.pt").is_file() and (run / "samples" / "epoch_001.png").is_file()
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["task"] == "gan" and cfg["extra"]["class"] == "3" and cfg["optimizer"] == "adam"
    with open(run / "metrics.csv", newline="") as f:
        assert float(next(csv.DictReader(f))["fd"]) >= 0
    # continue the run for one more epoch
    assert main(["gan", "train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    with open(run / "metrics.csv", newline="") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2"]

    out1, out2 = tmp_path / "a.png", tmp_path / "b.png"
    for out in (out1, out2):
        assert main(["gan", "generate", str(run / "best.pt"), "--n", "16", "--seed", "7", "--out", str(out)]) == 0
    assert out1.read_bytes() == out2.read_bytes()
    from PIL import Image

    assert Image.open(out1).size == (4 * 30 + 2, 4 * 30 + 2)
    strip = tmp_path / "strip.png"
    assert main(["gan", "generate", str(run), "--n", "4", "--seed", "7", "--interpolate", "0", "3", "--steps", "5",
                 "--out", str(strip)]) == 0
    assert Image.open(strip).size == (5 * 30 + 2, 32)
    capsys.readouterr()

    assert main(["gan", "score", str(run / "last.pt"), "--data", "mnist", "--data-root", str(root),
                 "--classifier", str(clf), "--samples", "40", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["fd"] >= 0 and sum(res["histogram"]) == 40
    assert main(["gan", "score", str(run), "--data-root", str(root), "--classifier", str(clf),
                 "--samples", "20"]) == 0
    assert "Frechet distance" in capsys.readouterr().out

    # plain one-line errors
    assert main(["gan", "generate", str(clf), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "not a GAN generator" in err and len(err.strip().splitlines()) == 1
    assert main(["gan", "train", "--data", "mnist", "--data-root", str(root), "--class", "12", "--epochs", "1",
                 "--out", str(tmp_path / "bad"), "--quiet"]) == 2
    assert "classes 0 to 9" in capsys.readouterr().err


def test_load_generator_refuses_other_files(tmp_path):
    with pytest.raises(CheckpointError):
        load_generator(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_generator(tmp_path / "junk.pt")
