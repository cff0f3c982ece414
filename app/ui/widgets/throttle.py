"""Redraw throttling: many data updates, at most ``max_rate`` redraws a second, none while idle."""
from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QObject, QTimer


class RedrawThrottle(QObject):
    """Call ``redraw`` at most ``max_rate`` times a second, and only after ``mark()`` said it is dirty.

    ``mark()`` is cheap (a flag and, when needed, starting a single-shot timer), so it can be called
    for every incoming data point. The timer does not run while nothing changes.

    The pause between redraws also adapts to what a redraw costs: at most ``budget`` of the GUI
    thread's time goes to redrawing (a redraw that takes 10 ms with ``budget=0.1`` waits at least
    100 ms before the next), so a slow machine or a huge plot never starves the event loop.
    """

    def __init__(self, redraw: Callable[[], None], max_rate: float = 20.0, parent: QObject | None = None,
                 budget: float = 0.1):
        super().__init__(parent)
        self._redraw = redraw
        self._min_interval = 1.0 / max_rate
        self._interval = self._min_interval
        self._budget = budget
        self._dirty = False
        self._last = 0.0
        self.redraws = 0                    # how many redraws ran (for tests and benchmarks)
        self.last_cost = 0.0                # seconds the last redraw took
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
        start = time.perf_counter()
        self.redraws += 1
        self._redraw()
        self._last = time.perf_counter()
        self.last_cost = self._last - start
        self._interval = max(self._min_interval, self.last_cost / self._budget)
