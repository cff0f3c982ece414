"""Short background jobs for the tabs (loading a model, predicting, exporting, sampling)."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot


class Jobs(QObject):
    """Short background jobs (loading a model, predicting, exporting) off the GUI thread.

    ``run(fn, on_done)`` calls ``fn()`` in a Python thread and later ``on_done(result, error)`` in the
    GUI thread (through a queued signal).
    """

    _done = Signal(object, object, object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.pending = 0
        self._threads: list[threading.Thread] = []
        self._done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def run(self, fn: Callable[[], Any], on_done: Callable[[Any, BaseException | None], None]) -> None:
        def target() -> None:
            try:
                result, error = fn(), None
            except BaseException as exc:  # delivered to on_done, shown in the tab
                result, error = None, exc
            self._done.emit(on_done, result, error)

        self.pending += 1
        t = threading.Thread(target=target, name="visiondesk-job", daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    @Slot(object, object, object)
    def _deliver(self, on_done, result, error) -> None:
        self.pending -= 1
        on_done(result, error)

    def wait(self, seconds: float = 10.0) -> None:
        end = time.monotonic() + seconds
        for t in list(self._threads):
            t.join(max(0.0, end - time.monotonic()))
