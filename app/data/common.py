"""Small pieces every data source shares: cancellation, progress throttling, statistics, resizing."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Optional

import torch
import torch.nn.functional as F

from app.core.errors import DataError

from .base import ImageSplit

ProgressFn = Optional[Callable[[int, int], None]]
CancelFn = Optional[Callable[[], bool]]


class Cancelled(Exception):
    """Loading was stopped because ``cancel()`` returned True."""


class Progress:
    """Calls ``progress(done, total)`` at most ``rate`` times per second, plus the first and last call.

    ``check()`` raises ``Cancelled`` when ``cancel()`` returns True.
    """

    def __init__(self, total: int, progress: ProgressFn = None, cancel: CancelFn = None,
                 rate: float = 20.0) -> None:
        self.total = int(total)
        self._progress = progress
        self._cancel = cancel
        self._interval = 1.0 / rate
        self._last = float("-inf")

    def check(self) -> None:
        if self._cancel is not None and self._cancel():
            raise Cancelled("loading was cancelled")

    def __call__(self, done: int, *, force: bool = False) -> None:
        if self._progress is None:
            return
        now = time.monotonic()
        if force or done >= self.total or now - self._last >= self._interval:
            self._last = now
            self._progress(int(done), self.total)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std on the 0..1 scale of uint8 images (N, C, H, W).

    Exact and light on memory: one 256-bin histogram per channel, no float copy of the images.
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"expected uint8 (N, C, H, W) images, got {images.dtype} {tuple(images.shape)}")
    channels = images.shape[1]
    if images.shape[0] == 0 or images[0].numel() == 0:
        return (0.5,) * channels, (0.5,) * channels
    values = torch.arange(256, dtype=torch.float64)
    means, stds = [], []
    for c in range(channels):
        hist = torch.bincount(images[:, c].reshape(-1), minlength=256).to(torch.float64)
        n = hist.sum()
        mean = (hist * values).sum() / n
        var = (hist * (values - mean) ** 2).sum() / n
        means.append(float(mean) / 255.0)
        # A constant channel would give std 0 and divide by zero when normalising.
        stds.append(max(float(var.sqrt()) / 255.0, 1e-3))
    return tuple(means), tuple(stds)


def parse_size(size) -> Optional[tuple[int, int]]:
    """``None``, an int (square) or ``(height, width)`` -> ``(height, width)`` or None."""
    if size is None:
        return None
    if isinstance(size, int):
        h = w = size
    else:
        try:
            h, w = (int(v) for v in size)
        except (TypeError, ValueError):
            raise DataError(f"Image size must be a number or (height, width), not {size!r}.") from None
    if not (4 <= h <= 1024 and 4 <= w <= 1024):
        raise DataError(f"Image size {h}x{w} is outside the supported range 4..1024 pixels.")
    return h, w


def resize_images(images: torch.Tensor, size: tuple[int, int], chunk: int = 4096) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) images to ``size`` (antialiased bilinear), batch-wise."""
    if tuple(images.shape[2:]) == tuple(size):
        return images
    out = torch.empty((images.shape[0], images.shape[1], *size), dtype=torch.uint8)
    for start in range(0, images.shape[0], chunk):
        x = images[start:start + chunk].float()
        y = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        out[start:start + chunk] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def resize_split(split: ImageSplit, size: tuple[int, int]) -> ImageSplit:
    return ImageSplit(resize_images(split.images, size), split.labels)
