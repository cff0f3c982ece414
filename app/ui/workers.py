"""One way to run anything off the GUI thread: a ``Worker`` (a function in its own thread, results by queued signal).

Every background job of the GUI goes through this module: training (``app.ui.session``), loading a
data set, building a model, predicting, exporting (``Jobs``), and the live camera loop (a long-running
``Worker`` with ``latest_only``). The function that runs in the thread never touches a widget; it gets a
``WorkerContext`` to send values and progress to the GUI thread and to see whether it was cancelled.

The shape follows superqt's ``GeneratorWorker`` and Orange's ``ConcurrentWidgetMixin``: the GUI thread
asks, the worker thread computes, and every result comes back through a queued signal. ``done`` is
delivered once, after the thread has ended, so a new job started from ``on_done`` never races the old one.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, Signal, Slot

from app.core.errors import UserError


class Cancelled(Exception):
    """Raised by ``WorkerContext.check()`` when the GUI cancelled the job."""


class WorkerContext:
    """What a background function receives: ``emit`` values, ``report`` progress, ``cancelled``."""

    def __init__(self, inner: "_Inner", latest_only: bool):
        self._inner = inner
        self._latest_only = latest_only
        self._lock = threading.Lock()
        self._latest: Any = None
        self._waiting = False
        self.cancel_event = threading.Event()
        self.dropped = 0                    # values replaced before the GUI took them (latest_only)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Raise ``Cancelled`` when the job was cancelled (call it between steps)."""
        if self.cancel_event.is_set():
            raise Cancelled()

    def emit(self, value: Any) -> None:
        """Send ``value`` to the GUI thread. With ``latest_only`` a value the GUI has not taken yet is
        replaced by the newer one (a live view shows the newest frame, never a queue of stale ones)."""
        if not self._latest_only:
            self._inner.value.emit(value)
            return
        with self._lock:
            if self._waiting:
                self.dropped += 1
            self._latest = value
            post, self._waiting = not self._waiting, True
        if post:
            self._inner.ready.emit()

    def send(self, value: Any) -> None:
        """Send ``value`` through ``value`` even with ``latest_only``: for the few messages that must all
        arrive (a live loop's state changes), next to the stream of results that may be replaced."""
        self._inner.value.emit(value)

    def take(self) -> Any:
        """The newest value (GUI thread, ``latest_only``); None when it was already taken."""
        with self._lock:
            value, self._latest = self._latest, None
            self._waiting = False
        return value

    def report(self, done: int, total: int) -> None:
        self._inner.progress.emit(int(done), int(total))


class _Inner(QObject):
    """Lives in the worker thread; its signals cross to the GUI thread queued."""

    value = Signal(object)
    ready = Signal()
    progress = Signal(int, int)
    done = Signal(object, object)

    def __init__(self, fn: Callable[[WorkerContext], Any]):
        super().__init__()
        self.fn = fn
        self.ctx: WorkerContext | None = None

    @Slot()
    def run(self) -> None:
        try:
            result, error = self.fn(self.ctx), None
        except BaseException as exc:   # every failure goes back to the GUI thread, which decides
            result, error = None, exc
        self.done.emit(result, error)


def describe_error(exc: BaseException) -> tuple[str, str, bool]:
    """(one-line summary, technical details, is it the person's mistake) of an exception."""
    user = isinstance(exc, UserError)
    summary = str(exc) if user else f"{type(exc).__name__}: {exc}".splitlines()[0]
    return summary, "".join(traceback.format_exception(exc)), user


class Worker(QObject):
    """Runs ``fn(ctx)`` once in its own thread.

    The thread is a plain Python thread: a ``QThread`` whose ``started`` signal runs a Python slot could
    deadlock with the GUI thread (PySide calls some C++ constructors with the interpreter lock held while
    the new thread, holding a Qt lock, waited for it; seen as a hang while the window was being built).
    Values and the result still reach the GUI thread only through queued signals.

    Signals, all in the GUI thread: ``value(object)`` for each ``ctx.emit`` (or ``ready()`` with
    ``latest_only``: then call ``take()``), ``progress(done, total)``, and ``finished(result, error)``
    once the thread has ended (``error`` is the exception, or None).
    """

    value = Signal(object)
    ready = Signal()
    progress = Signal(int, int)
    finished = Signal(object, object)

    def __init__(self, fn: Callable[[WorkerContext], Any], *, name: str = "visiondesk-worker",
                 latest_only: bool = False, parent: QObject | None = None):
        super().__init__(parent)
        self._fn = fn
        self._name = name
        self._latest_only = latest_only
        self._thread: threading.Thread | None = None
        self._inner: _Inner | None = None
        self.ctx: WorkerContext | None = None
        self.result: Any = None
        self.error: BaseException | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("this worker is already running")
        inner = _Inner(self._fn)              # lives in the GUI thread; emitting from the worker queues
        self.ctx = inner.ctx = WorkerContext(inner, self._latest_only)
        inner.value.connect(self._on_value)
        inner.ready.connect(self._on_ready)
        inner.progress.connect(self._on_progress)
        inner.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        thread = threading.Thread(target=inner.run, name=self._name, daemon=True)
        self._thread, self._inner = thread, inner
        thread.start()

    # -- GUI side ---------------------------------------------------------------------------------
    def is_running(self) -> bool:
        """True from ``start`` until ``finished`` was delivered."""
        return self._thread is not None

    def cancel(self) -> None:
        if self.ctx is not None:
            self.ctx.cancel_event.set()

    def take(self) -> Any:
        return self.ctx.take() if self.ctx is not None else None

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the thread ends and deliver its result now (used when the window closes)."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(msecs / 1000)
        if thread.is_alive():
            return False
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        return self._thread is None

    @Slot(object)
    def _on_value(self, v: Any) -> None:
        self.value.emit(v)

    @Slot()
    def _on_ready(self) -> None:
        self.ready.emit()

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress.emit(done, total)

    @Slot(object, object)
    def _on_done(self, result: Any, error: Any) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(5)
        self._thread = self._inner = None
        self.result, self.error = result, error
        self.finished.emit(result, error)


def live_loop_worker(loop, name: str, parent: QObject | None = None) -> Worker:
    """A started ``Worker`` running a live loop (``vision.live.LiveSession``, ``vision.classify.ClassifyLive``):
    ``ready``/``take()`` give the newest result only (older ones are replaced, never queued: the newest frame
    wins); ``value`` carries every state change as ("status", state, text). A loop reporting several values
    per frame (``on_result(res, stats)``) gives them as one tuple."""
    def run(ctx):
        loop.on_result = lambda *result: ctx.emit(result if len(result) > 1 else result[0])
        loop.on_status = lambda state, text: ctx.send(("status", state, text))
        return loop.run()

    worker = Worker(run, name=name, latest_only=True, parent=parent)
    worker.start()
    return worker


def stop_live_loop(worker: Worker, loop, stopping: list, wait_ms: int) -> None:
    """Ask a live loop and its worker to end, keep the worker in ``stopping`` until its ``done`` arrives,
    and wait up to ``wait_ms`` (a loop still loading a large model ends on its own later)."""
    loop.stop()
    worker.cancel()
    stopping.append(worker)
    worker.wait(wait_ms)


def release_live_worker(worker: Worker, stopping: list) -> None:
    """A live-loop worker finished: forget it and free it with its last Python reference, here in the GUI
    thread (as ``Jobs`` does: no deferred ``deleteLater``). Its ``finished`` slots are cut too: a slot that
    names the worker would otherwise keep it in a reference cycle, and the garbage collector could then
    destroy it later from another thread, which deadlocks Qt."""
    if worker in stopping:
        stopping.remove(worker)
    worker.finished.disconnect()
    worker.setParent(None)


class Jobs(QObject):
    """Short background jobs of one tab (load a model, predict, export, sample), each in a ``Worker``.

    ``run(fn, on_done)`` calls ``fn()`` off the GUI thread and then ``on_done(result, error)`` in the
    GUI thread. With ``serial=True`` jobs run one after another in the order they were asked for (a
    data set load must not overtake the previous one); ``fn`` then may take a ``report(done, total)``
    argument (``progress=True``) whose calls reach ``on_progress(done, total)``.
    """

    def __init__(self, parent: QObject | None = None, serial: bool = False):
        super().__init__(parent)
        self.serial = serial
        self._running: list[Worker] = []
        self._queue: list[Worker] = []
        self._closed = False

    @property
    def pending(self) -> int:
        return len(self._running) + len(self._queue)

    def is_busy(self) -> bool:
        return self.pending > 0

    def run(self, fn: Callable[..., Any], on_done: Callable[[Any, BaseException | None], None], *,
            progress: bool = False, on_progress: Callable[[int, int], None] | None = None) -> Worker:
        if self._closed:
            raise RuntimeError("the jobs of this tab have been shut down")
        worker = Worker((lambda ctx: fn(ctx.report)) if progress else (lambda ctx: fn()),
                        name="visiondesk-job", parent=self)
        if on_progress is not None:
            worker.progress.connect(on_progress)

        def finished(result, error, w=worker):
            if w in self._running:
                self._running.remove(w)
            # No deleteLater: a deferred delete of the finished worker crashed the event loop at random
            # (seen with the Data tab's loads). Cut its references instead, so the worker is freed here,
            # in the GUI thread, as soon as the last Python reference goes, and the garbage collector
            # never frees it later from another thread.
            w.finished.disconnect(finished)
            w.setParent(None)
            self._next()
            try:
                on_done(result, error)
            finally:
                w._fn = None
                w.ctx = None
                w.result = w.error = None

        worker.finished.connect(finished)
        self._queue.append(worker)
        self._next()
        return worker

    def _next(self) -> None:
        while self._queue and not (self.serial and self._running):
            w = self._queue.pop(0)
            self._running.append(w)
            w.start()

    def wait(self, seconds: float = 10.0) -> bool:
        """Wait for every job (queued ones included) and deliver their results; True when none is left."""
        end = time.monotonic() + seconds
        while self.pending and time.monotonic() < end:
            for w in list(self._running):
                w.wait(max(1, int(1000 * (end - time.monotonic()))))
            QCoreApplication.processEvents()
        return not self.pending

    def shutdown(self, msecs: int = 60000) -> bool:
        """Drop the jobs not yet started and wait for the running ones."""
        self._closed = True
        self._queue.clear()
        end = time.monotonic() + msecs / 1000
        ok = True
        for w in list(self._running):
            w.cancel()
            ok = w.wait(max(1, int(1000 * (end - time.monotonic())))) and ok
        return ok
