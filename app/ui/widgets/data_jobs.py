"""Background jobs for the tabs (loading a data set, building a model), one at a time, in order.

``JobThread.submit(fn)`` queues ``fn(report)`` on a private ``QThreadPool`` with one thread;
``report(done, total)`` may be called from the job to send progress. Results come back in the GUI
thread through the ``finished`` (job id, result) or ``failed`` (job id, exception) signals. The job
itself never touches a widget: it only returns a value or raises. Cancelling is the job's business
(pass it a flag to check). Destroying the owner waits for the running job instead of aborting.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

Job = Callable[[Callable[[int, int], None]], Any]


class _Signals(QObject):
    """Per-job signals; emitted from the pool thread, delivered (queued) in the GUI thread."""

    progress = Signal(int, int, int)     # job id, done, total
    done = Signal(int, object, object)   # job id, result, exception (one of them is None)


class _Task(QRunnable):
    def __init__(self, job_id: int, fn: Job):
        super().__init__()
        self.setAutoDelete(False)        # Python keeps it until its result has arrived
        self.job_id = job_id
        self.fn = fn
        self.signals = _Signals()

    def run(self) -> None:
        def report(done: int, total: int) -> None:
            self.signals.progress.emit(self.job_id, int(done), int(total))

        try:
            result = self.fn(report)
        except BaseException as exc:  # every failure goes back to the GUI thread, which decides
            self.signals.done.emit(self.job_id, None, exc)
            return
        self.signals.done.emit(self.job_id, result, None)


class JobThread(QObject):
    """A queue of background jobs run one after another; the GUI thread never waits on them."""

    progress = Signal(int, int, int)   # job id, done, total
    finished = Signal(int, object)     # job id, result
    failed = Signal(int, object)       # job id, exception

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self._ids = itertools.count(1)
        self._tasks: dict[int, _Task] = {}
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._closed = False

    def submit(self, fn: Job) -> int:
        """Queue ``fn(report)``; returns the job id the signals will carry."""
        if self._closed:
            raise RuntimeError("the job queue has been shut down")
        job_id = next(self._ids)
        task = _Task(job_id, fn)
        task.signals.progress.connect(self.progress)
        task.signals.done.connect(self._on_done)
        self._tasks[job_id] = task
        self._pool.start(task)
        return job_id

    def is_busy(self) -> bool:
        return bool(self._tasks)

    @Slot(int, object, object)
    def _on_done(self, job_id: int, result: Any, error: Any) -> None:
        self._tasks.pop(job_id, None)
        if error is not None:
            self.failed.emit(job_id, error)
        else:
            self.finished.emit(job_id, result)

    def shutdown(self, msecs: int = 60000) -> bool:
        """Drop the jobs not yet started and wait for the running one; True when none is left."""
        self._closed = True
        self._pool.clear()
        ended = self._pool.waitForDone(msecs)
        if ended:
            self._tasks.clear()
        return ended
