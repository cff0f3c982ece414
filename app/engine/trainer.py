"""The one training loop of VisionDesk.

``Trainer.fit`` runs any ``Task`` (classification, keypoints, GAN, the Basics experiments): epochs,
batches, device placement, mixed precision, seeding, timing, events, cooperative stop and pause
(thread-safe, checked between batches), checkpoints and exact resume.

Starting is all-or-nothing for the run folder: until the first new training step has succeeded, nothing
in it is written except a line in run.log (config.json, metrics.csv, batches.csv, last.pt and stale
temporary files are left as they were), so a start that fails (a checkpoint that does not match, an
out-of-memory first step, a stop before any step) leaves a past run exactly as it was.

Continuing a run with more epochs, another batch size or another learning rate re-plans its schedule
over the steps that remain (``app.engine.optim`` says how each schedule does it); the same plan resumes
exactly. A non-finite loss stops the run with a plain message before it can become best.pt.

Hot-loop rule: no per-step host synchronisation. Step metrics stay on the device and are fetched
in groups (every ``flush_seconds``), then turned into one ``BatchEnd`` event per step.
"""
from __future__ import annotations

import contextlib
import errno
import gc
import math
import random
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from app.engine import distributed as dist_util
from app.engine.checkpoint import FORMAT, DiskFullError, load_checkpoint, save_checkpoint
from app.engine.devices import amp_dtype, describe_device, pick_device
from app.engine.events import (BatchEnd, Checkpointed, EpochEnd, EpochStart, EvalStart, Event, Failed, Finished,
                               Notice, Paused, RunStarted)
from app.engine.runs import RunFolder
from app.engine.task import Task
from app.core.errors import CheckpointError, UserError

Callback = Callable[[Event], None]
OOM_MESSAGE = ("The GPU ran out of memory. Choose a smaller batch size (or a smaller model) and resume; "
               "the last saved checkpoint is kept.")


class StopRequested(Exception):
    pass


class OutOfMemory(UserError, torch.OutOfMemoryError):
    """The device ran out of memory: a plain message for the person (still a torch.OutOfMemoryError)."""


class NonFiniteLoss(UserError):
    """The loss became NaN or infinite: training cannot recover, so the run stops (never a best.pt)."""

    kind = "non-finite-loss"




class Control:
    """Thread-safe stop / pause flags shared between the GUI thread and the training thread."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.stop_reason: str | None = None

    def stop(self, reason: str | None = None) -> None:
        """Ask the loop to stop at the next batch (it saves last.pt first). ``reason``: why, for run.log
        (e.g. "SIGTERM received")."""
        if reason and self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()
        self._running.set()  # wake a paused loop so it can stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> None:
        self._running.wait(timeout)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": _py_state_to_list(random.getstate())}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "python" in state:
        random.setstate(_py_state_from_list(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _py_state_to_list(st):
    return [st[0], list(st[1]), st[2]]


def _py_state_from_list(st):
    return (int(st[0]), tuple(int(v) for v in st[1]), st[2])


class Trainer:
    def __init__(self, task: Task, *, epochs: int, device: str | torch.device = "auto", amp: str | bool = "off",
                 seed: int = 0, run_dir: str | Path | None = None, config: dict | None = None,
                 callbacks: Iterable[Callback] = (), control: Control | None = None,
                 flush_seconds: float = 0.1, checkpoint_every: int = 1, log_batches: bool = True,
                 overwrite: bool = False):
        self.task = task
        self.epochs = int(epochs)
        self.dist = dist_util.context()
        self.device = self.dist.device if self.dist.enabled else pick_device(device)
        self.amp_dtype = amp_dtype(self.device, amp)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.seed = int(seed)
        self.config = dict(config or {})
        self.callbacks: list[Callback] = list(callbacks)
        self.control = control or Control()
        self.flush_seconds = flush_seconds
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.log_batches = log_batches
        self.is_main = self.dist.rank == 0
        self.run = RunFolder(run_dir, clean=False) if (run_dir is not None and self.is_main) else None
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.overwrite = bool(overwrite)       # a new run may replace an earlier run in run_dir
        self.epoch = 0           # completed epochs
        self.step = 0            # global optimisation steps
        self.best: dict[str, float] = {}
        self.history: list[dict[str, float]] = []
        self._setup_done = False
        self._started = False                  # the first new step succeeded: the run folder may change
        self._start_skip = 0                   # mid-epoch position the run (re)started from
        self._resumed_from: str | None = None
        self._resumed_config: dict = {}
        self._plan_note = ""                   # what a continued run changed, for run.log
        self._metric_keys: list[str] = []
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True

    @property
    def started(self) -> bool:
        """True once the first new training step succeeded (before that, the run folder is untouched)."""
        return self._started

    # ------------------------------------------------------------------ helpers for tasks
    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def backward_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, *,
                      clip_grad_norm: float | None = None, params: Iterable[torch.nn.Parameter] | None = None) -> None:
        """Backward + optimizer step, with the fp16 grad scaler when active."""
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if clip_grad_norm:
                self.scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params or [p for g in optimizer.param_groups for p in g["params"]], clip_grad_norm)
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            if clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(params or [p for g in optimizer.param_groups for p in g["params"]], clip_grad_norm)
            optimizer.step()

    def wrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """Place a model on the device (and wrap it for data-parallel training when distributed)."""
        model = model.to(self.device)
        return self.dist.wrap(model)

    def emit(self, event: Event) -> None:
        if not self.is_main:
            return
        for cb in self.callbacks:
            cb(event)

    def log(self, message: str) -> None:
        if self.run is not None:
            self.run.log(message)

    def stop(self) -> None:
        self.control.stop()

    def pause(self) -> None:
        self.control.pause()
        self.emit(Paused(True))

    def resume(self) -> None:
        self.control.resume()
        self.emit(Paused(False))

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint(self, batch_in_epoch: int = 0) -> dict[str, Any]:
        return {"format": FORMAT, "kind": "last", "epoch": self.epoch, "batch_in_epoch": batch_in_epoch,
                "step": self.step, "task": self.task.state_dict(), "rng": rng_state(), "config": self.config,
                "best": dict(self.best), "scaler": self.scaler.state_dict() if self.scaler else {}}

    def save_last(self, batch_in_epoch: int = 0) -> Path | None:
        if self.run is None or not self._started:
            return None    # nothing was trained since the start: the folder (and its last.pt) stays as it was
        ckpt = self._checkpoint(batch_in_epoch)
        save_checkpoint(ckpt, self.run.last)
        self.emit(Checkpointed(self.epoch, str(self.run.last)))
        return self.run.last

    def _restore(self, path: str | Path) -> int:
        ckpt = load_checkpoint(path, map_location="cpu")
        if ckpt.get("format") != FORMAT or "task" not in ckpt:
            raise CheckpointError(f"{Path(path).name} is not a VisionDesk training checkpoint, so the run cannot resume from it.")
        try:
            self.task.load_state_dict(ckpt["task"])
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise CheckpointError(f"{Path(path).name} does not match this model and data: "
                                  f"{(str(exc) or type(exc).__name__).splitlines()[0]}") from exc
        try:
            self.epoch = int(ckpt["epoch"])
            self.step = int(ckpt.get("step", 0))
            self.best = dict(ckpt.get("best") or {})
            saved_config = ckpt.get("config")
            self._resumed_config = dict(saved_config) if isinstance(saved_config, dict) else {}
            if self.scaler is not None and ckpt.get("scaler"):
                self.scaler.load_state_dict(ckpt["scaler"])
            set_rng_state(ckpt.get("rng", {}))
            return int(ckpt.get("batch_in_epoch", 0))
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
            # a hand-edited or damaged file whose bookkeeping cannot be used
            raise CheckpointError(f"{Path(path).name} is damaged (its training position cannot be read), so the "
                                  f"run cannot resume from it.") from exc

    # ------------------------------------------------------------------ the loop
    def fit(self, resume_from: str | Path | None = None) -> Finished:
        t_start = time.perf_counter()
        self._claim_run_folder(resume_from)
        try:
            seed_everything(self.seed + self.dist.rank * 0)
            self.task.setup(self)
            self._setup_done = True
            self._check_memory()
            skip_batches = self._restore(resume_from) if resume_from else 0
            self._resumed_from = str(resume_from) if resume_from else None
            if resume_from:
                skip_batches = self._continue_plan(skip_batches)
            self._start_skip = skip_batches
            if self.run is not None:
                # in memory only: the files change once the first new step has succeeded (_commit_start)
                self.history = [r for r in self.run.rows if _epoch_of(r) is not None and _epoch_of(r) <= self.epoch]
            nb = self.task.num_batches()
            self.emit(RunStarted(str(self.run_dir) if self.run_dir else None, self.config, describe_device(self.device),
                                 self.epoch, self.epochs, nb))
            self._report_data()
            reason = "completed"
            while self.epoch < self.epochs:
                if self.control.stop_requested:
                    reason = "stopped"
                    if self.save_last(batch_in_epoch=skip_batches):
                        self.log(f"Stopped{self._why()} after epoch {self.epoch}; saved last.pt, resume to continue")
                    break
                stopped_at = self._train_epoch(self.epoch + 1, skip_batches)
                skip_batches = 0
                if stopped_at is not None:
                    reason = "stopped"
                    if self.save_last(batch_in_epoch=stopped_at):
                        self.log(f"Stopped{self._why()} during epoch {self.epoch + 1} after batch {stopped_at}; "
                                 f"saved last.pt, resume to continue")
                    break
            if reason == "stopped" and not self._started:
                self.log(f"Stopped{self._why()} before the first training step; nothing in the run folder changed")
            last = self.history[-1] if self.history else {}
            fin = Finished(reason, self.epoch, last, dict(self.best), str(self.run_dir) if self.run_dir else None,
                           time.perf_counter() - t_start)
            self.log(f"Finished ({reason}) after epoch {self.epoch}")
            self.emit(fin)
            return fin
        except BaseException as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                # a plain write (batches.csv, run.log, a task's sample image) hit a full disk: the same
                # plain message as a checkpoint that could not be saved
                full = DiskFullError(f"The disk is full: VisionDesk could not write to {self.run_dir or 'disk'}. "
                                     f"The last saved checkpoint is unchanged. Free some space and resume the run.")
                self._fail(full)
                raise full from exc
            if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and not isinstance(exc, UserError)
                                                and "can't allocate memory" in str(exc)):
                # the computer's own memory (not the GPU's) ran out in the middle of a step
                ram = OutOfMemory("The computer ran out of memory during training. Choose a smaller batch size or "
                                  "image size and resume; the last saved checkpoint is kept." if self._started else
                                  "The computer ran out of memory before training started: the model (its layer "
                                  "sizes), the batch size or the image size is too large for it. Choose smaller ones; "
                                  "nothing in the run folder changed.")
                self._fail(ram)
                raise ram from None
            message = self._fail(exc)
            if isinstance(exc, torch.OutOfMemoryError) and not isinstance(exc, UserError):
                raise OutOfMemory(message) from None    # the traceback holds the failed step's tensors
            raise
        finally:
            if self.run is not None:
                self.run.close()

    #: data-set notes that say something was left out or followed (the rest is the Data tab's description)
    DATA_WARNINGS = ("Left out", "Ignored", "Followed", "Did not follow", "No test images")

    def _report_data(self) -> None:
        """Files skipped and classes dropped while loading the data: said on the command line (Notice) and
        in run.log, as the Data tab shows them."""
        ds = getattr(self.task, "dataset", None)
        skipped = [str(s) for s in (getattr(ds, "skipped", None) or [])]
        if skipped:
            more = f"; and {len(skipped) - 3} more (all listed in run.log)" if len(skipped) > 3 else ""
            self.emit(Notice(f"Skipped {len(skipped)} file(s) that could not be used: {'; '.join(skipped[:3])}{more}"))
            self.log(f"Skipped {len(skipped)} file(s) that could not be used:\n  " + "\n  ".join(skipped))
        for note in getattr(ds, "notes", None) or []:
            if isinstance(note, str) and note.startswith(self.DATA_WARNINGS):
                self.emit(Notice(note))
                self.log(note)

    def _check_memory(self) -> None:
        """Before the first step: a task with one image net (``net``, ``batch_size``, ``dataset.input_shape``)
        has its step's memory estimated and refused in plain words when it cannot fit (see footprint)."""
        net, bs = getattr(self.task, "net", None), getattr(self.task, "batch_size", None)
        shape = getattr(getattr(self.task, "dataset", None), "input_shape", None)
        if not isinstance(net, torch.nn.Module) or not isinstance(bs, int) or not shape or len(shape) != 3:
            return
        from app.engine.footprint import check_training_fits

        try:
            check_training_fits(net, tuple(int(v) for v in shape), bs, self.device,
                                what=str(self.config.get("model") or "the model"))
        except UserError:
            raise
        except Exception:        # a model the estimate cannot run on a single image: no estimate, no refusal
            return

    def _claim_run_folder(self, resume_from) -> None:
        """Before anything else: lock the run folder (one training per folder) and refuse to start a new
        run over an earlier one unless ``overwrite``. Nothing in the folder changes when this refuses."""
        if self.run is None:
            return
        try:
            self.run.lock()
            if not resume_from and self.run.state == "run" and not self.overwrite:
                done = len([r for r in self.run.rows if _epoch_of(r) is not None])
                raise UserError(f"{self.run.path} already holds a run ({done} epoch(s) done); it was left as it is. "
                                f"Continue it (--resume), replace it on purpose (--overwrite), or choose another "
                                f"folder.")
        except BaseException:
            self.run.close()
            raise

    def _fail(self, exc: BaseException) -> str:
        details = "".join(traceback.format_exception(exc))
        user = isinstance(exc, UserError)
        kind = str(getattr(exc, "kind", "") or "")
        if isinstance(exc, torch.OutOfMemoryError):
            message = OOM_MESSAGE
            user = True
            kind = "out-of-memory"
            # the failed step's tensors are still referenced by the traceback's frames: drop them so
            # the allocator can give the memory back
            traceback.clear_frames(exc.__traceback__)
            self.release_memory()
        elif isinstance(exc, KeyboardInterrupt):
            message = "Training was interrupted."
            user = True
            kind = "interrupted"
        elif user:
            message = str(exc)
        else:
            message = f"Training failed: {type(exc).__name__}: {exc}".splitlines()[0]
        if self.run is not None:
            try:
                self.run.log(message + "\n" + details, level=40)
            except Exception:
                pass
        self.emit(Failed(message, details, self.epoch, str(self.run_dir) if self.run_dir else None, user, kind))
        return message

    def _why(self) -> str:
        return f" ({self.control.stop_reason})" if self.control.stop_reason else ""

    def _continue_plan(self, skip_batches: int) -> int:
        """After a restore: honour what the new configuration changes (planned epochs, batch size,
        learning rate) by re-planning the task's schedules over the steps that remain. Returns the
        batches of the interrupted epoch to skip (0 when the batch size changed: that epoch restarts)."""
        old = self._resumed_config
        if not old:
            return skip_batches
        def changed(key: str) -> bool:
            return key in old and key in self.config and old[key] != self.config[key]
        new_batch = changed("batch_size")
        new_lr = changed("lr")
        if new_batch and skip_batches:
            self.log(f"The batch size changed from {old['batch_size']} to {self.config['batch_size']}: epoch "
                     f"{self.epoch + 1} restarts from its first batch")
            skip_batches = 0
        if not (new_batch or new_lr or changed("epochs")):
            return skip_batches        # the same plan: the restored schedule goes on exactly
        nb = self.task.num_batches()
        steps_left = (self.epochs - self.epoch) * nb - skip_batches
        if steps_left <= 0:
            return skip_batches
        try:
            old_epochs = int(old.get("epochs", self.epochs))
        except (TypeError, ValueError):
            old_epochs = self.epoch
        finished = self.epoch >= old_epochs and skip_batches == 0
        lr = float(self.config.get("lr", 0) or 0)
        if new_lr and lr > 0:
            for opt in self.task.optimizers():
                for g in opt.param_groups:
                    g["lr"] = lr
                    if "initial_lr" in g:
                        g["initial_lr"] = lr
        for sched in self.task.schedulers():
            sched.continue_for(steps_left, lr=lr if lr > 0 else sched.lr, restart=finished or new_lr,
                               epoch_steps=self.epoch * nb + skip_batches, steps_per_epoch=nb)
        what = [f"{k} {old[k]} -> {self.config[k]}" for k in ("epochs", "batch_size", "lr") if changed(k)]
        self._plan_note = "; ".join(what)
        return skip_batches

    def _commit_start(self) -> None:
        """The first new step succeeded: now the run folder may change (config, truncated csv files,
        stale temporary files of an earlier process)."""
        if self._started:
            return
        self._started = True
        if self.run is None:
            return
        from app.engine.runs import remove_stale_temp_files

        removed = remove_stale_temp_files(self.run.path)
        if not self._resumed_from and self.run.state == "run":
            replaced = self.run.clear_outputs()
            self.log(f"A new run replaces the earlier run in this folder (--overwrite); removed "
                     f"{', '.join(replaced) or 'no checkpoint'}")
        if removed:
            self.log(f"Removed {len(removed)} temporary file(s) left by an interrupted process: {', '.join(removed)}")
        self.run.write_config(self.config)
        dropped = self.run.truncate_after(self.epoch, self._start_skip)
        if dropped:
            self.log(f"Skipped {dropped} damaged row(s) of batches.csv (their values could not be read)")
            self.emit(Notice(f"Skipped {dropped} damaged row(s) of batches.csv; the run goes on."))
        plan = self._plan_note
        self.log(("Resumed" if self._resumed_from else "Started") + f" on {describe_device(self.device)} "
                 f"at epoch {self.epoch}, batch {self._start_skip}" + (f" ({plan}; schedule re-planned)" if plan else ""))

    def _check_finite(self, where: str, values: dict[str, float]) -> None:
        if not getattr(self.task, "stop_on_nonfinite", True):
            return
        bad = [k for k, v in values.items() if "loss" in k and isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise NonFiniteLoss(
                f"Training stopped: the loss became {'not a number' if math.isnan(values[bad[0]]) else 'infinite'} "
                f"{where}, so the model can no longer learn. Try a smaller learning rate or weight decay (or "
                f"other settings); the last good checkpoint is kept and no broken model was saved as best.")

    def release_memory(self) -> None:
        if self.device.type == "cuda":
            gc.collect()
            torch.cuda.empty_cache()

    def _train_epoch(self, epoch: int, skip_batches: int) -> int | None:
        """Train one epoch; returns the batch index where a stop request interrupted it, else None."""
        task = self.task
        nb = task.num_batches()
        self.emit(EpochStart(epoch, self.epochs))
        task.train()
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        # step metrics stay on the device: one stacked vector per step, one running sum per epoch
        pending: list[tuple[int, torch.Tensor, int]] = []
        self._metric_keys: list[str] = []
        total: torch.Tensor | None = None
        count = 0
        t_epoch = time.perf_counter()
        t_flush = t_epoch
        epoch_images = 0
        batch_idx = 0
        for batch_idx, batch in enumerate(task.train_batches(epoch, g), start=1):
            if batch_idx <= skip_batches:
                continue
            if self.control.paused:
                self._flush(pending, epoch, nb, t_epoch, epoch_images, skip_batches)
                pending = []
                self.control.wait_while_paused()
            if self.control.stop_requested:
                self._flush(pending, epoch, nb, t_epoch, epoch_images, skip_batches)
                self._flush_batches_file()
                return batch_idx - 1
            bs = task.batch_size_of(batch)
            metrics = task.train_step(batch, self)
            if not self._started:
                self._check_finite(f"in epoch {epoch}, batch {batch_idx}",
                                   {k: float(v) for k, v in metrics.items()})
                self._commit_start()
            self.step += 1
            if not self._metric_keys:
                self._metric_keys = list(metrics)
            vec = torch.stack([metrics[k].detach() for k in self._metric_keys]).float()
            total = vec * bs if total is None else total.add_(vec, alpha=bs)
            count += bs
            epoch_images += bs
            pending.append((batch_idx, vec, self.step))
            now = time.perf_counter()
            if now - t_flush >= self.flush_seconds:
                self._flush(pending, epoch, nb, t_epoch, epoch_images, skip_batches)
                pending = []
                t_flush = now
        self._flush(pending, epoch, nb, t_epoch, epoch_images, skip_batches)
        if self.control.stop_requested and batch_idx < nb:
            return batch_idx
        train_time = time.perf_counter() - t_epoch
        train_metrics = {}
        if count and total is not None:
            vals = self.dist.all_reduce_mean(total / count).tolist()
            train_metrics = {f"train_{k}": float(v) for k, v in zip(self._metric_keys, vals)}
        self.emit(EvalStart(epoch))
        task.eval()
        with torch.no_grad(), self.autocast():
            test_metrics, details = task.evaluate(self)
        task.train()
        self._check_finite(f"on the test images after epoch {epoch}", {**train_metrics, **test_metrics})
        self.epoch = epoch
        row = {"epoch": epoch, **train_metrics, **test_metrics,
               "seconds": round(time.perf_counter() - t_epoch, 3),
               "images_per_sec": round(epoch_images * self.dist.world_size / max(train_time, 1e-9), 1)}
        is_best = self._update_best(row)
        self.history.append(row)
        if self.run is not None:
            self._flush_batches_file()
            self.run.add_epoch(row)
            if is_best:
                save_checkpoint({"format": FORMAT, "kind": "best", "epoch": epoch, "metrics": row,
                                 "config": self.config, **task.export_state()}, self.run.best)
            if epoch % self.checkpoint_every == 0 or epoch == self.epochs:
                self.save_last()
            self.log("epoch %d/%d  %s" % (epoch, self.epochs, "  ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if k != "epoch")))
        self.emit(EpochEnd(epoch, self.epochs, row, details, is_best))
        for ev in task.on_epoch_end(epoch, self):
            self.emit(ev)
        return None

    def _update_best(self, row: dict[str, float]) -> bool:
        key, mode = self.task.monitor
        if key not in row or not isinstance(row[key], (int, float)) or math.isnan(row[key]):
            key = next((k for k in ("test_loss", "train_loss") if k in row), None)
            mode = "min"
            if key is None:
                return False
        best = self.best.get(key)
        better = best is None or (row[key] > best if mode == "max" else row[key] < best)
        if better:
            self.best = dict(row)
        return better

    def _flush(self, pending, epoch, nb, t_epoch, epoch_images, skip) -> None:
        if not pending:
            return
        keys = self._metric_keys
        if keys:
            values = torch.stack([vec for _, vec, _ in pending]).cpu().tolist()  # the one host sync
        else:
            values = [[] for _ in pending]
        for (bi, _, _), vals in zip(pending, values):
            self._check_finite(f"in epoch {epoch}, batch {bi}", dict(zip(keys, vals)))
        elapsed = max(time.perf_counter() - t_epoch, 1e-9)
        ips = epoch_images * self.dist.world_size / elapsed
        done_batches = pending[-1][0] - skip
        remaining_batches = (nb - pending[-1][0]) + (self.epochs - epoch) * nb
        per_batch = elapsed / max(done_batches, 1)
        eta = remaining_batches * per_batch
        for (bi, _, step), vals in zip(pending, values):
            m = dict(zip(keys, vals))
            if self.run is not None and self.log_batches:
                self.run.add_batch({"step": step, "epoch": epoch, "batch": bi, **m})
            self.emit(BatchEnd(epoch, bi, nb, step, m, ips, eta))

    def _flush_batches_file(self) -> None:
        if self.run is not None:
            self.run.flush_batches()


def _epoch_of(row: dict) -> int | None:
    try:
        return int(float(row.get("epoch")))
    except (TypeError, ValueError, OverflowError):
        return None
