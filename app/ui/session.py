"""One training session for every training panel of the GUI (Train, GAN, Keypoints, Basics).

``TrainingRunner`` runs one ``Trainer`` in a ``Worker`` thread (``app.ui.workers``): engine events are
collected in the worker thread and delivered to the GUI thread in order, as lists; per-batch events
are coalesced to at most ``max_rate`` deliveries a second, epoch-level events go at once.

``TrainingSession`` is what a tab uses. It owns the lifecycle every panel shares — start, pause,
resume, stop, the busy state in the status bar, the enabled state of Start/Pause/Stop and of the
settings, the progress bar and the speed line, the plain messages for pause and stop, and the swap to
the trainer's own ``Failed`` account when a run ends badly — and dispatches events by type::

    session = TrainingSession(self, state=state, busy_key="train")
    session.bind(start=..., pause=..., stop=..., progress=..., speed=..., message=..., lock=[settings_box])
    session.on(BatchEnd, self._add_batches, batched=True)   # a list of consecutive BatchEnd events
    session.on(EpochEnd, self._show_epoch)
    session.on_done(self._on_done)                          # Finished or Failed, after the thread ended
    session.start(build, title="Training cnn4 on mnist")

(the way PyTorch-Ignite's ``engine.on(Events.EPOCH_COMPLETED)`` reads, with typed events).
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Iterable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QAbstractButton, QLabel, QProgressBar, QWidget

from app.core.errors import UserError
from app.engine.events import (BatchEnd, EpochStart, EvalStart, Event, Failed, Finished, Paused,
                               Preparing, RunStarted)
from app.engine.trainer import Control, Trainer
from app.ui.notify import report_error
from app.ui.workers import Worker, WorkerContext, describe_error

BuildFn = Callable[[list, Control], Trainer]


def hms(seconds: float) -> str:
    """1:05 or 1:02:03; '?' when unknown."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _EventBuffer:
    """Collects engine events in the worker thread; hands them to ``send`` as lists, BatchEnd coalesced."""

    def __init__(self, send: Callable[[list], None], max_rate: float):
        self._send = send
        self._interval = 1.0 / max_rate
        self._pending: list[Event] = []
        self._last = 0.0
        self._lock = threading.Lock()
        self.failed: Failed | None = None

    def __call__(self, ev: Event) -> None:
        if isinstance(ev, Failed):
            self.failed = ev        # the trainer's own account (e.g. out of memory is a user error)
        with self._lock:
            self._pending.append(ev)
            now = time.perf_counter()
            if isinstance(ev, BatchEnd) and now - self._last < self._interval:
                return
            batch, self._pending = self._pending, []
            self._last = now
        self._send(batch)

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            self._send(batch)


class TrainingRunner(QObject):
    """Start / pause / resume / stop one training at a time, off the GUI thread."""

    events = Signal(list)        # lists of engine events, in order, in the GUI thread
    finished = Signal(object)    # Finished or Failed, once the thread has ended

    def __init__(self, parent: QObject | None = None, max_rate: float = 20.0):
        super().__init__(parent)
        self._worker: Worker | None = None
        self.control: Control | None = None
        self._max_rate = max_rate

    def is_running(self) -> bool:
        """True from ``start`` until the result has been delivered (``finished``)."""
        return self._worker is not None

    def start(self, build: BuildFn, resume_from=None) -> None:
        """``build(callbacks, control)`` makes the Trainer; it runs in the worker thread, so it may
        load data or build models there without blocking the GUI."""
        if self.is_running():
            raise UserError("A training is already running; stop it first.")
        control = self.control = Control()
        max_rate = self._max_rate

        def train(ctx: WorkerContext):
            buffer = _EventBuffer(ctx.emit, max_rate)
            try:
                trainer = build([buffer], control)
                return trainer.fit(resume_from=resume_from)
            except BaseException as exc:   # the trainer already sent Failed for errors inside fit
                buffer.flush()
                if buffer.failed is not None:
                    return buffer.failed
                summary, details, user = describe_error(exc)
                return Failed(summary, details, 0, None, user)
            finally:
                buffer.flush()
                _release_device_memory()

        worker = self._worker = Worker(train, name="visiondesk-training", parent=self)
        worker.value.connect(self._on_value)
        worker.finished.connect(self._on_done)
        worker.start()

    @Slot(object)
    def _on_value(self, events) -> None:
        self.events.emit(events)

    @Slot(object, object)
    def _on_done(self, result, error) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            # freed here in the GUI thread when the last reference goes (as in workers.Jobs: a deferred
            # delete of a finished worker crashed the event loop at random)
            worker.finished.disconnect(self._on_done)
            worker.setParent(None)
        if error is not None:        # only a bug in this module gets here
            summary, details, user = describe_error(error)
            result = Failed(summary, details, 0, None, user)
        if isinstance(result, Failed) and not result.user_error:
            # a bug, not a person's mistake: to the app log (run.log has it already) and the error dialog
            where = f" (run folder: {result.run_dir})" if result.run_dir else ""
            summary = result.message if result.message.startswith("Training failed") else \
                f"Training failed: {result.message}"
            report_error(summary + where, result.details)
        self.finished.emit(result)

    def pause(self) -> None:
        if self.control:
            self.control.pause()

    def resume(self) -> None:
        if self.control:
            self.control.resume()

    def stop(self) -> None:
        if self.control:
            self.control.stop()

    @property
    def paused(self) -> bool:
        return bool(self.control and self.control.paused)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the thread ends and its result is delivered (used when the window closes)."""
        worker = self._worker
        return True if worker is None else worker.wait(msecs) and self._worker is None

    def shutdown(self, msecs: int = 30000) -> bool:
        self.stop()
        return self.wait(msecs)


def _release_device_memory() -> None:
    """After a run in the GUI, hand the GPU's cached blocks back (the process lives on; a CLI run ends)."""
    import gc
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        gc.collect()
        torch.cuda.empty_cache()


def images_per_second(ev: BatchEnd) -> str:
    """The default speed line: '1,234 images/s · about 0:30 left'."""
    return f"{ev.images_per_sec:,.0f} images/s · about {hms(ev.eta_seconds)} left"


class TrainingSession(QObject):
    """The lifecycle of one training panel: see the module docstring."""

    started = Signal()
    finished = Signal(object)          # Finished or Failed

    MESSAGES = {
        "preparing": "Preparing {title}…",
        "paused": "Paused after the current batch. Press Resume to go on, or Stop to end and keep a checkpoint.",
        "resumed": "Training goes on.",
        "stopping": "Stopping after the current batch and saving a checkpoint…",
    }

    def __init__(self, parent: QObject | None = None, *, state=None, busy_key: str = "",
                 max_rate: float = 20.0, speed_text: Callable[[BatchEnd], str] = images_per_second,
                 unit: str = "epoch"):
        super().__init__(parent)
        self.runner = TrainingRunner(self, max_rate=max_rate)
        self.runner.events.connect(self._on_events)
        self.runner.finished.connect(self._on_finished)
        self.state = state
        self.busy_key = busy_key
        self.speed_text = speed_text
        self.unit = unit                          # "epoch", or "step" for panels whose batches are steps
        self.messages = dict(self.MESSAGES)
        self._handlers: dict[type, list[tuple[Callable, bool]]] = {}
        self._done: list[Callable[[Any], None]] = []
        self._start_button = self._pause_button = self._stop_button = None
        self._progress: QProgressBar | None = None
        self._speed: QLabel | None = None
        self._message = None
        self._lock: list[QWidget] = []
        self.title = ""
        self.paused = False
        self.stopping = False
        self.epochs = 0
        self.start_epoch = 0
        self.run_dir: str | None = None
        self.last_batch: BatchEnd | None = None
        self.failed_event: Failed | None = None
        self.last_result: Finished | Failed | None = None
        self.started_at = 0.0

    # -- wiring -----------------------------------------------------------------------------------
    def bind(self, *, start: QAbstractButton | None = None, pause: QAbstractButton | None = None,
             stop: QAbstractButton | None = None, progress: QProgressBar | None = None,
             speed: QLabel | None = None, message=None, lock: Iterable[QWidget] = ()) -> "TrainingSession":
        """Widgets the session drives: buttons (and their enabled state), the progress bar, the speed
        line, a ``MessageArea`` for the standard messages, and widgets disabled while it runs."""
        self._start_button, self._pause_button, self._stop_button = start, pause, stop
        if start is not None:
            start.clicked.connect(self._start_clicked)
        if pause is not None:
            pause.clicked.connect(self.toggle_pause)
        if stop is not None:
            stop.clicked.connect(self.stop)
        self._progress, self._speed, self._message = progress, speed, message
        self._lock = list(lock)
        self._set_running_ui(False)
        return self

    def on(self, event_type: type, fn: Callable, *, batched: bool = False) -> "TrainingSession":
        """Call ``fn(event)`` for every event of ``event_type`` (subclasses included). With ``batched``,
        ``fn`` gets a list of consecutive such events per delivery (for per-batch curves)."""
        self._handlers.setdefault(event_type, []).append((fn, batched))
        return self

    def on_done(self, fn: Callable[[Any], None]) -> "TrainingSession":
        """``fn(result)`` with the ``Finished`` or ``Failed`` result, after the standard end-of-run UI."""
        self._done.append(fn)
        return self

    #: set by the tab: ``lambda: start_training()``, for a Start button bound here
    start_requested: Callable[[], None] | None = None

    def _start_clicked(self) -> None:
        if self.start_requested is not None:
            self.start_requested()

    # -- lifecycle ---------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.runner.is_running()

    def start(self, build: BuildFn, *, resume_from=None, title: str = "the training",
              epochs: int = 0) -> bool:
        """Start ``build(callbacks, control).fit(resume_from)`` in the worker thread; False when one runs."""
        if self.runner.is_running():
            return False
        self.title = title
        self.paused = self.stopping = False
        self.epochs, self.start_epoch = int(epochs), 0
        self.run_dir = None
        self.last_batch = None
        self.failed_event = None
        self.last_result = None
        self.started_at = time.perf_counter()
        self.runner.start(build, resume_from=resume_from)
        if self._progress is not None:
            self._progress.setRange(0, 0)            # busy until the first batch says how many there are
            self._progress.setFormat("Preparing…")
        if self._speed is not None:
            self._speed.setText("")
        self._busy(title[:1].upper() + title[1:])
        self._say(self.messages["preparing"].format(title=title))
        self._set_running_ui(True)
        self.started.emit()
        return True

    def toggle_pause(self) -> None:
        if not self.runner.is_running() or self.stopping:
            return
        if self.paused:
            self.runner.resume()
            self.paused = False
            self._busy(self.title[:1].upper() + self.title[1:])
            self._say(self.messages["resumed"])
        else:
            self.runner.pause()
            self.paused = True
            self._busy("Paused: " + self.title)
            self._say(self.messages["paused"])
        if self._pause_button is not None:
            self._pause_button.setText("Resume" if self.paused else "Pause")

    def stop(self) -> None:
        if not self.runner.is_running():
            return
        self.stopping = True
        self.runner.stop()
        for b in (self._pause_button, self._stop_button):
            if b is not None:
                b.setEnabled(False)
        self._busy("Stopping: " + self.title)
        self._say(self.messages["stopping"])

    def shutdown(self, msecs: int = 30000) -> bool:
        """Stop and wait (the window is closing)."""
        return self.runner.shutdown(msecs)

    def wait(self, msecs: int = 30000) -> bool:
        return self.runner.wait(msecs)

    # -- events ------------------------------------------------------------------------------------
    def _handlers_for(self, ev: Event) -> list[tuple[Callable, bool]]:
        out: list[tuple[Callable, bool]] = []
        for cls in type(ev).__mro__:
            out.extend(self._handlers.get(cls, ()))
        return out

    @Slot(list)
    def _on_events(self, events: list) -> None:
        run: list[Event] = []              # consecutive events of one type, for batched handlers
        for ev in events:
            self._track(ev)
            if run and type(run[0]) is not type(ev):
                self._dispatch_run(run)
                run = []
            run.append(ev)
        if run:
            self._dispatch_run(run)

    def _dispatch_run(self, run: list[Event]) -> None:
        for fn, batched in self._handlers_for(run[0]):
            if batched:
                fn(run)
            else:
                for ev in run:
                    fn(ev)

    def _track(self, ev: Event) -> None:
        """The progress bar, the speed line and the run's facts, from the events themselves."""
        bar = self._progress
        if isinstance(ev, BatchEnd):
            self.last_batch = ev
            if bar is not None:
                total = self.epochs * ev.batches if self.unit == "epoch" else self.epochs
                bar.setRange(0, max(1, total))
                bar.setValue((ev.epoch - 1) * ev.batches + ev.batch if self.unit == "epoch" else ev.step)
                bar.setFormat(f"Epoch {ev.epoch} of {self.epochs} · batch {ev.batch} of {ev.batches}"
                              if self.unit == "epoch" else f"Step {ev.step:,} of {self.epochs:,}")
            if self._speed is not None:
                self._speed.setText(self.speed_text(ev))
        elif isinstance(ev, RunStarted):
            self.run_dir = ev.run_dir
            self.epochs, self.start_epoch = ev.epochs, ev.start_epoch
            if bar is not None and self.unit == "epoch":
                bar.setRange(0, max(1, ev.epochs * ev.batches_per_epoch))
                bar.setValue(ev.start_epoch * ev.batches_per_epoch)
        elif isinstance(ev, EpochStart):
            if bar is not None and self.unit == "epoch":
                bar.setFormat(f"Epoch {ev.epoch} of {ev.epochs}")
        elif isinstance(ev, Preparing):
            if bar is not None:
                bar.setRange(0, max(1, ev.total))
                bar.setValue(ev.done)
                bar.setFormat(f"{ev.what}: {ev.done:,} of {ev.total:,} pictures")
        elif isinstance(ev, EvalStart):
            if bar is not None:
                bar.setFormat(f"Epoch {ev.epoch} of {self.epochs} · testing…")
        elif isinstance(ev, Failed):
            self.failed_event = ev
        elif isinstance(ev, Paused):
            pass

    @Slot(object)
    def _on_finished(self, result) -> None:
        if isinstance(result, Failed) and self.failed_event is not None:
            result = self.failed_event      # the trainer's own, plain-language account
        self.last_result = result
        self.paused = self.stopping = False
        self._set_running_ui(False)
        self._busy("")
        if self._speed is not None:
            self._speed.setText("")         # a speed or time left frozen after the end would lie
        bar = self._progress
        if bar is not None:
            if isinstance(result, Failed):
                bar.setRange(0, 1)
                bar.setValue(0)
                bar.setFormat("Failed")
            elif isinstance(result, Finished) and result.reason == "stopped":
                b = self.last_batch
                if self.unit != "epoch":
                    done = b.step if b is not None else 0
                    bar.setRange(0, max(1, self.epochs))
                    bar.setValue(done)
                    bar.setFormat(f"Stopped after {done:,} of {self.epochs:,} steps")
                elif b is not None and b.batch < b.batches and b.epoch == result.epoch + 1:
                    bar.setRange(0, max(1, self.epochs * b.batches))
                    bar.setValue((b.epoch - 1) * b.batches + b.batch)
                    bar.setFormat(f"Stopped during epoch {b.epoch} (batch {b.batch} of {b.batches})")
                else:
                    bar.setFormat(f"Stopped after epoch {result.epoch} of {self.epochs}")
            else:
                bar.setRange(0, 1)
                bar.setValue(1)
                secs = result.seconds if isinstance(result, Finished) else 0.0
                bar.setFormat(f"Done: {result.epoch} {self.unit}(s) in {hms(secs)}" if self.unit == "epoch"
                              else f"Done in {hms(secs)}")
        for fn in self._done:
            fn(result)
        self.finished.emit(result)

    # -- helpers -------------------------------------------------------------------------------------
    def _set_running_ui(self, running: bool) -> None:
        if self._start_button is not None:
            self._start_button.setEnabled(not running)
        if self._pause_button is not None:
            self._pause_button.setEnabled(running)
            self._pause_button.setText("Pause")
        if self._stop_button is not None:
            self._stop_button.setEnabled(running)
        for w in self._lock:
            w.setEnabled(not running)

    def _busy(self, text: str) -> None:
        if self.state is not None and self.busy_key:
            self.state.set_busy(self.busy_key, text)

    def _say(self, text: str) -> None:
        if self._message is not None and text:
            self._message.show_message(text, "info")


__all__ = ["TrainingRunner", "TrainingSession", "Finished", "Failed", "hms", "images_per_second"]
