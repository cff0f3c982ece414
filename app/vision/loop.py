"""What the two live loops share (``live.LiveSession`` for keypoints, ``classify.ClassifyLive`` for Try it):
reading the newest frame of the source, stopping from any thread, and reporting their state to whoever
shows it."""
from __future__ import annotations

import threading
from typing import Callable, Iterator, Optional

from app.vision.sources import LatestFrameReader, SourceError


class LoopControl:
    """Mixin of a live loop that owns ``source``, ``_stop`` (a ``threading.Event``), ``reader`` (its
    ``LatestFrameReader`` once running, else None) and ``on_status(state, message)`` (or None)."""

    source: object
    _stop: threading.Event
    reader: object
    on_status: Optional[Callable[[str, str], None]]

    def newest_frames(self, on_idle: Optional[Callable[[], None]] = None,
                      after_error: Callable[[], str] = lambda: "") -> Iterator:
        """The source's frames, newest first (stale ones dropped), until the source ends or ``stop()``.
        ``on_idle()`` runs while no new frame has come; a failing source raises ``SourceError`` with
        its reason followed by ``after_error()``."""
        reader = self.reader = LatestFrameReader(self.source).start()
        last = -1
        while not self._stop.is_set():
            f = reader.get(timeout=0.2, newer_than=last)
            if f is None:
                if on_idle is not None:
                    on_idle()
                state = reader.state
                if state == "error":
                    raise SourceError((reader.error or f"{self.source.name} stopped.") + after_error())
                if state in ("ended", "stopped"):
                    if not self._stop.is_set():
                        self._status("ended", f"{self.source.name} ended.")
                    return
                continue
            last = f.index
            yield f

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
