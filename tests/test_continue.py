"""Continuing a run, through the command line, for every schedule (issues 13 and 16).

Every schedule x {the same epochs after a mid-epoch stop (exact resume), more epochs after a finished run
(with a new batch size and learning rate), more epochs after a mid-epoch stop}; a failed start leaves the
run folder byte for byte as it was; --resume refuses what cannot change; a damaged batches.csv is skipped;
SIGTERM / SIGINT during epoch 1 save a resumable state; a non-finite loss never becomes best; keypoint
evaluation of one file scores the whole file.

Stops mid-epoch are real signals: the test raises SIGINT in the training process at a chosen step, as a
person pressing Ctrl-C would, and the command line's handler asks the trainer to stop.
"""
from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from app.cli import main
from app.engine.checkpoint import load_checkpoint
from app.engine.classification import ClassificationTask
from app.engine.runs import read_metrics

from helpers import write_mnist_root

REPO = Path(__file__).resolve().parents[1]
SCHEDULES = ["none", "step", "cosine", "onecycle"]
LR = 0.05
BATCHES = 6                     # 96 training images in batches of 16


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    write_mnist_root(root, n_train=96, n_test=32)
    return root


def _train(root, out, schedule, epochs, *extra):
    return main(["train", "--data", "mnist", "--data-root", str(root), "--model", "mlp", "--epochs", str(epochs),
                 "--batch-size", "16", "--lr", str(LR), "--schedule", schedule, "--seed", "5", "--device", "cpu",
                 "--out", str(out), "--quiet", *extra])


def _ctrl_c_at_step(monkeypatch, step: int):
    """Press Ctrl-C (a real SIGINT to this process) right after global training step ``step``."""
    real = ClassificationTask.train_step

    def train_step(self, batch, trainer):
        out = real(self, batch, trainer)
        if trainer.step + 1 == step:
            signal.raise_signal(signal.SIGINT)
        return out

    monkeypatch.setattr(ClassificationTask, "train_step", train_step)
    return lambda: monkeypatch.setattr(ClassificationTask, "train_step", real)


def _weights(run):
    return load_checkpoint(Path(run) / "last.pt")["task"]["model"]


def _pairs(run):
    return [(int(r["epoch"]), int(r["batch"])) for r in read_metrics(run, "batches.csv")]


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "run.log"}


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("mode", ["same-epochs", "more-epochs", "more-after-mid-epoch-stop"])
def test_continue_every_schedule(mnist_root, tmp_path, monkeypatch, capsys, schedule, mode):
    run = tmp_path / "run"
    if mode == "same-epochs":
        # stopped by Ctrl-C in the middle of epoch 1, then resumed with the plan unchanged: the weights are
        # those of the same run trained in one go (the schedule's position is restored exactly)
        assert _train(mnist_root, tmp_path / "one-go", schedule, 2) == 0
        undo = _ctrl_c_at_step(monkeypatch, 4)
        assert _train(mnist_root, run, schedule, 2) == 128 + signal.SIGINT
        undo()
        err = capsys.readouterr().err
        assert "SIGINT" in err and "resumable" in err and f"--resume {run}" in err
        ck = load_checkpoint(run / "last.pt")
        assert ck["epoch"] == 0 and ck["batch_in_epoch"] == 4
        assert "SIGINT received" in (run / "run.log").read_text()
        assert main(["train", "--resume", str(run), "--quiet"]) == 0
        one, resumed = _weights(tmp_path / "one-go"), _weights(run)
        for k in one:
            assert torch.allclose(one[k], resumed[k], atol=1e-6), k
        assert [int(r["epoch"]) for r in read_metrics(run)] == [1, 2]
        assert _pairs(run) == [(e, b) for e in (1, 2) for b in range(1, BATCHES + 1)]
        return

    if mode == "more-epochs":
        # a finished 1-epoch run continued to 3 epochs with a new batch size and learning rate (honoured)
        assert _train(mnist_root, run, schedule, 1) == 0
        assert main(["train", "--resume", str(run), "--epochs", "3", "--batch-size", "32", "--lr", str(LR / 2),
                     "--quiet"]) == 0
        cfg = json.loads((run / "config.json").read_text())
        assert (cfg["epochs"], cfg["batch_size"], cfg["lr"]) == (3, 32, LR / 2)
        pairs = _pairs(run)
        assert pairs == [(1, b) for b in range(1, BATCHES + 1)] + [(e, b) for e in (2, 3) for b in (1, 2, 3)]
        lrs = [r["lr"] for r in read_metrics(run)]
        if schedule in ("none", "step"):
            assert lrs[1:] == [pytest.approx(LR / 2)] * 2
        else:
            # a fresh schedule over the added epochs (a warm restart at the new rate), annealing again
            assert lrs[0] < 0.01 * LR and LR / 20 < lrs[1] <= LR / 2 and lrs[2] < lrs[1]
        return

    # stopped by Ctrl-C during epoch 1 of a 2-epoch plan, then continued to 3 epochs
    undo = _ctrl_c_at_step(monkeypatch, 3)
    assert _train(mnist_root, run, schedule, 2) == 128 + signal.SIGINT
    undo()
    assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 0
    assert [int(r["epoch"]) for r in read_metrics(run)] == [1, 2, 3]
    assert _pairs(run) == [(e, b) for e in (1, 2, 3) for b in range(1, BATCHES + 1)]
    ck = load_checkpoint(run / "last.pt")
    assert ck["epoch"] == 3 and ck["batch_in_epoch"] == 0
    assert json.loads((run / "config.json").read_text())["epochs"] == 3
    if schedule in ("cosine", "onecycle"):   # went on from its learning rate and annealed over 3 epochs
        assert read_metrics(run)[-1]["lr"] < 0.01 * LR


def test_a_failed_start_leaves_the_run_folder_as_it_was(mnist_root, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    assert _train(mnist_root, run, "onecycle", 1) == 0
    (run / ".last.pt.stale.tmp").write_bytes(b"left by a killed process")
    before, log_before = _hashes(run), (run / "run.log").read_text()

    # 1. the first step of the continued run runs out of memory (a bigger batch size, say)
    def out_of_memory(self, batch, trainer):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(ClassificationTask, "train_step", out_of_memory)
    assert main(["train", "--resume", str(run), "--epochs", "4", "--batch-size", "48", "--quiet"]) != 0
    monkeypatch.undo()
    assert _hashes(run) == before
    assert (run / "run.log").read_text().startswith(log_before)
    # 2. a checkpoint that does not fit the model
    (tmp_path / "other").mkdir()
    (run / "last.pt").rename(tmp_path / "other" / "last.pt")
    torch.save({"format": "visiondesk-checkpoint-1", "task": {"model": {}}, "epoch": 1}, run / "last.pt")
    hashes = _hashes(run)
    assert main(["train", "--resume", str(run), "--epochs", "4", "--quiet"]) == 2
    assert _hashes(run) == hashes
    capsys.readouterr()
    # with its own last.pt back, it continues (and the stale temporary file goes)
    (tmp_path / "other" / "last.pt").replace(run / "last.pt")
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    assert not list(run.glob(".*.tmp")) and [int(r["epoch"]) for r in read_metrics(run)] == [1, 2]


@pytest.mark.parametrize("extra, needle", [
    (["--epochs", "0"], "at least 1"),
    (["--epochs", "-7"], "at least 1"),
    (["--epochs", "1"], "at least 2"),
    (["--model", "softmax"], "--model"),
    (["--data", "fashion-mnist-sample"], "--data"),
    (["--out", "elsewhere"], "--out"),
])
def test_resume_refuses_in_one_line(mnist_root, tmp_path, monkeypatch, capsys, extra, needle):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    assert _train(mnist_root, run, "cosine", 2) == 0
    before = _hashes(run)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), *extra]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err
    assert _hashes(run) == before and not (tmp_path / "elsewhere").exists()


def test_continue_config_adds_to_the_plan_and_never_removes(mnist_root, tmp_path, monkeypatch):
    from app.engine.build import continue_config
    from app.core.errors import UserError

    run = tmp_path / "run"
    undo = _ctrl_c_at_step(monkeypatch, 2)
    assert _train(mnist_root, run, "onecycle", 2) == 128 + signal.SIGINT     # "0 of 2"
    undo()
    assert continue_config(run, 1)[0].epochs == 3                           # "0 of 3", not "0 of 1"
    assert continue_config(run, 0)[0].epochs == 2
    cfg, last = continue_config(run, 2, batch_size=8, lr=0.01, device="cpu")
    assert (cfg.epochs, cfg.batch_size, cfg.lr, last.name) == (4, 8, 0.01, "last.pt")
    for bad in (-1, 1.5):
        with pytest.raises(UserError):
            continue_config(run, bad)
    with pytest.raises(UserError, match="model"):
        continue_config(run, 1, model="softmax")


def test_a_damaged_batches_csv_is_skipped_and_said(mnist_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(mnist_root, run, "none", 1) == 0
    with open(run / "batches.csv", "ab") as f:
        f.write(b"1,not-a-number,0.5\n\x00\x00garbage\xff\xfe,,,,,,,,\n3\n")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "damaged row" in err and "Traceback" not in err
    assert "damaged row" in (run / "run.log").read_text()
    assert _pairs(run) == [(e, b) for e in (1, 2) for b in range(1, BATCHES + 1)]


def test_sigterm_and_sigint_during_epoch_1_save_a_resumable_state(tmp_path, capsys):
    """Two real training processes (run side by side to share the start-up time): one gets SIGTERM, the
    other SIGINT (Ctrl-C), once their first step is done; both save last.pt in epoch 1, say so, exit
    128 + the signal, and resume to the end."""
    import os

    root = tmp_path / "mnist"
    n_train = 2000
    write_mnist_root(root, n_train=n_train, n_test=20)
    procs = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        run = tmp_path / signal.Signals(sig).name
        cmd = [sys.executable, "-m", "app", "train", "--data", "mnist", "--data-root", str(root), "--model", "mlp",
               "--epochs", "1", "--batch-size", "4", "--schedule", "onecycle", "--device", "cpu", "--out", str(run),
               "--quiet"]
        procs[sig] = (run, subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                            env={**os.environ, "OMP_NUM_THREADS": "1"}))
    try:
        results, early = {}, {}
        deadline = time.monotonic() + 180
        waiting = dict(procs)
        while waiting and time.monotonic() < deadline:
            for sig, (run, proc) in list(waiting.items()):
                log = run / "run.log"
                if proc.poll() is not None or (log.is_file() and "Started on" in log.read_text()):
                    early[sig] = proc.poll()              # None: still training when the signal went out
                    proc.send_signal(sig)                     # the first step is done: epoch 1 is under way
                    del waiting[sig]
            time.sleep(0.01)
        for sig, (run, proc) in procs.items():
            results[sig] = (early.get(sig, "never signalled"), *proc.communicate(timeout=60))
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for sig, (run, proc) in procs.items():
        early, out, err = results[sig]
        assert early is None, f"finished before the signal: {err}"
        assert proc.returncode == 128 + sig, err
        assert "resumable" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert f"{signal.Signals(sig).name} received" in (run / "run.log").read_text()
        ck = load_checkpoint(run / "last.pt")
        assert ck["epoch"] == 0 and ck["batch_in_epoch"] > 0           # stopped during epoch 1
        assert not list(run.glob(".*.tmp"))
        (run / ".last.pt.killed.tmp").write_bytes(b"x" * 1000)          # as a SIGKILL mid-write would leave
        assert main(["train", "--resume", str(run), "--quiet"]) == 0
        assert _pairs(run) == [(1, b) for b in range(1, n_train // 4 + 1)]
        assert load_checkpoint(run / "last.pt")["epoch"] == 1 and not list(run.glob(".*.tmp"))


@pytest.mark.parametrize("weight_decay", ["1e30", "nan"])
def test_a_non_finite_loss_stops_and_never_becomes_best(mnist_root, tmp_path, capsys, weight_decay):
    run = tmp_path / "run"
    rc = main(["train", "--data", "mnist", "--data-root", str(mnist_root), "--model", "mlp", "--epochs", "3",
               "--batch-size", "16", "--weight-decay", weight_decay, "--device", "cpu", "--out", str(run)])
    out, err = capsys.readouterr()
    assert rc == 2 and "*best*" not in out
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("Training on")]
    assert len(lines) == 1 and "Traceback" not in err
    assert not (run / "best.pt").exists()


def _write_faces(path, n, size=32, p=68, seed=0):
    rng = np.random.default_rng(seed)
    ang = np.linspace(0, 2 * np.pi, p, endpoint=False)
    base = np.stack([np.cos(ang), np.sin(ang)], 1) * size * 0.25 + (size - 1) / 2
    pts = (base[None] + rng.normal(0, size * 0.03, (n, p, 2))).astype(np.float32)
    np.savez(path, images=rng.integers(0, 255, (n, size, size), dtype=np.uint8), keypoints=pts)


def test_keypoints_non_finite_loss_and_evaluate_scores_the_whole_file(tmp_path, capsys):
    data = tmp_path / "faces.npz"
    _write_faces(data, 40)
    args = ["keypoints", "train", "--data", str(data), "--model", "kp-cnn4", "--epochs", "1", "--batch-size", "8",
            "--device", "cpu", "--quiet", "--option", "width=8"]
    assert main([*args, "--out", str(tmp_path / "nan"), "--beta", "nan"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "nan" / "best.pt").exists()

    run = tmp_path / "run"
    assert main([*args, "--out", str(run)]) == 0
    other = tmp_path / "other.npz"
    _write_faces(other, 30, seed=1)
    capsys.readouterr()
    assert main(["keypoints", "evaluate", str(run), "--data", str(other), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 30
    assert main(["keypoints", "evaluate", str(run), "--data", str(other)]) == 0
    assert "30 faces" in capsys.readouterr().out
    # keypoint runs continue the same way (one-cycle, more epochs)
    assert main(["keypoints", "train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    assert [int(r["epoch"]) for r in read_metrics(run)] == [1, 2]
