"""Redraw throttling: many data updates, at most ``max_rate`` redraws a second, none while idle."""
from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QObject, QTimer


class RedrawThrottle(QObject):
    """Call ``redraw`` at most ``max_rate`` times a second, and only after ``mark()`` said it is dirty.

    ``mark()`` is cheap (a flag and, when needed, starting a single-shot timer), so it can be called
    for every incoming data point. The timer does not run while nothing changes.
    """

    def __init__(self, redraw: Callable[[], None], max_rate: float = 20.0, parent: QObject | None = None):
        super().__init__(parent)
        self._redraw = redraw
        self._interval = 1.0 / max_rate
        self._dirty = False
        self._last = 0.0
        self.redraws = 0                    # how many redraws ran (for tests and benchmarks)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fire)

    @property
    def dirty(self) -> bool:
        return self._dirty

    def mark(self) -> None:
        self._dirty = True
        if not self._timer.isActive():
            wait = self._interval - (time.perf_counter() - self._last)
            self._timer.start(max(0, int(wait * 1000)))

    def flush(self) -> None:
        """Redraw now if dirty (e.g. at the end of a run, or before a screenshot)."""
        self._timer.stop()
        if self._dirty:
            self._fire()

    def _fire(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._last = time.perf_counter()
        self.redraws += 1
        self._redraw()
