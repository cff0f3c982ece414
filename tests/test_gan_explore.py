"""Exploring GANs below the GUI (no display): the nearest-real-image search (``fid.nearest_real_images``,
``gan.find_nearest_real``) and reading a past GAN run back (``gan.open_gan_run``)."""
from __future__ import annotations

import json
import math

import pytest
import torch

from app.core.errors import UserError
from app.core.weights import register_weight
from app.engine.fid import nearest_real_images
from app.engine.gan import OtherTaskRun, describe_checkpoint, describe_score, find_nearest_real, open_gan_run
from helpers import tiny_dataset
from test_gan import tiny_classifier, train_tiny


class FlatFeatures:
    """A stand-in 'classifier' whose features are the pixels: distances are plain to check."""

    def __init__(self):
        self.calls = 0

    def features(self, images):
        self.calls += 1
        return images.float().flatten(1)


def test_nearest_real_images_finds_the_copy_and_keeps_the_features():
    ds = tiny_dataset(40, 8, classes=4, size=28)
    clf = FlatFeatures()
    query = ds.train.images[7:8].clone()
    found = nearest_real_images(clf, ds.train.images, query, k=5, cache_key=("tiny", 40))
    assert found.indices[0] == 7 and found.distances[0] == 0.0
    assert len(found.indices) == 5 and found.distances == sorted(found.distances)
    # the distances are the true pixel distances, and 'typical' a real nearest-neighbour distance
    all_d = torch.cdist(query.float().flatten(1), ds.train.images.float().flatten(1))[0]
    assert found.distances == pytest.approx(sorted(all_d.tolist())[:5], rel=1e-5)
    assert math.isfinite(found.typical) and found.typical > 0
    # the second search with the same key reuses the training features: only the query is computed
    calls = clf.calls
    again = nearest_real_images(clf, ds.train.images, ds.train.images[3], k=1, cache_key=("tiny", 40))
    assert clf.calls == calls + 1 and again.indices == [3]
    # another key (another set): its features are computed anew
    other = tiny_dataset(20, 8, classes=4, size=28, name="other")
    nearest_real_images(clf, other.train.images, query, k=1, cache_key=("other", 20))
    assert clf.calls == calls + 3
    with pytest.raises(ValueError):
        nearest_real_images(clf, ds.train.images[:0], query)


def test_find_nearest_real_uses_the_shipped_classifier(tmp_path, monkeypatch):
    wdir = tmp_path / "weights"
    wdir.mkdir()
    monkeypatch.setenv("VISIONDESK_WEIGHTS", str(wdir))
    ds = tiny_dataset(48, 16, classes=4, size=28)
    meta = {"data": "tiny", "image_shape": [1, 28, 28]}
    with pytest.raises(UserError, match="no shipped classifier for tiny"):
        find_nearest_real(meta, ds.train.images[0], loaded=ds)
    tiny_classifier(wdir / "classifier-tiny.pt", ds)
    register_weight("classifier-tiny", wdir / "classifier-tiny.pt", task="classify", model="mlp", data="tiny",
                    epochs=0, seed=0, command="test")
    near = find_nearest_real(meta, ds.train.images[11], k=4, loaded=ds)
    assert near.indices[0] == 11 and near.distances[0] == pytest.approx(0.0, abs=1e-3)
    assert len(near.images) == 4 and near.images[0].shape == (1, 28, 28)
    assert near.labels[0] == ds.classes[int(ds.train.labels[11])]
    assert "48 training images of the Data tab's tiny" in near.summary()
    assert near.caption(0).startswith(f"{near.labels[0]}\n#11 · ")
    with pytest.raises(UserError, match="another size"):
        find_nearest_real({"data": "tiny", "image_shape": [3, 32, 32]}, ds.train.images[0], loaded=ds)


def test_open_gan_run_reads_back_what_training_showed(tmp_path):
    ds = tiny_dataset(64, 32, classes=4, size=28)
    clf = tiny_classifier(tmp_path / "clf.pt", ds)
    trainer, fin, events, _ = train_tiny(tmp_path, epochs=2, extra={"score": True, "classifier": str(clf),
                                                                    "score_samples": 48, "score_every": 1})
    run = open_gan_run(tmp_path / "run")
    assert run.epochs_done == 2 and run.config.epochs == 2 and run.title == "dcgan on tiny"
    assert run.checkpoint == tmp_path / "run" / "best.pt"
    # 4 batches an epoch: positions 0.25 .. 2.0 in epochs, with their losses
    assert run.batch_x == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
    assert all(math.isfinite(r["d_loss"]) and 0 <= r["d_x"] <= 1 for r in run.batch_rows)
    live = [e for e in events if type(e).__name__ == "EpochEnd"]
    assert [e for e, _ in run.scores] == [1, 2]
    assert [fd for _, fd in run.scores] == pytest.approx([e.metrics["fd"] for e in live], rel=1e-4)
    assert run.last_score["histogram"] == live[-1].details["score"]["histogram"]
    best_epoch, best_fd = min(run.scores, key=lambda s: s[1])
    assert run.score_text == describe_score(2, run.last_score) + f" Best {best_fd:.2f} at epoch {best_epoch}."

    stamped = tmp_path / "2026-12-01T05-43-08_gan_tiny_dcgan" / "best.pt"
    assert describe_checkpoint(stamped, {"data": "tiny", "model": "dcgan"}) == "tiny dcgan, 2026-12-01 05:43 (best.pt)"
    assert describe_checkpoint(run.checkpoint, {"data": "tiny"}) == "run/best.pt"
    with pytest.raises(UserError, match="not a VisionDesk run folder"):
        open_gan_run(tmp_path)
    other = tmp_path / "classify-run"
    other.mkdir()
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**cfg, "task": "classify", "model": "mlp", "extra": {}}))
    with pytest.raises(OtherTaskRun, match="classify run, not a GAN run"):
        open_gan_run(other)
