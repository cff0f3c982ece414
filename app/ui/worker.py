"""The bridge between the training engine and the GUI.

A ``TrainingRunner`` runs a ``Trainer`` in a ``QThread`` through a ``QObject`` worker that never
touches a widget. Engine events are collected in the worker thread and delivered to the GUI thread
through a queued signal, in order, as lists: per-batch events are coalesced so the GUI receives at
most ``max_rate`` deliveries a second; epoch-level events are delivered at once.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread, Qt, Signal, Slot

from app.engine.events import BatchEnd, Event, Failed, Finished
from app.engine.trainer import Control, Trainer
from app.core.errors import UserError

BuildFn = Callable[[list, Control], Trainer]


class _Worker(QObject):
    events = Signal(list)
    done = Signal(object)

    def __init__(self, build: BuildFn, resume_from, control: Control, max_rate: float):
        super().__init__()
        self._build = build
        self._resume_from = resume_from
        self.control = control
        self._interval = 1.0 / max_rate
        self._pending: list[Event] = []
        self._last = 0.0
        self._lock = threading.Lock()
        self._failed: Failed | None = None

    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, Failed):
            self._failed = ev       # the trainer's own account (e.g. out of memory is a user error)
        with self._lock:
            self._pending.append(ev)
            now = time.perf_counter()
            if isinstance(ev, BatchEnd) and now - self._last < self._interval:
                return
            batch, self._pending = self._pending, []
            self._last = now
        self.events.emit(batch)

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            self.events.emit(batch)

    @Slot()
    def run(self) -> None:
        result: Event
        try:
            trainer = self._build([self._on_event], self.control)
            result = trainer.fit(resume_from=self._resume_from)
        except BaseException as exc:  # the trainer already emitted Failed for errors inside fit
            self._flush()
            user = isinstance(exc, UserError)
            result = self._failed or Failed(str(exc) if user else f"{type(exc).__name__}: {exc}".splitlines()[0],
                                            "".join(traceback.format_exception(exc)), 0, None, user)
        self._flush()
        self.done.emit(result)


class TrainingRunner(QObject):
    """Start / pause / resume / stop one training at a time, off the GUI thread."""

    events = Signal(list)        # lists of engine events, in order, in the GUI thread
    finished = Signal(object)    # Finished or Failed, once the thread has ended

    def __init__(self, parent: QObject | None = None, max_rate: float = 20.0):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self.control: Control | None = None
        self._max_rate = max_rate

    def is_running(self) -> bool:
        """True from ``start`` until the result has been delivered (``finished``). The thread itself ends a
        moment earlier: a training started in between would be the one the pending result then
        cleaned up (Qt aborts the process when a running QThread is destroyed)."""
        return self._thread is not None

    def start(self, build: BuildFn, resume_from=None) -> None:
        """``build(callbacks, control)`` makes the Trainer; it runs in the worker thread, so it may
        load data or build models there without blocking the GUI."""
        if self.is_running():
            raise UserError("A training is already running; stop it first.")
        self.control = Control()
        thread = QThread()
        thread.setObjectName("visiondesk-training")
        worker = _Worker(build, resume_from, self.control, self._max_rate)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.events.connect(self.events)
        # quit the thread's event loop from the worker thread itself (QThread.quit is thread-safe):
        # a queued quit would run in the GUI thread only after _on_done, whose wait() would then
        # block the GUI for its whole timeout
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.done.connect(self._on_done)
        thread.finished.connect(worker.deleteLater)
        self._thread, self._worker = thread, worker
        thread.start()

    @Slot(object)
    def _on_done(self, result) -> None:
        thread = self._thread
        if thread is not None:
            thread.wait(5000)
            thread.deleteLater()
        self._thread = None
        self._worker = None
        if isinstance(result, Failed) and not result.user_error:
            # a bug, not a person's mistake: to the app log (run.log has it already) and the error dialog
            from app.ui.main import report_error

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
        thread = self._thread
        if thread is None:
            return True
        if not thread.wait(msecs):
            return False
        # the worker posted its result to this object as it finished: deliver it now, not later
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        return self._thread is None

    def shutdown(self, msecs: int = 30000) -> bool:
        self.stop()
        return self.wait(msecs)


__all__ = ["TrainingRunner", "Finished", "Failed"]
