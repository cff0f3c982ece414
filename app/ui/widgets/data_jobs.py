"""One background thread that runs short jobs (loading a data set, building a model) one at a time.

``JobThread.submit(fn)`` queues ``fn(report)`` to run in a ``QThread``; ``report(done, total)`` may be
called from the job to send progress. Results come back in the GUI thread through the ``finished``
(job id, result) or ``failed`` (job id, exception) signals. The job itself never touches a widget:
it only returns a value or raises. Cancelling is the job's business (pass it a flag to check).
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

Job = Callable[[Callable[[int, int], None]], Any]


class _Runner(QObject):
    """Lives in the worker thread; runs each submitted job and reports the outcome."""

    done = Signal(int, object, object)   # job id, result, exception (one of them is None)

    def __init__(self, owner: "JobThread"):
        super().__init__()
        self._owner = owner

    @Slot(int, object)
    def run(self, job_id: int, fn: Job) -> None:
        def report(done: int, total: int) -> None:
            self._owner.progress.emit(job_id, int(done), int(total))

        try:
            result = fn(report)
        except BaseException as exc:  # every failure goes back to the GUI thread, which decides
            self.done.emit(job_id, None, exc)
            return
        self.done.emit(job_id, result, None)


class JobThread(QObject):
    """A persistent worker thread with a queue of jobs; the GUI thread never waits on them."""

    progress = Signal(int, int, int)   # job id, done, total
    finished = Signal(int, object)     # job id, result
    failed = Signal(int, object)       # job id, exception
    _submit = Signal(int, object)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._pending: set[int] = set()
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._runner = _Runner(self)
        self._runner.moveToThread(self._thread)
        self._submit.connect(self._runner.run)
        self._runner.done.connect(self._on_done)
        self._thread.start()

    def submit(self, fn: Job) -> int:
        """Queue ``fn(report)``; returns the job id the signals will carry."""
        if not self._thread.isRunning():
            raise RuntimeError("the job thread has been shut down")
        job_id = next(self._ids)
        self._pending.add(job_id)
        self._submit.emit(job_id, fn)
        return job_id

    def is_busy(self) -> bool:
        return bool(self._pending)

    @Slot(int, object, object)
    def _on_done(self, job_id: int, result: Any, error: Any) -> None:
        self._pending.discard(job_id)
        if error is not None:
            self.failed.emit(job_id, error)
        else:
            self.finished.emit(job_id, result)

    def shutdown(self, msecs: int = 60000) -> bool:
        """Stop the thread once the running job returns (jobs not yet started are dropped).

        Returns True when the thread has ended within ``msecs``."""
        if not self._thread.isRunning():
            return True
        self._thread.quit()
        return self._thread.wait(msecs)
