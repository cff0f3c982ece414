"""One prepared check of every CUDA path of VisionDesk, printing one JSON document.

    python bench/gpu_check.py --device cuda > gpu.json      # on a GPU machine, under 5 minutes
    python bench/gpu_check.py --device cpu --quick           # tiny sizes on the CPU, under a minute

The seven checks, each in its own Python process with a hard time limit (a failing, crashing or
hanging check records its error and the others still run):

1. ``mnist_99``: classic-cnn on MNIST through ``visiondesk train`` (``app.cli.main``) with the fastest
   settings the engine offers (data resident on the device, bf16 AMP, batch 512, one-cycle):
   training seconds until the test accuracy first reaches 99 %.
2. ``engine_vs_bare``: resnet18 on 32 px images, the engine (Trainer + ClassificationTask) against a bare
   PyTorch loop, same model, data, batch, optimizer and precision, interleaved repeats, timed with
   CUDA events over a whole epoch after a warm-up epoch: ratio of images/s (target >= 0.97).
3. ``amp``: 50 steps in fp32, bf16 and fp16 (with the grad scaler) through the engine: no NaN, and
   the mean loss of the last 10 steps within ``AMP_TOLERANCE`` of fp32's.
4. ``gui_worker``: the GUI's ``TrainingRunner`` (offscreen Qt): start, pause, resume, stop; the
   event-loop p99 delay; ``torch.cuda.memory_allocated()`` after Stop against its value before Start.
5. ``keypoints_gan``: the live keypoint pipeline on the device over the face video (frames/s) and the
   model alone; one GAN epoch on the shipped Fashion-MNIST sample through ``visiondesk gan train``.
6. ``out_of_memory``: a batch far too large (on CUDA: a real allocator failure under a capped memory
   fraction): one plain line and exit status 2 from the CLI, memory given back, and the next training
   in the same process completes.
7. ``torchrun``: ``torchrun --nproc_per_node=1`` (NCCL on CUDA, gloo on the CPU) trains one epoch.

Every check reports ``status`` (pass / fail / skipped, with ``error`` or ``reason``), ``seconds`` (wall
time including its process start) and its figures. With ``--quick`` the speed targets are reported
(``meets_target``) but only correctness decides the status: tiny sizes on a shared CPU say nothing
about speed. When the data folder (``../shared/data``) is missing, the checks use generated data and
say so (``data``); the face video part reports ``skipped: no data``.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "data"
MARK = "GPU_CHECK_RESULT "
CHECKS = ("mnist_99", "engine_vs_bare", "amp", "gui_worker", "keypoints_gan", "out_of_memory", "torchrun")
# hard wall-clock limits per check (seconds, including the check's own process start); full mode
# adds up to under 5 minutes even if every check runs into its limit
LIMITS = {"mnist_99": 45, "engine_vs_bare": 50, "amp": 25, "gui_worker": 40, "keypoints_gan": 50,
          "out_of_memory": 30, "torchrun": 55}
QUICK_LIMITS = {name: 150 for name in CHECKS}   # generous: a shared CPU can be many times slower
AMP_TOLERANCE = {"abs": 0.05, "rel": 0.10}     # |loss_amp - loss_fp32| <= abs + rel * loss_fp32
MEMORY_TOLERANCE = {"rel": 0.01, "abs_bytes": 1 << 20}


def training_runner_class():
    """The GUI's training bridge (the one place this script imports it)."""
    from app.ui.session import TrainingRunner

    return TrainingRunner


# ============================================================================================ helpers
class Skip(Exception):
    """The whole check cannot run here; the message says why."""


def cuda(device) -> bool:
    return getattr(device, "type", str(device)) == "cuda"


def sync(device) -> None:
    import torch

    if cuda(device):
        torch.cuda.synchronize()


def finite(*values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def mem_close(after: int, before: int) -> bool:
    return abs(after - before) <= max(MEMORY_TOLERANCE["rel"] * before, MEMORY_TOLERANCE["abs_bytes"])


def generated_images(n: int, channels: int = 1, size: int = 28, classes: int = 10, seed: int = 0):
    """uint8 images where class k has a bright square at its own place on a grid, plus noise: learnable
    to 100 % in a few hundred steps, so accuracy targets mean something on generated data too."""
    import torch

    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (n,), generator=g)
    x = torch.randint(0, 70, (n, channels, size, size), generator=g)
    cells = math.ceil(math.sqrt(classes))
    cell = size // cells
    block = max(2, cell - 2)
    for k in range(classes):
        r, c = divmod(k, cells)
        m = labels == k
        x[m, :, r * cell + 1:r * cell + 1 + block, c * cell + 1:c * cell + 1 + block] += 170
    return x.clamp(0, 255).to(torch.uint8), labels.long()


def generated_dataset(n_train: int, n_test: int, channels: int = 1, size: int = 28, name: str = "generated"):
    from app.data.base import ImageDataset, ImageSplit

    xtr, ytr = generated_images(n_train, channels, size, seed=1)
    xte, yte = generated_images(n_test, channels, size, seed=2)
    xf = xtr.float() / 255
    return ImageDataset(name, ImageSplit(xtr, ytr), ImageSplit(xte, yte), [str(k) for k in range(10)],
                        tuple(xf.mean(dim=(0, 2, 3)).tolist()), tuple(xf.std(dim=(0, 2, 3)).tolist()),
                        source="generated by bench/gpu_check.py")


def mnist_root(ctx, n_train: int, n_test: int) -> tuple[str, str]:
    """(folder with the four MNIST IDX files, where they came from): the real MNIST unless quick or missing."""
    real = ctx.data / "mnist"
    if not ctx.quick and (real / "train-images-idx3-ubyte.gz").is_file():
        return str(real), str(real)
    from app.data.idx import write_idx

    root = ctx.tmp / f"mnist-{n_train}"
    if not root.is_dir():
        root.mkdir(parents=True)
        xtr, ytr = generated_images(n_train, seed=1)
        xte, yte = generated_images(n_test, seed=2)
        write_idx(root / "train-images-idx3-ubyte.gz", xtr[:, 0].numpy(), gzip=True)
        write_idx(root / "train-labels-idx1-ubyte.gz", ytr.numpy().astype("uint8"), gzip=True)
        write_idx(root / "t10k-images-idx3-ubyte.gz", xte[:, 0].numpy(), gzip=True)
        write_idx(root / "t10k-labels-idx1-ubyte.gz", yte.numpy().astype("uint8"), gzip=True)
    why = "quick mode" if ctx.quick else f"no MNIST at {real}"
    return str(root), f"generated ({why})"


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``visiondesk ARGV`` in this process: (exit status, what it wrote on stderr). Its stdout (epoch
    lines) goes to our stderr, so this process's stdout stays for the result line."""
    from app import cli

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(sys.stderr):
        try:
            rc = cli.main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    return int(rc), err.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(device):
    """A stopwatch: CUDA events on CUDA (GPU time between two points of the stream), perf_counter on CPU."""
    import torch

    class Watch:
        def start(self):
            if cuda(device):
                self.a, self.b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                self.a.record()
            else:
                self.t = time.perf_counter()

        def stop(self) -> float:
            if cuda(device):
                self.b.record()
                self.b.synchronize()
                return self.a.elapsed_time(self.b) / 1000
            return time.perf_counter() - self.t
    return Watch()


# ============================================================================================ the checks
def check_mnist_99(ctx) -> dict:
    from app.engine.runs import read_metrics

    n_train, n_test = (2048, 512) if ctx.quick else (60000, 10000)
    root, source = mnist_root(ctx, n_train, n_test)
    out = ctx.tmp / "mnist-run"
    epochs = 3 if ctx.quick else 8
    batch = 128 if ctx.quick else 512
    lr = 0.05 if ctx.quick else 0.2        # 0.2 is for batch 512 on real digits; it diverges on the tiny set
    argv = ["train", "--data", "mnist", "--data-root", root, "--model", "classic-cnn", "--option", "dropout=0.25",
            "--no-augment", "--batch-size", str(batch), "--optimizer", "sgd", "--lr", str(lr), "--momentum", "0.9",
            "--nesterov", "--weight-decay", "5e-4", "--schedule", "onecycle", "--epochs", str(epochs),
            "--device", ctx.device_arg, "--amp", "bf16" if ctx.is_cuda else "off", "--seed", "0",
            "--out", str(out), "--quiet"]
    t0 = time.perf_counter()
    rc, err = run_cli(argv)
    wall = time.perf_counter() - t0
    rows = read_metrics(out)
    res = {"data": source, "command": "visiondesk " + " ".join(argv), "exit_status": rc, "wall_seconds": round(wall, 2),
           "epochs": len(rows), "test_acc_per_epoch": [round(r["test_acc"], 4) if "test_acc" in r else None for r in rows],
           "images_per_sec": [r.get("images_per_sec") for r in rows],
           "targets": {"test_acc": 0.99, "train_seconds_to_99": 5.0}}
    if rc != 0:
        res.update(ok=False, error=f"visiondesk train exited with {rc}: {err.strip()[-500:]}")
        return res
    elapsed, reached = 0.0, None
    for r in rows:
        elapsed += float(r["seconds"])
        if r.get("test_acc", 0) >= 0.99:
            reached = r
            break
    res["best_test_acc"] = max((r.get("test_acc", 0.0) for r in rows), default=None)
    res["train_seconds_to_99"] = round(elapsed, 2) if reached else None
    res["epochs_to_99"] = int(reached["epoch"]) if reached else None
    res["meets_target"] = bool(reached and elapsed < 5.0)
    res["ok"] = reached is not None and (ctx.quick or res["meets_target"])
    if reached is None:
        res["error"] = f"test accuracy never reached 99% (best {res['best_test_acc']:.4f})"
    elif not res["ok"]:
        res["error"] = f"99% took {elapsed:.2f} s of training (target < 5 s)"
    return res


def check_engine_vs_bare(ctx) -> dict:
    import torch
    import torch.nn.functional as F

    from app.cli import ProgressPrinter
    from app.engine.classification import ClassificationTask
    from app.engine.devices import amp_dtype
    from app.engine.events import EpochStart, EvalStart
    from app.engine.trainer import Trainer
    from app.models import build_model

    n, batch, size, repeats = (32, 16, 16, 1) if ctx.quick else (16384, 256, 32, 3)
    ds = generated_dataset(n, batch, channels=3, size=size)
    device = ctx.device
    amp = "bf16" if ctx.is_cuda else "off"
    dtype = amp_dtype(device, amp)
    hp = dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def engine() -> float:
        watch = timed(device)
        seconds = {}

        def timer(ev):              # runs in the training loop: epoch 2 is timed, epoch 1 is the warm-up
            if isinstance(ev, EpochStart) and ev.epoch == 2:
                watch.start()
            elif isinstance(ev, EvalStart) and ev.epoch == 2:
                seconds["t"] = watch.stop()
        task = ClassificationTask(ds, "resnet18", batch_size=batch, optimizer="sgd", schedule="none", epochs=2,
                                  augment=False, **hp)
        run = ctx.tmp / "engine-run"
        shutil.rmtree(run, ignore_errors=True)
        Trainer(task, epochs=2, device=device, amp=amp, seed=0, run_dir=run,
                callbacks=[ProgressPrinter(stream=io.StringIO(), out=io.StringIO()), timer]).fit()
        return task.num_batches() * batch / seconds["t"]

    def bare() -> float:
        torch.manual_seed(0)
        model = build_model("resnet18", 3, (size, size), 10).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=hp["lr"], momentum=hp["momentum"], nesterov=True,
                              weight_decay=hp["weight_decay"])
        mean = torch.tensor(ds.mean).view(1, 3, 1, 1)
        std = torch.tensor(ds.std).view(1, 3, 1, 1)
        x = ((ds.train.images.float() / 255 - mean) / std).to(device)
        y = ds.train.labels.to(device)
        steps = len(x) // batch
        model.train()
        watch = timed(device)
        for epoch in range(2):
            perm = torch.randperm(len(x), device=device)
            if epoch == 1:
                watch.start()
            for i in range(steps):
                idx = perm[i * batch:(i + 1) * batch]
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return steps * batch / watch.stop()

    runs = {"bare": [], "engine": []}
    for _ in range(repeats):        # interleaved, so a drift in the machine hits both alike
        runs["bare"].append(bare())
        runs["engine"].append(engine())
    med = {k: statistics.median(v) for k, v in runs.items()}
    ratio = med["engine"] / med["bare"]
    res = {"model": "resnet18", "image_size": size, "images_per_epoch": n // batch * batch, "batch_size": batch,
           "amp": amp, "repeats": repeats, "timing": "CUDA events" if ctx.is_cuda else "perf_counter",
           "images_per_sec": {k: round(v, 1) for k, v in med.items()},
           "runs": {k: [round(v, 1) for v in vs] for k, vs in runs.items()},
           "spread": {k: round((max(v) - min(v)) / statistics.median(v), 3) for k, v in runs.items()},
           "engine_over_bare": round(ratio, 3), "targets": {"engine_over_bare": 0.97},
           "meets_target": ratio >= 0.97}
    res["ok"] = finite(ratio) and ratio > 0 and (ctx.quick or res["meets_target"])
    if not res["ok"]:
        res["error"] = f"engine/bare = {ratio:.3f} (target >= 0.97)"
    return res


def check_amp(ctx) -> dict:
    import torch

    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig
    from app.engine.events import BatchEnd

    steps, batch = 50, (4 if ctx.quick else 128)
    ds = generated_dataset(steps * batch, 2 * batch)
    cfg = TrainConfig(task="classify", data="generated", model="cnn4", epochs=1, batch_size=batch,
                      model_options={"hidden": 64} if ctx.quick else {},
                      optimizer="sgd", lr=0.05, schedule="none", augment=False, seed=0, device=ctx.device_arg)

    def losses(amp: str) -> tuple[list[float], dict]:
        seen: list[float] = []
        tr = make_trainer(cfg.replace(amp=amp), dataset=ds, write_run=False,
                          callbacks=[lambda ev: seen.append(ev.metrics["loss"]) if isinstance(ev, BatchEnd) else None])
        tr.fit()
        info = {"autocast_dtype": str(tr.amp_dtype).replace("torch.", "") if tr.amp_dtype else "float32",
                "grad_scaler": tr.scaler is not None}
        if tr.scaler is not None:
            info["final_scale"] = float(tr.scaler.get_scale())
        return seen, info

    def tail(v):
        return statistics.fmean(v[-10:])

    ref, ref_info = losses("off")
    res = {"steps": steps, "batch_size": batch, "model": "cnn4", "tolerance": AMP_TOLERANCE,
           "compare": "mean loss of the last 10 steps",
           "fp32": {"last10_loss": round(tail(ref), 4), "first_loss": round(ref[0], 4), "nan": not finite(*ref),
                    "steps": len(ref), **ref_info}}
    ok = len(ref) == steps and finite(*ref)
    errors = []
    if not ctx.is_cuda:
        reason = "mixed precision runs on CUDA only (the engine ignores AMP on the CPU)"
        res["bf16"] = res["fp16"] = {"status": "skipped", "reason": reason}
        res["skipped_parts"] = {"bf16": reason, "fp16": reason}
    else:
        for name, want in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
            v, info = losses(name)
            diff = abs(tail(v) - tail(ref))
            within = diff <= AMP_TOLERANCE["abs"] + AMP_TOLERANCE["rel"] * tail(ref)
            part_ok = (len(v) == steps and finite(*v) and within and info["autocast_dtype"] == str(want)[6:]
                       and info["grad_scaler"] == (name == "fp16"))
            res[name] = {"last10_loss": round(tail(v), 4), "abs_diff_to_fp32": round(diff, 4), "nan": not finite(*v),
                         "steps": len(v), "within_tolerance": within, "ok": part_ok, **info}
            if not part_ok:
                errors.append(f"{name}: {res[name]}")
            ok = ok and part_ok
    if not finite(*ref) or len(ref) != steps:
        errors.append(f"fp32 ran {len(ref)} steps, finite={finite(*ref)}")
    res["ok"] = ok
    if errors:
        res["error"] = "; ".join(errors)
    return res


def check_gui_worker(ctx) -> dict:
    import gc
    import weakref

    import torch
    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig
    from app.engine.events import BatchEnd, Finished

    app = QApplication.instance() or QApplication(sys.argv[:1])
    TrainingRunner = training_runner_class()
    ds = generated_dataset(512 if ctx.quick else 8192, 256)
    cfg = TrainConfig(task="classify", data="generated", model="classic-cnn", epochs=1000, batch_size=64,
                      optimizer="sgd", lr=0.05, schedule="none", augment=False, seed=0, device=ctx.device_arg,
                      amp="bf16" if ctx.is_cuda else "off")
    runner = TrainingRunner()
    results: list = []
    batches = [0]
    trainers: list = []
    runner.finished.connect(results.append)
    runner.events.connect(lambda evs: batches.__setitem__(0, batches[0] + sum(isinstance(e, BatchEnd) for e in evs)))

    def wait_until(cond, timeout: float) -> bool:
        """Run the Qt event loop until cond() or the timeout."""
        if cond():
            return True
        loop = QEventLoop()
        deadline = time.monotonic() + timeout
        poll = QTimer()
        poll.setInterval(5)
        poll.timeout.connect(lambda: loop.quit() if cond() or time.monotonic() > deadline else None)
        poll.start()
        loop.exec()
        poll.stop()
        return cond()

    def build_for(config):
        def build(callbacks, control):
            tr = make_trainer(config, dataset=ds, callbacks=callbacks, control=control, write_run=False)
            trainers.append(weakref.ref(tr))
            return tr
        return build

    def mem() -> int:
        return torch.cuda.memory_allocated() if ctx.is_cuda else 0

    # warm-up: one short run through the runner (CUDA context, cuDNN/cuBLAS handles and workspaces,
    # kernels), so "before Start" is the steady state of an app that has trained before
    runner.start(build_for(cfg.replace(epochs=1)))
    if not wait_until(lambda: results, 60) or not isinstance(results[0], Finished):
        raise RuntimeError(f"the warm-up run did not finish: {results[:1]}")
    gc.collect()
    before = mem()
    results.clear()
    trainers.clear()

    delays: list[float] = []
    clock = QElapsedTimer()
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(5)
    last = [0]

    def tick() -> None:
        now = clock.nsecsElapsed()
        if last[0]:
            delays.append(max(0.0, (now - last[0]) / 1e6 - 5.0))
        last[0] = now
    probe.timeout.connect(tick)
    clock.start()
    probe.start()

    def steps() -> int:          # the trainer's own step count, read from the GUI thread
        tr = trainers[0]() if trainers else None
        return tr.step if tr is not None else 0
    res: dict = {"model": "classic-cnn", "amp": cfg.amp, "qt_platform": app.platformName()}
    t0 = time.perf_counter()
    runner.start(build_for(cfg))
    started = wait_until(lambda: steps() >= 5, 60)
    res["first_steps_seconds"] = round(time.perf_counter() - t0, 2)
    runner.pause()
    wait_until(lambda: False, 0.3)           # the step in flight ends, then the loop waits
    s1 = steps()
    wait_until(lambda: False, 0.5)
    s2 = steps()
    res["paused_ok"] = started and s1 == s2 and runner.paused
    runner.resume()
    res["resumed_ok"] = wait_until(lambda: steps() >= s2 + 5, 30)
    runner.stop()
    done = wait_until(lambda: bool(results), 30)
    probe.stop()
    fin = results[0] if results else None
    res["stopped_ok"] = done and isinstance(fin, Finished) and fin.reason == "stopped" and not runner.is_running()
    res["steps_run"] = s2
    res["batch_events_received"] = batches[0]
    res["p99_delay_ms"] = round(float(sorted(delays)[min(len(delays) - 1, int(0.99 * len(delays)))]), 2) if delays else None
    res["max_delay_ms"] = round(max(delays), 2) if delays else None
    res["probes"] = len(delays)
    res["targets"] = {"p99_delay_ms": 50, "memory_after_stop": "within 1% (or 1 MiB) of before Start"}
    res["meets_target"] = res["p99_delay_ms"] is not None and res["p99_delay_ms"] <= 50
    # what Stop leaves behind: nothing should hold the trainer (its model, data and optimizer state)
    del fin
    results.clear()
    app.processEvents()
    res["trainer_freed_after_stop"] = bool(trainers) and trainers[0]() is None
    if ctx.is_cuda:
        after = mem()
        gc.collect()
        after_gc = mem()
        res["memory_allocated"] = {"before_start": before, "after_stop": after, "after_stop_and_gc": after_gc,
                                   "reserved_after_stop": torch.cuda.memory_reserved()}
        res["memory_ok"] = mem_close(after, before)
    else:
        res["memory_allocated"] = {"status": "skipped", "reason": "torch.cuda.memory_allocated exists on CUDA only; "
                                   "on the CPU trainer_freed_after_stop stands in for it"}
        res["memory_ok"] = res["trainer_freed_after_stop"]
    res["ok"] = bool(res["paused_ok"] and res["resumed_ok"] and res["stopped_ok"] and res["memory_ok"]
                     and (ctx.quick or res["meets_target"]))
    if not res["ok"]:
        res["error"] = "failed: " + ", ".join(k for k in ("paused_ok", "resumed_ok", "stopped_ok", "memory_ok",
                                                          "meets_target") if not res.get(k))
    runner.shutdown(10000)
    return res


def check_keypoints_gan(ctx) -> dict:
    import numpy as np

    from app.engine.keypoints import load_keypoint_model
    from app.engine.runs import read_metrics
    from app.vision import FaceDetector, KeypointPipeline, VideoFileSource, resolve_model

    res: dict = {"targets": {"live_fps": 30}}
    # -- keypoints: the model alone, then the whole live pipeline over the video
    name = resolve_model("default")
    pred = load_keypoint_model(name, device=ctx.device)
    on_device = next(pred.model.parameters()).device.type == ctx.device.type
    crop = np.random.default_rng(0).integers(0, 255, (1, pred.input_size, pred.input_size), dtype=np.uint8)
    for _ in range(5):
        pred.predict(crop)
    reps = 5 if ctx.quick else 200
    t0 = time.perf_counter()
    for _ in range(reps):
        pts = pred.predict(crop)        # returns numpy points: each call ends with a device -> host copy
    model_fps = reps / (time.perf_counter() - t0)
    kp = {"model": name, "on_device": on_device, "model_alone_fps": round(model_fps, 1),
          "points_finite": bool(np.isfinite(pts).all())}
    videos = sorted((ctx.data / "face-video").glob("*.mp4"))
    if not videos:
        kp["video"] = {"status": "skipped", "reason": f"no data: no .mp4 in {ctx.data / 'face-video'}"}
        res.setdefault("skipped_parts", {})["video"] = kp["video"]["reason"]
        kp_ok = on_device and kp["points_finite"]
    else:
        limit = 8 if ctx.quick else 10_000
        pipe = KeypointPipeline(pred, FaceDetector(), redetect_every=10)
        src = VideoFileSource(videos[0])
        frames = faces = 0
        t0 = time.perf_counter()
        for f in src.frames():
            r = pipe.process(f.image, f.capture_ms, f.index / src.fps, f.new_scene, f.index)
            frames += 1
            faces += len(r.faces)
            if frames >= limit:
                break
        fps = frames / (time.perf_counter() - t0)
        kp["video"] = {"file": videos[0].name, "frames": frames, "live_fps": round(fps, 1),
                       "faces_per_frame": round(faces / max(frames, 1), 3)}
        kp["meets_target"] = fps >= 30
        kp_ok = on_device and kp["points_finite"] and frames > 0 and faces / max(frames, 1) >= 0.5 \
            and (ctx.quick or kp["meets_target"])
    kp["ok"] = kp_ok
    res["keypoints"] = kp
    del pred
    # -- one GAN epoch on the shipped Fashion-MNIST sample
    out = ctx.tmp / "gan-run"
    argv = ["gan", "train", "--data", "fashion-mnist-sample", "--epochs", "1", "--device", ctx.device_arg,
            "--seed", "0", "--out", str(out), "--quiet"]
    if ctx.quick:   # one class (1000 images), narrow nets, no score
        argv += ["--class", "0", "--option", "g_width=8", "--option", "d_width=8", "--batch-size", "64", "--no-score"]
    else:
        argv += ["--score-samples", "2000"]
    t0 = time.perf_counter()
    rc, err = run_cli(argv)
    rows = read_metrics(out)
    row = rows[0] if rows else {}
    gan = {"command": "visiondesk " + " ".join(argv), "exit_status": rc, "wall_seconds": round(time.perf_counter() - t0, 2),
           "epochs": len(rows), "images_per_sec": row.get("images_per_sec"),
           "d_loss": row.get("train_d_loss"), "g_loss": row.get("train_g_loss"), "fd": row.get("fd"),
           "grid_written": (out / "samples" / "epoch_001.png").is_file()}
    gan["ok"] = rc == 0 and len(rows) == 1 and finite(gan["d_loss"], gan["g_loss"]) and gan["grid_written"] \
        and (ctx.quick or finite(gan["fd"]))
    if rc != 0:
        gan["error"] = err.strip()[-500:]
    res["gan"] = gan
    res["ok"] = kp_ok and gan["ok"]
    if not res["ok"]:
        res["error"] = "failed: " + ", ".join(k for k in ("keypoints", "gan") if not res[k]["ok"])
    return res


def check_out_of_memory(ctx) -> dict:
    import gc

    import torch

    from app.engine.classification import ClassificationTask
    from app.engine.runs import read_metrics

    root, source = mnist_root(ctx, 1024 if ctx.quick else 8192, 256)
    big = 65536
    common = ["train", "--data", "mnist", "--data-root", root, "--no-augment", "--epochs", "1",
              "--device", ctx.device_arg, "--quiet", "--schedule", "none"]
    res: dict = {"data": source}
    real_step = ClassificationTask.train_step
    if ctx.is_cuda:
        # a real allocator failure, quickly: this process may use only ~4 GiB of the GPU, and resnet18 on a
        # batch of 8192 images needs far more
        index = torch.cuda.current_device() if ctx.device.index is None else ctx.device.index
        total = torch.cuda.get_device_properties(index).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, 4 * 2**30 / total), index)
        # this thread's cuBLAS handle and workspace exist before the baseline (they stay for the process)
        torch.ones(8, 8, device=ctx.device) @ torch.ones(8, 8, device=ctx.device)
        res["simulation"] = "real CUDA allocator failure: memory fraction capped to 4 GiB, resnet18 with one batch of all images"
        model = "resnet18"
    else:
        # the CPU has no device memory to run out of: a training step on a batch over 256 images raises
        # the same torch.OutOfMemoryError CUDA raises, through the same engine path
        res["simulation"] = "CPU: torch.OutOfMemoryError raised by train_step for batches over 256 images"
        model = "classic-cnn"

        def step(self, batch, trainer):
            if batch[0].shape[0] > 256:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")
            return real_step(self, batch, trainer)
        ClassificationTask.train_step = step
    gc.collect()
    before = torch.cuda.memory_allocated() if ctx.is_cuda else 0
    try:
        rc, err = run_cli([*common, "--model", model, "--batch-size", str(big), "--out", str(ctx.tmp / "oom")])
    except BaseException as exc:      # what a person would have seen: a traceback
        rc, err = None, "".join(traceback.format_exception(exc))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    res["exit_status"] = rc
    res["message"] = err.strip()[:400]
    res["plain_message"] = (rc == 2 and len(lines) == 1 and "out of memory" in err.lower()
                            and "traceback" not in err.lower() and "smaller batch size" in err)
    if ctx.is_cuda:
        gc.collect()
        after = torch.cuda.memory_allocated()
        res["memory_allocated"] = {"before": before, "after_failure": after}
        res["memory_released"] = mem_close(after, before)
        torch.cuda.set_per_process_memory_fraction(1.0, index)
    else:
        res["memory_released"] = True
        res["memory_allocated"] = {"status": "skipped", "reason": "torch.cuda.memory_allocated exists on CUDA only"}
        ClassificationTask.train_step = real_step
    # the app keeps working: the next training in the same process completes
    rc2, err2 = run_cli([*common, "--model", model, "--batch-size", "128", "--out", str(ctx.tmp / "after-oom")])
    rows = read_metrics(ctx.tmp / "after-oom")
    res["next_run_exit_status"] = rc2
    res["next_run_test_acc"] = rows[-1].get("test_acc") if rows else None
    res["keeps_working"] = rc2 == 0 and len(rows) == 1
    res["ok"] = bool(res["plain_message"] and res["memory_released"] and res["keeps_working"])
    if not res["ok"]:
        res["error"] = "failed: " + ", ".join(k for k in ("plain_message", "memory_released", "keeps_working")
                                              if not res[k]) + (f"; next run: {err2.strip()[-300:]}" if rc2 else "")
    return res


def check_torchrun(ctx) -> dict:
    from app.engine.runs import read_metrics

    root, source = mnist_root(ctx, 512 if ctx.quick else 60000, 128 if ctx.quick else 10000)
    out = ctx.tmp / "ddp-run"
    train = ["train", "--data", "mnist", "--data-root", root, "--model", "classic-cnn", "--epochs", "1",
             "--batch-size", "64" if ctx.quick else "512", "--no-augment", "--device", ctx.device_arg,
             "--amp", "bf16" if ctx.is_cuda else "off", "--out", str(out), "--quiet"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1", "--master_addr=127.0.0.1",
           f"--master_port={free_port()}", str(Path(__file__).resolve()), "--torchrun-child", "--", *train]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=ctx.limit - 8, cwd=str(ROOT),
                       check=False)
    child = _result_from(p.stdout) or {}
    rows = read_metrics(out)
    want = "nccl" if ctx.is_cuda else "gloo"
    res = {"data": source, "command": "torchrun --nproc_per_node=1 -m app " + " ".join(train),
           "exit_status": p.returncode, "wall_seconds": round(time.perf_counter() - t0, 2),
           "backend": child.get("backend"), "world_size": child.get("world_size"), "device": child.get("device"),
           "epochs": len(rows), "test_acc": rows[-1].get("test_acc") if rows else None,
           "images_per_sec": rows[-1].get("images_per_sec") if rows else None}
    res["ok"] = p.returncode == 0 and child.get("exit_status") == 0 and res["backend"] == want and len(rows) == 1
    if not res["ok"]:
        res["error"] = (f"expected backend {want}, one epoch, exit 0; stderr: " + p.stderr.strip()[-800:])
    return res


def torchrun_child(argv: list[str]) -> int:
    """Under torchrun: the same ``visiondesk`` main, reporting which process group it trained in."""
    import torch.distributed as dist

    from app.engine import distributed

    ctx = distributed.context()
    info = {"enabled": ctx.enabled, "world_size": ctx.world_size, "device": str(ctx.device),
            "backend": dist.get_backend() if dist.is_initialized() else None}
    from app import cli

    with contextlib.redirect_stdout(sys.stderr):
        info["exit_status"] = cli.main(argv)
    print(MARK + json.dumps(info), flush=True)
    return int(info["exit_status"])


# ============================================================================================ running them
class Context:
    def __init__(self, args, tmp: Path, limit: float):
        from app.engine.devices import pick_device

        self.quick = args.quick
        self.device_arg = args.device
        self.device = pick_device(args.device)
        self.is_cuda = self.device.type == "cuda"
        self.data = Path(args.data)
        self.tmp = tmp
        self.limit = limit


def run_child(args) -> int:
    """One check, in this process: print its result as one marked JSON line."""
    import torch

    if args.quick and args.device == "cpu":
        torch.set_num_threads(1)        # the test suite's machine is small and shared
    tmp = Path(tempfile.mkdtemp(prefix=f"vd-gpu-check-{args.child}-"))
    os.environ.setdefault("VISIONDESK_HOME", str(tmp / "home"))
    try:
        ctx = Context(args, tmp, args.limit)
        res = globals()[f"check_{args.child}"](ctx)
        ok = bool(res.pop("ok"))
        out = {"status": "pass" if ok else "fail", **res}
    except Skip as exc:
        out = {"status": "skipped", "reason": str(exc)}
    except BaseException as exc:
        out = {"status": "fail", "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500],
               "traceback": traceback.format_exc()[-2000:]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out["environment"] = environment(args.device)
    print(MARK + json.dumps(out, default=str), flush=True)
    return 0


def _result_from(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    return None


def environment(device_arg: str) -> dict:
    import torch

    info = {"device": device_arg, "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "python": platform.python_version(), "machine": platform.machine(), "cpu_count": os.cpu_count()}
    if device_arg.startswith("cuda") and torch.cuda.is_available():
        info["device_name"] = torch.cuda.get_device_name(0)
        info["device_count"] = torch.cuda.device_count()
        info["bf16_supported"] = torch.cuda.is_bf16_supported()
        info["total_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    else:
        info["device_name"] = platform.processor() or platform.machine()
        info["cuda_available"] = torch.cuda.is_available()
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (the test suite's CPU run, under a minute)")
    ap.add_argument("--only", help="comma-separated check names (default: all seven)")
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="the shared data folder (mnist/, face-video/)")
    ap.add_argument("--child", choices=CHECKS, help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=float, default=60.0, help=argparse.SUPPRESS)
    ap.add_argument("--torchrun-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.torchrun_child:
        return torchrun_child(args.rest)
    if args.child:
        return run_child(args)

    names = [n.strip() for n in args.only.split(",")] if args.only else list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        sys.stderr.write(f"gpu_check: unknown check(s): {', '.join(unknown)} (known: {', '.join(CHECKS)})\n")
        return 2
    limits = QUICK_LIMITS if args.quick else LIMITS
    doc = {"bench": "gpu_check", "quick": args.quick, "device": args.device,
           "data": args.data, "data_present": Path(args.data).is_dir(), "limits_s": {n: limits[n] for n in names},
           "checks": {}}
    home = tempfile.mkdtemp(prefix="vd-gpu-check-home-")
    child_env = dict(os.environ, VISIONDESK_HOME=home, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env: dict = {}
    t_all = time.perf_counter()
    try:
        for name in names:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--device", args.device,
                   "--data", args.data, "--limit", str(limits[name])] + (["--quick"] if args.quick else [])
            t0 = time.perf_counter()
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, env=child_env, timeout=limits[name],
                                   cwd=str(ROOT), check=False)
                res = _result_from(p.stdout)
                if res is None:
                    res = {"status": "fail", "error": f"the check's process ended with status {p.returncode} "
                           f"without a result", "stderr_tail": p.stderr[-1500:]}
            except subprocess.TimeoutExpired as exc:
                res = {"status": "fail", "error": f"timed out after {limits[name]} s (hard limit)",
                       "stderr_tail": (exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes)
                                       else exc.stderr or "")[-1500:]}
            res["seconds"] = round(time.perf_counter() - t0, 2)
            env_info = res.pop("environment", None)
            if env_info and not env:                 # the device, as the first check's process saw it
                env.update(env_info)
            doc["checks"][name] = res
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if not env:                                     # no check answered: ask here
        env.update(environment(args.device))
    checks = doc.pop("checks")
    doc.update({k: v for k, v in env.items() if k != "device"}, checks=checks)
    doc["total_seconds"] = round(time.perf_counter() - t_all, 2)
    counts = {s: sum(c["status"] == s for c in doc["checks"].values()) for s in ("pass", "fail", "skipped")}
    doc["summary"] = counts
    doc["all_passed"] = counts["fail"] == 0 and counts["skipped"] == 0
    print(json.dumps(_strict(doc), indent=2, default=str))
    return 0 if counts["fail"] == 0 else 1


def _strict(v):
    """NaN and infinity as text, so the document is strict JSON (a NaN loss is a finding, not a crash)."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: _strict(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_strict(x) for x in v]
    return v


if __name__ == "__main__":
    raise SystemExit(main())
