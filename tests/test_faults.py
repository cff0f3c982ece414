"""Faults mid-run: the process killed, the disk full, the GPU out of memory, tampered or hostile files.

The promise: the run stops with a plain message saying what to do, nothing already saved is lost or
replaced by a half-written file, and the run can be resumed from the last good epoch.
(Interrupted writes in-process, the basic disk-full write and the first refused pickle are in
tests/test_engine.py; these tests add real processes, the Trainer's whole path, and every loader.)
"""
from __future__ import annotations

import errno
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from app.cli import main
from app.engine.build import make_trainer
from app.engine.checkpoint import DiskFullError, load_checkpoint, save_checkpoint
from app.engine.classification import ClassificationTask
from app.engine.config import TrainConfig
from app.engine.events import EpochEnd, Failed
from app.engine.runs import RunFolder, read_metrics
from app.engine.trainer import Trainer
from app.core.errors import CheckpointError, DataError, ModelError, UserError

from helpers import tiny_dataset, write_mnist_root

REPO = Path(__file__).resolve().parents[1]


def _leftover_temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.tmp"))


def _assert_run_consistent(run: Path, epochs: int) -> None:
    """last.pt loads at ``epochs``; metrics.csv and batches.csv hold each epoch / batch exactly once."""
    ck = load_checkpoint(run / "last.pt")
    assert ck["epoch"] == epochs and ck["batch_in_epoch"] == 0
    assert [int(r["epoch"]) for r in read_metrics(run)] == list(range(1, epochs + 1))
    pairs = [(int(r["epoch"]), int(r["batch"])) for r in read_metrics(run, "batches.csv")]
    assert len(pairs) == len(set(pairs)) and max(e for e, _ in pairs) == epochs
    assert _leftover_temp_files(run) == []


# ---------------------------------------------------------------------------------------------- SIGKILL
def test_sigkill_during_training_then_resume_from_the_last_good_epoch(tmp_path, capsys):
    root = tmp_path / "mnist"
    write_mnist_root(root, n_train=320, n_test=40)
    run = tmp_path / "run"
    cmd = [sys.executable, "-u", "-m", "app", "train", "--data", "mnist", "--data-root", str(root),
           "--model", "mlp", "--epochs", "1000", "--batch-size", "16", "--schedule", "none",
           "--device", "cpu", "--out", str(run), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in proc.stdout:               # one line per finished epoch
            seen.append(line)
            if line.startswith("epoch 2/"):
                break
        assert seen and seen[-1].startswith("epoch 2/"), proc.stderr.read()
        time.sleep(0.05)                       # epoch 3 is under way (batches, evaluation or a save)
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    ck = load_checkpoint(run / "last.pt")      # the next start finds last.pt loadable
    done = ck["epoch"]
    assert done >= 2 and ck["kind"] == "last"
    assert main(["train", "--resume", str(run), "--epochs", str(done + 1), "--quiet"]) == 0
    out = capsys.readouterr()
    assert f"epoch {done + 1}/{done + 1}" in out.out and "Traceback" not in out.err
    _assert_run_consistent(run, done + 1)


_HALF_WRITE_CHILD = textwrap.dedent("""
    import os, sys, time
    import torch
    from app.engine import checkpoint as ck

    path = sys.argv[1]
    ck.save_checkpoint({"version": 1, "blob": torch.full((4_000_000,), 1.0)}, path)   # 16 MB, complete

    real_fdopen = os.fdopen

    class HalfThenHang:
        # the file the atomic write uses: writes half the data, makes it durable, then hangs
        def __init__(self, f):
            self.f = f
        def write(self, data):
            half = len(data) // 2
            self.f.write(data[:half])
            self.f.flush()
            os.fsync(self.f.fileno())
            print("half", half, flush=True)
            time.sleep(120)
            return self.f.write(data[half:])
        def __getattr__(self, name):
            return getattr(self.f, name)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

    os.fdopen = lambda *a, **k: HalfThenHang(real_fdopen(*a, **k))
    ck.save_checkpoint({"version": 2, "blob": torch.full((4_000_000,), 2.0)}, path)
""")


def test_sigkill_half_way_through_a_large_checkpoint_write_keeps_the_previous_file(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / "last.pt"
    proc = subprocess.Popen([sys.executable, "-c", _HALF_WRITE_CHILD, str(path)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("half "), proc.stderr.read()
        half = int(line.split()[1])
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    temps = list(folder.glob(".last.pt.*.tmp"))
    assert len(temps) == 1 and temps[0].stat().st_size == half      # the killed write, half done ...
    ck = load_checkpoint(path)                                       # ... never replaced the good file
    assert ck["version"] == 1 and bool((ck["blob"] == 1.0).all())
    RunFolder(folder).close()                  # the next run start clears the leftover
    assert _leftover_temp_files(folder) == []
    assert load_checkpoint(path)["version"] == 1


# ---------------------------------------------------------------------------------------------- disk full
def _task(ds, **kw):
    args = dict(batch_size=32, optimizer="sgd", lr=0.05, momentum=0.9, schedule="none", epochs=3, augment=False)
    args.update(kw)
    return ClassificationTask(ds, args.pop("model", "softmax"), **args)


@pytest.mark.parametrize("where", ["checkpoint", "plain write"])
def test_disk_full_while_saving_stops_cleanly_and_resume_continues(tmp_path, monkeypatch, where):
    import app.engine.checkpoint as ck_mod
    from app.engine import runs as runs_mod

    ds = tiny_dataset(n_train=64, n_test=16)
    run = tmp_path / "run"
    full = {"on": False}
    real_fsync, real_flush = ck_mod.os.fsync, runs_mod.RunFolder.flush_batches

    def fsync(fd):
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    def flush_batches(self):
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_flush(self)

    if where == "checkpoint":
        monkeypatch.setattr(ck_mod.os, "fsync", fsync)
    else:
        monkeypatch.setattr(runs_mod.RunFolder, "flush_batches", flush_batches)

    def disk_fills_after_epoch_1(ev):
        if isinstance(ev, EpochEnd) and ev.epoch == 1:
            full["on"] = True

    events = []
    tr = Trainer(_task(ds), epochs=3, device="cpu", run_dir=run, callbacks=[events.append, disk_fills_after_epoch_1])
    with pytest.raises(DiskFullError):
        tr.fit()
    failed = [e for e in events if isinstance(e, Failed)]
    assert len(failed) == 1 and failed[0].user_error
    msg = failed[0].message
    assert "disk is full" in msg and "Free some space and resume" in msg
    ck = load_checkpoint(run / "last.pt")            # the previous checkpoint is intact
    assert ck["epoch"] == 1
    assert [int(r["epoch"]) for r in read_metrics(run)] == [1]
    assert _leftover_temp_files(run) == []
    assert "disk is full" in (run / "run.log").read_text()

    full["on"] = False                                # space freed: resume goes on from epoch 1
    fin = Trainer(_task(ds), epochs=3, device="cpu", run_dir=run).fit(resume_from=run / "last.pt")
    assert fin.reason == "completed" and fin.epoch == 3
    _assert_run_consistent(run, 3)


def test_disk_full_from_the_cli_is_one_line(tmp_path, monkeypatch, capsys):
    from app.engine import runs as runs_mod

    root = tmp_path / "mnist"
    write_mnist_root(root, n_train=64, n_test=20)
    real_add = runs_mod.RunFolder.add_epoch

    def add_epoch(self, row):
        if row["epoch"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_add(self, row)

    monkeypatch.setattr(runs_mod.RunFolder, "add_epoch", add_epoch)
    rc = main(["train", "--data", "mnist", "--data-root", str(root), "--model", "softmax", "--epochs", "3",
               "--batch-size", "32", "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "disk is full" in err and "resume" in err
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 1


def _can_mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(where)], capture_output=True)
    return ok


def test_disk_full_on_a_real_small_filesystem(tmp_path):
    """A real full disk (a 3.5 MB tmpfs): every write path at once, not just the patched ones."""
    mnt = tmp_path / "small"
    if not _can_mount_tmpfs(mnt):
        pytest.skip("needs root and tmpfs mounts (the simulated ENOSPC tests above always run)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3584k", "tmpfs", str(mnt)], check=True)
    try:
        ds = tiny_dataset(n_train=64, n_test=16)
        run = mnt / "run"
        events = []
        # mlp: best.pt ~0.9 MB, last.pt ~1.9 MB (weights + momentum): epoch 1 fits, epoch 2's saves do not
        tr = Trainer(_task(ds, model="mlp"), epochs=3, device="cpu", run_dir=run, callbacks=[events.append])
        with pytest.raises(DiskFullError):
            tr.fit()
        failed = [e for e in events if isinstance(e, Failed)][0]
        assert failed.user_error and "disk is full" in failed.message and "resume" in failed.message
        assert load_checkpoint(run / "last.pt")["epoch"] == 1
        assert _leftover_temp_files(run) == []
        subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)   # space freed
        fin = Trainer(_task(ds, model="mlp"), epochs=3, device="cpu", run_dir=run).fit(resume_from=run / "last.pt")
        assert fin.reason == "completed"
        _assert_run_consistent(run, 3)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


# ---------------------------------------------------------------------------------------------- out of memory
def test_out_of_memory_keeps_the_checkpoint_and_frees_the_failed_step(tmp_path):
    ds = tiny_dataset(n_train=64, n_test=16)
    task = _task(ds)
    run = tmp_path / "run"
    events = []
    tr = Trainer(task, epochs=3, device="cpu", run_dir=run, callbacks=[events.append])
    real_step = task.train_step
    big = {}

    def step(batch, trainer):
        if trainer.epoch >= 1:                 # epoch 2: the "GPU" runs out mid-step
            activations = torch.ones(16_000_000)                 # 64 MB held by this frame
            big["ref"] = weakref.ref(activations)
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(batch, trainer)

    task.train_step = step
    freed_when_released = []

    def release_memory():
        gc.collect()
        freed_when_released.append(big["ref"]() is None)

    tr.release_memory = release_memory
    try:
        tr.fit()
    except torch.OutOfMemoryError:
        pass
    failed = [e for e in events if isinstance(e, Failed)][0]
    assert failed.user_error and "smaller batch size" in failed.message and "checkpoint is kept" in failed.message
    # the step's tensors were unreachable when the trainer emptied the cache (not kept by the traceback)
    assert freed_when_released == [True]
    assert load_checkpoint(run / "last.pt")["epoch"] == 1
    # resuming with a smaller batch works from the kept checkpoint
    fin = Trainer(_task(ds, batch_size=16), epochs=3, device="cpu", run_dir=run).fit(resume_from=run / "last.pt")
    assert fin.reason == "completed" and fin.epoch == 3


# ---------------------------------------------------------------------------------------------- shipped weights
def test_shipped_weights_are_checked_against_the_manifest(tmp_path, monkeypatch):
    from app.engine.keypoints import load_keypoint_model
    from app.models import build_model
    from app.core.weights import register_weight, verified_weight_path

    wdir = tmp_path / "weights"
    wdir.mkdir()
    monkeypatch.setenv("VISIONDESK_WEIGHTS", str(wdir))
    net = build_model("kp-cnn4", 1, (32, 32), 2 * 5)
    meta = {"task": "keypoints", "model": "kp-cnn4", "model_options": {}, "input_size": 32, "num_points": 5,
            "mean": [0.4], "std": [0.25]}
    save_checkpoint({"model": net.state_dict(), "meta": meta}, wdir / "kp-test.pt")
    register_weight("kp-test", wdir / "kp-test.pt", task="keypoints", model="kp-cnn4", data="generated",
                    epochs=0, seed=0, command="test")
    assert verified_weight_path("kp-test") == wdir / "kp-test.pt"
    assert load_keypoint_model("kp-test").num_points == 5

    data = bytearray((wdir / "kp-test.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF                     # one flipped byte: damaged or swapped
    (wdir / "kp-test.pt").write_bytes(bytes(data))
    for load in (verified_weight_path, load_keypoint_model):
        with pytest.raises(CheckpointError, match="does not match its checksum.*not loaded"):
            load("kp-test")

    (wdir / "kp-test.pt").unlink()
    with pytest.raises(CheckpointError, match="missing"):
        verified_weight_path("kp-test")
    (wdir / "manifest.json").write_text("{ not json")
    with pytest.raises(CheckpointError, match="manifest.json is damaged"):
        verified_weight_path("kp-test")


def test_the_weights_that_ship_match_their_manifest():
    from app.core.weights import list_weights, verified_weight_path, weights_dir

    entries = list_weights()
    if not entries:
        pytest.skip(f"no shipped weights in {weights_dir()}")
    for name, entry in entries.items():
        path = verified_weight_path(name)
        assert path.stat().st_size == entry.get("bytes", path.stat().st_size), name


# ---------------------------------------------------------------------------------------------- hostile pickles
class _Evil:
    """Unpickling this creates the marker file: what a booby-trapped model file would do."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil_file(path: Path, marker: Path, shape: str = "checkpoint") -> Path:
    evil = _Evil()
    evil.marker = str(marker)
    obj = {"format": "visiondesk-checkpoint-1", "kind": "last", "model": {"w": evil}, "meta": {"model": "x"},
           "task": {"model": evil}, "epoch": 1}
    if shape == "state_dict":
        obj = {"conv1.weight": evil}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def _resume(path: Path):
    ds = tiny_dataset(n_train=16, n_test=8)
    return Trainer(_task(ds), epochs=2, device="cpu").fit(resume_from=path)


def _cli_evaluate(path: Path):
    rc = main(["evaluate", str(path)])
    assert rc == 2
    raise UserError("refused by the CLI")


def _pretrained(arch: str):
    from app.models import build_model

    if arch == "kp-resnet18":
        return build_model("kp-resnet18", 1, (64, 64), 10, pretrained=True)
    return build_model("tv-resnet18", 3, (32, 32), 10, pretrained=True)


def _load_classifier(path: Path):
    from app.engine.predict import load_classifier

    return load_classifier(path)


def _load_keypoint_model(path: Path):
    from app.engine.keypoints import load_keypoint_model

    return load_keypoint_model(path)


def _load_generator(path: Path):
    from app.engine.gan import load_generator

    return load_generator(path)


LOADERS = {
    "load_classifier (Try it, evaluate, export)": _load_classifier,
    "load_keypoint_model (Keypoints tab)": _load_keypoint_model,
    "load_generator (GAN tab)": _load_generator,
    "Trainer resume (continue a run)": _resume,
    "visiondesk evaluate": _cli_evaluate,
}


@pytest.mark.parametrize("loader", list(LOADERS))
def test_a_booby_trapped_checkpoint_is_refused_by_every_loader(tmp_path, loader, capsys):
    marker = tmp_path / "pwned"
    path = _evil_file(tmp_path / "run" / "best.pt", marker)
    with pytest.raises(UserError):
        LOADERS[loader](path)
    assert not marker.exists()
    if loader == "visiondesk evaluate":
        err = capsys.readouterr().err
        assert "was refused" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("arch", ["tv-resnet18", "kp-resnet18"])
def test_a_booby_trapped_pretrained_hub_file_is_refused(tmp_path, arch):
    from app.models.zoo import pretrained_weights_path

    marker = tmp_path / "pwned"
    _evil_file(pretrained_weights_path("resnet18"), marker, shape="state_dict")   # under the test's TORCH_HOME
    with pytest.raises(ModelError, match="cannot be read"):
        _pretrained(arch)
    assert not marker.exists()


def test_a_booby_trapped_npz_is_refused(tmp_path):
    from app.data.keypoints import load_keypoints

    marker = tmp_path / "pwned"
    evil = _Evil()
    evil.marker = str(marker)
    images = np.empty(2, dtype=object)
    images[0] = evil
    np.savez(tmp_path / "faces.npz", images=images, keypoints=np.zeros((2, 3, 2)))
    with pytest.raises(DataError, match="not a readable .npz"):
        load_keypoints(tmp_path / "faces.npz")
    assert not marker.exists()


def test_a_damaged_config_next_to_a_good_checkpoint_cannot_resume(tmp_path, capsys):
    """A run folder whose config.json was hand-edited into nonsense: one line, nothing overwritten."""
    cfg = TrainConfig(data="tiny", model="softmax", epochs=1, batch_size=32, schedule="none", device="cpu")
    fin = make_trainer(cfg, out=tmp_path / "run", dataset=tiny_dataset(n_train=32, n_test=8)).fit()
    run = Path(fin.run_dir)
    before = (run / "last.pt").read_bytes()
    raw = json.loads((run / "config.json").read_text())
    raw["batch_size"] = "lots"
    (run / "config.json").write_text(json.dumps(raw))
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "'batch_size' must be a whole number" in err and len(err.strip().splitlines()) == 1
    assert (run / "last.pt").read_bytes() == before
