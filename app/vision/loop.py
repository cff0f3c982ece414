"""What the two live loops share (``live.LiveSession`` for keypoints, ``classify.ClassifyLive`` for Try it):
stopping from any thread, and reporting their state to whoever shows it."""
from __future__ import annotations

import threading
from typing import Callable, Optional


class LoopControl:
    """Mixin of a live loop that owns ``_stop`` (a ``threading.Event``), ``reader`` (its
    ``LatestFrameReader`` once running, else None) and ``on_status(state, message)`` (or None)."""

    _stop: threading.Event
    reader: object
    on_status: Optional[Callable[[str, str], None]]

    def stop(self) -> None:
        """Ask the loop to end after the current frame and release the source (any thread)."""
        self._stop.set()
        if self.reader is not None:
            self.reader.stop(timeout=0)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _status(self, state: str, message: str = "") -> None:
        if self.on_status is not None:
            self.on_status(state, message)


__all__ = ["LoopControl"]
