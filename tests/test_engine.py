import errno
import json
import threading
from pathlib import Path

import pytest
import torch

from app.engine.build import make_trainer
from app.engine.checkpoint import DiskFullError, load_checkpoint, save_checkpoint
from app.engine.classification import ClassificationTask
from app.engine.config import TrainConfig
from app.engine.events import BatchEnd, EpochEnd, Failed, Finished, RunStarted
from app.engine.runs import list_runs, read_metrics
from app.engine.trainer import Control, Trainer
from app.core.errors import CheckpointError, UserError

from helpers import tiny_dataset


def _task(ds, **kw):
    args = dict(batch_size=32, optimizer="sgd", lr=0.05, momentum=0.9, schedule="none", epochs=2, augment=False)
    args.update(kw)
    return ClassificationTask(ds, kw.pop("model", "classic-cnn"), **{k: v for k, v in args.items() if k != "model"})


def test_loss_falls_and_accuracy_rises_on_separable_data(tmp_path):
    ds = tiny_dataset()
    events = []
    tr = Trainer(_task(ds, epochs=3, optimizer="adam", lr=0.01), epochs=3, device="cpu", seed=0, run_dir=tmp_path / "run",
                 callbacks=[events.append])
    fin = tr.fit()
    assert isinstance(fin, Finished) and fin.reason == "completed" and fin.epoch == 3
    batch_losses = [e.metrics["loss"] for e in events if isinstance(e, BatchEnd)]
    assert len(batch_losses) == 3 * (256 // 32)
    ends = [e for e in events if isinstance(e, EpochEnd)]
    train_losses = [e.metrics["train_loss"] for e in ends]
    assert train_losses[-1] < 0.3 * train_losses[0]
    assert sum(batch_losses[-8:]) / 8 < 0.3 * sum(batch_losses[:4]) / 4
    assert ends[-1].metrics["test_acc"] >= 0.9
    cm = ends[-1].details["confusion"]
    assert sum(map(sum, cm)) == 64 and len(cm) == 4
    assert len(ends[-1].details["per_class_acc"]) == 4
    worst = ends[-1].details["worst"]
    assert worst and all(0 <= w["index"] < 64 for w in worst)
    # run folder contents
    run = tmp_path / "run"
    for name in ("config.json", "metrics.csv", "batches.csv", "best.pt", "last.pt", "run.log"):
        assert (run / name).is_file(), name
    rows = read_metrics(run)
    assert [r["epoch"] for r in rows] == [1.0, 2.0, 3.0]
    for col in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"):
        assert col in rows[0]
    assert len(read_metrics(run, "batches.csv")) == len(batch_losses)


def _weights(run_dir):
    return load_checkpoint(Path(run_dir) / "last.pt")["task"]["model"]


def test_resume_gives_the_same_weights_as_one_go(tmp_path):
    ds = tiny_dataset()
    kw = dict(model="classic-cnn", epochs=2, schedule="onecycle", augment=True)  # dropout + augmentation use RNG
    Trainer(_task(ds, **kw), epochs=2, device="cpu", seed=7, run_dir=tmp_path / "a").fit()
    Trainer(_task(ds, **kw), epochs=1, device="cpu", seed=7, run_dir=tmp_path / "b").fit()
    Trainer(_task(ds, **kw), epochs=2, device="cpu", seed=7, run_dir=tmp_path / "b").fit(resume_from=tmp_path / "b" / "last.pt")
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    assert [r["epoch"] for r in read_metrics(tmp_path / "b")] == [1.0, 2.0]


def test_stop_mid_epoch_saves_and_resume_matches(tmp_path):
    ds = tiny_dataset()
    kw = dict(model="classic-cnn", epochs=2, schedule="none", augment=True)
    Trainer(_task(ds, **kw), epochs=2, device="cpu", seed=3, run_dir=tmp_path / "a").fit()

    control = Control()

    def stop_after_batch_3(ev):
        if isinstance(ev, BatchEnd) and ev.epoch == 2 and ev.batch == 3:
            control.stop()

    tr = Trainer(_task(ds, **kw), epochs=2, device="cpu", seed=3, run_dir=tmp_path / "b", control=control,
                 callbacks=[stop_after_batch_3], flush_seconds=0.0)
    fin = tr.fit()
    assert fin.reason == "stopped" and fin.epoch == 1
    ck = load_checkpoint(tmp_path / "b" / "last.pt")
    assert ck["epoch"] == 1 and ck["batch_in_epoch"] == 3
    Trainer(_task(ds, **kw), epochs=2, device="cpu", seed=3, run_dir=tmp_path / "b").fit(resume_from=tmp_path / "b" / "last.pt")
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k


def test_pause_blocks_between_batches_and_resume_continues(tmp_path):
    ds = tiny_dataset(n_train=128)
    control = Control()
    seen = []
    paused_at = threading.Event()

    def cb(ev):
        if isinstance(ev, BatchEnd):
            seen.append(ev.batch)
            if ev.batch == 1 and ev.epoch == 1:
                control.pause()
                paused_at.set()

    tr = Trainer(_task(ds, epochs=1), epochs=1, device="cpu", control=control, callbacks=[cb], flush_seconds=0.0)
    result = {}
    th = threading.Thread(target=lambda: result.setdefault("fin", tr.fit()))
    th.start()
    assert paused_at.wait(20)
    th.join(0.5)
    assert th.is_alive() and control.paused  # held by the pause
    n_while_paused = len(seen)
    control.resume()
    th.join(30)
    assert not th.is_alive()
    assert result["fin"].reason == "completed" and len(seen) > n_while_paused


def test_interrupted_checkpoint_write_keeps_previous_file(tmp_path, monkeypatch):
    folder = tmp_path / "ck"
    path = folder / "last.pt"
    save_checkpoint({"format": "x", "value": torch.tensor([1.0])}, path)
    before = path.read_bytes()

    import app.engine.checkpoint as ck

    real_fsync = ck.os.fsync

    def crash(fd):
        raise KeyboardInterrupt  # e.g. the process is interrupted mid-write

    monkeypatch.setattr(ck.os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"format": "x", "value": torch.tensor([2.0])}, path)
    monkeypatch.setattr(ck.os, "fsync", real_fsync)
    assert path.read_bytes() == before
    assert [p.name for p in folder.iterdir()] == ["last.pt"]  # no temp file left behind
    assert load_checkpoint(path)["value"].item() == 1.0


def test_disk_full_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"v": torch.tensor([1.0])}, path)
    import app.engine.checkpoint as ck

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ck.os, "fsync", full)
    with pytest.raises(DiskFullError, match="disk is full"):
        save_checkpoint({"v": torch.tensor([2.0])}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["v"].item() == 1.0


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    bad = tmp_path / "evil.pt"
    torch.save({"model": Evil()}, bad)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(bad)
    assert not marker.exists()


def test_garbage_checkpoint_gives_clear_error(tmp_path):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)


def test_failure_event_and_oom_message(tmp_path):
    ds = tiny_dataset(n_train=64)
    task = _task(ds, epochs=1)
    events = []
    tr = Trainer(task, epochs=1, device="cpu", run_dir=tmp_path / "r", callbacks=[events.append])

    def oom(batch, trainer):
        raise torch.OutOfMemoryError("CUDA out of memory")

    task.train_step = oom
    with pytest.raises(torch.OutOfMemoryError):
        tr.fit()
    failed = [e for e in events if isinstance(e, Failed)]
    assert failed and "smaller batch" in failed[0].message and failed[0].user_error
    assert "out of memory" in (tmp_path / "r" / "run.log").read_text().lower()


def test_config_validation_messages():
    with pytest.raises(UserError, match="'epochs' must be a whole number"):
        TrainConfig.from_dict({"epochs": "ten"})
    with pytest.raises(UserError, match="unknown setting"):
        TrainConfig.from_dict({"epochz": 3})
    with pytest.raises(UserError, match="learning rate"):
        TrainConfig.from_dict({"lr": -1})
    with pytest.raises(UserError, match="JSON object"):
        TrainConfig.from_dict([1, 2])
    cfg = TrainConfig.from_dict({"lr": 1, "epochs": 2})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg


@pytest.mark.parametrize("schedule", ["none", "step", "cosine", "onecycle"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_optimizers_and_schedules_train(schedule, optimizer):
    ds = tiny_dataset(n_train=64, n_test=16)
    lr = 0.05 if optimizer == "sgd" else 0.003
    fin = Trainer(_task(ds, epochs=1, optimizer=optimizer, schedule=schedule, lr=lr, model="softmax"),
                  epochs=1, device="cpu").fit()
    assert fin.reason == "completed" and fin.metrics["train_loss"] == fin.metrics["train_loss"]


def test_make_trainer_from_config_writes_reloadable_config(tmp_path):
    cfg = TrainConfig(data="tiny", model="softmax", epochs=1, batch_size=32, schedule="none")
    events = []
    tr = make_trainer(cfg, out=tmp_path / "run", dataset=tiny_dataset(n_train=64, n_test=16), callbacks=[events.append])
    tr.fit()
    assert TrainConfig.load(tmp_path / "run" / "config.json") == cfg
    started = [e for e in events if isinstance(e, RunStarted)][0]
    assert started.device.startswith("CPU")
    runs = list_runs(tmp_path)
    assert len(runs) == 1 and runs[0].model == "softmax" and runs[0].has_best


def test_onecycle_on_a_run_of_very_few_steps():
    ds = tiny_dataset(n_train=64, n_test=16)
    fin = Trainer(_task(ds, epochs=1, schedule="onecycle", batch_size=64, model="softmax"), epochs=1, device="cpu").fit()
    assert fin.reason == "completed"
