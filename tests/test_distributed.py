"""Data-parallel training under torchrun: two CPU processes with gloo on this machine."""
import os
import socket
import subprocess
import sys

import pytest
import torch

from app.engine.checkpoint import load_checkpoint
from app.engine.runs import read_metrics

from helpers import write_mnist_root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args, nproc: int, env_home) -> subprocess.CompletedProcess:
    env = dict(os.environ, VISIONDESK_HOME=str(env_home), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    if nproc == 1:
        cmd = [sys.executable, "-m", "app", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1",
               f"--master_port={_free_port()}", "-m", "app", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)


@pytest.mark.slow
def test_two_processes_match_one_and_resume(tmp_path):
    root = tmp_path / "mnist"
    write_mnist_root(root, n_train=256, n_test=64)
    common = ["train", "--data", "mnist", "--data-root", str(root), "--model", "classic-cnn", "--option", "dropout=0",
              "--no-augment", "--batch-size", "32", "--optimizer", "sgd", "--lr", "0.05", "--schedule", "none",
              "--seed", "5", "--device", "cpu"]
    one = _run([*common, "--epochs", "2", "--out", str(tmp_path / "one")], 1, tmp_path)
    assert one.returncode == 0, one.stderr
    two = _run([*common, "--epochs", "1", "--out", str(tmp_path / "two")], 2, tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    # only rank 0 printed and wrote: one summary line, one log start, one metrics row
    assert two.stdout.count("epoch 1/1") == 1
    log = (tmp_path / "two" / "run.log").read_text()
    assert log.count("Started on") == 1
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["batches.csv", "best.pt", "config.json",
                                                                   "confusion.png", "curves.png", "last.pt",
                                                                   "metrics.csv", "run.log"]
    # resume the 2-process run from its own checkpoint for a second epoch
    res = _run(["train", "--resume", str(tmp_path / "two"), "--epochs", "2"], 2, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert [r["epoch"] for r in read_metrics(tmp_path / "two")] == [1.0, 2.0]
    w1 = load_checkpoint(tmp_path / "one" / "last.pt")["task"]["model"]
    w2 = load_checkpoint(tmp_path / "two" / "last.pt")["task"]["model"]
    assert w1.keys() == w2.keys()
    for k in w1:  # same global batch -> the same weights, up to float summation order
        assert torch.allclose(w1[k], w2[k], atol=1e-5, rtol=1e-4), (k, (w1[k] - w2[k]).abs().max())
    # metrics are global figures: same train loss as the single process, within float tolerance
    m1, m2 = read_metrics(tmp_path / "one"), read_metrics(tmp_path / "two")
    assert abs(m1[-1]["train_loss"] - m2[-1]["train_loss"]) < 1e-3
    assert m1[-1]["test_acc"] == m2[-1]["test_acc"]
    # a DDP checkpoint loads in the single-process code path (the GUI's)
    from app.engine.predict import load_classifier

    clf = load_classifier(tmp_path / "two")
    assert clf.input_shape == (1, 28, 28)


@pytest.mark.slow
def test_gan_and_keypoint_tasks_run_data_parallel(tmp_path):
    import numpy as np

    root = tmp_path / "mnist"
    write_mnist_root(root, n_train=64, n_test=32)
    gan = _run(["gan", "train", "--data", "mnist", "--data-root", str(root), "--epochs", "1", "--batch-size", "16",
                "--option", "g_width=8", "--option", "d_width=8", "--option", "latent_dim=16", "--no-score",
                "--device", "cpu", "--quiet", "--out", str(tmp_path / "gan")], 2, tmp_path)
    assert gan.returncode == 0, gan.stderr[-3000:]
    assert (tmp_path / "gan" / "samples" / "epoch_001.png").is_file()
    assert len(read_metrics(tmp_path / "gan")) == 1

    kp = tmp_path / "kp"
    kp.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 32), ("test", 8)):
        pts = (rng.normal(0, 2, (n, 68, 2)) + 16).astype(np.float32)
        np.savez(kp / f"{split}.npz", images=rng.integers(0, 255, (n, 32, 32), dtype=np.uint8), keypoints=pts)
    res = _run(["keypoints", "train", "--data", str(kp), "--model", "kp-cnn4", "--epochs", "1", "--batch-size", "8",
                "--size", "32", "--device", "cpu", "--out", str(tmp_path / "kprun")], 2, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = read_metrics(tmp_path / "kprun")
    assert len(rows) == 1 and rows[0]["test_nme"] > 0
    assert load_checkpoint(tmp_path / "kprun" / "best.pt")["model"]
