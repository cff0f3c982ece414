"""Batches made on the training device, with no per-sample Python.

The uint8 images of a split are copied to the device once. Every epoch draws one permutation
(and, with augmentation, one set of crop offsets and flip flags) from a CPU generator the trainer
seeds, moves it to the device, and slices batches out of it: index, augment, convert to float and
normalise, all as whole-batch tensor operations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import torch
import torch.nn.functional as F

from app.core.errors import DataError

from .base import ImageDataset, ImageSplit


@dataclass
class Augment:
    """Random crop with zero padding and random horizontal flip, applied to a whole batch."""

    crop_padding: int = 0
    hflip: bool = False

    def __post_init__(self) -> None:
        if self.crop_padding < 0:
            raise ValueError("crop_padding must be >= 0")

    @property
    def active(self) -> bool:
        return self.crop_padding > 0 or self.hflip

    def sample(self, n: int, g: Optional[torch.Generator] = None, device=None
               ) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Random parameters for ``n`` images, drawn from ``g`` on the CPU, then moved to ``device``:
        crop offsets (n, 2) int64 in [0, 2*padding] (or None) and flip flags (n,) bool (or None)."""
        offsets = flips = None
        if self.crop_padding > 0:
            offsets = torch.randint(0, 2 * self.crop_padding + 1, (n, 2), generator=g)
        if self.hflip:
            flips = torch.rand(n, generator=g) < 0.5
        if device is not None:
            offsets = None if offsets is None else offsets.to(device, non_blocking=True)
            flips = None if flips is None else flips.to(device, non_blocking=True)
        return offsets, flips

    def apply_params(self, x: torch.Tensor, offsets: Optional[torch.Tensor],
                     flips: Optional[torch.Tensor]) -> torch.Tensor:
        """Crop at ``offsets`` from the zero-padded batch and flip where ``flips``; one gather."""
        if offsets is None and flips is None:
            return x
        if offsets is None:
            return torch.where(flips.view(-1, 1, 1, 1), x.flip(3), x)
        b, c, h, w = x.shape
        p = self.crop_padding
        hp, wp = h + 2 * p, w + 2 * p
        padded = F.pad(x, (p, p, p, p)).reshape(b, c, hp * wp)
        rows = offsets[:, 0:1] + torch.arange(h, device=x.device)          # (B, H)
        cols = offsets[:, 1:2] + torch.arange(w, device=x.device)          # (B, W)
        if flips is not None:
            cols = torch.where(flips.view(-1, 1), cols.flip(1), cols)
        # Flat index of every output pixel in the padded image, shared by all channels.
        index = (rows.view(b, h, 1) * wp + cols.view(b, 1, w)).view(b, 1, h * w).expand(b, c, h * w)
        return padded.gather(2, index).view(b, c, h, w)

    def apply(self, x: torch.Tensor, g: Optional[torch.Generator] = None) -> torch.Tensor:
        """Augment a batch (uint8 or float, (B, C, H, W)); random numbers come from CPU generator ``g``."""
        if not self.active:
            return x
        offsets, flips = self.sample(x.shape[0], g, device=x.device)
        return self.apply_params(x, offsets, flips)


def default_augment(dataset: ImageDataset) -> Augment:
    """Shift by about 1/8 (colour) or 1/14 (grey) of the side; flip colour photos and clothes, not digits."""
    side = min(dataset.size)
    if dataset.channels == 3:
        return Augment(crop_padding=max(1, round(side / 8)), hflip=True)
    return Augment(crop_padding=max(1, round(side / 14)), hflip=dataset.name.startswith("fashion-mnist"))


def subset_class(split: ImageSplit, k: int) -> ImageSplit:
    """Only the samples of class ``k`` (e.g. to train a GAN on one class)."""
    index = torch.nonzero(split.labels == int(k)).squeeze(1)
    if index.numel() == 0:
        raise DataError(f"There are no images of class {k} in this data set.")
    return split.subset(index)


class DeviceLoader:
    """Yields normalised float32 batches ``(x, y)`` on ``device`` from a split held there as uint8."""

    def __init__(self, split: ImageSplit, batch_size: int, device, *, mean: Sequence[float],
                 std: Sequence[float], shuffle: bool = True, drop_last: bool = False,
                 augment: Optional[Augment] = None, pin_memory: bool = True,
                 rank: int = 0, world_size: int = 1) -> None:
        """``batch_size`` is the global batch. With ``world_size`` > 1 (data-parallel training) every
        rank walks the same shuffled order and takes its own equal slice of each global batch, so N
        ranks together see exactly the batches a single process would."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        images, labels = split.images, split.labels
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"expected uint8 (N, C, H, W) images, got {images.dtype} {tuple(images.shape)}")
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.augment = augment if augment is not None and augment.active else None
        self.num_samples = int(images.shape[0])
        self.rank, self.world_size = int(rank), max(1, int(world_size))
        self._generator: Optional[torch.Generator] = None

        if self.device.type == "cuda":
            if pin_memory:
                images, labels = images.pin_memory(), labels.pin_memory()
            self.images = images.to(self.device, non_blocking=pin_memory)
            self.labels = labels.to(self.device, dtype=torch.int64, non_blocking=pin_memory)
        else:
            self.images = images.to(self.device)
            self.labels = labels.to(self.device, dtype=torch.int64)

        c = images.shape[1]
        mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std_t = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if mean_t.numel() == 1:
            mean_t = mean_t.expand(c)
        if std_t.numel() == 1:
            std_t = std_t.expand(c)
        if mean_t.numel() != c or std_t.numel() != c:
            raise ValueError(f"mean/std have {mean_t.numel()}/{std_t.numel()} values for {c} channels")
        # (x / 255 - mean) / std  ==  x * scale + shift
        self._scale = (1.0 / (255.0 * std_t)).view(1, c, 1, 1).to(self.device)
        self._shift = (-mean_t / std_t).view(1, c, 1, 1).to(self.device)

    def set_generator(self, g: Optional[torch.Generator]) -> None:
        """The CPU generator for the order and the augmentation (None: torch's global generator)."""
        self._generator = g

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        n = math.ceil(self.num_samples / self.batch_size)
        if self.world_size > 1 and n and self.num_samples - (n - 1) * self.batch_size < self.world_size:
            n -= 1  # a last batch too small to give every rank a sample
        return n

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 batch on the device -> normalised float32."""
        return x.to(torch.float32, copy=True).mul_(self._scale).add_(self._shift)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, bs = self.num_samples, self.batch_size
        g = self._generator
        order = torch.randperm(n, generator=g).to(self.device) if self.shuffle else None
        offsets = flips = None
        if self.augment is not None:
            offsets, flips = self.augment.sample(n, g, device=self.device)
        for b in range(len(self)):
            s, e = b * bs, min((b + 1) * bs, n)
            if self.world_size > 1:
                per = (e - s) // self.world_size
                s, e = s + self.rank * per, s + (self.rank + 1) * per
            if order is None:
                x, y = self.images[s:e], self.labels[s:e]
            else:
                idx = order[s:e]
                x, y = self.images.index_select(0, idx), self.labels.index_select(0, idx)
            if self.augment is not None:
                x = self.augment.apply_params(
                    x, None if offsets is None else offsets[s:e], None if flips is None else flips[s:e])
            yield self.normalise(x), y


class TensorBatches:
    """Mini-batches ``(x, y)`` of float samples already in memory (table rows, cached image features),
    held on ``device`` and drawn in one permutation per epoch from the trainer's generator. Same interface
    as ``DeviceLoader`` (``len``, iteration, ``set_generator``, ``num_samples``)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, device, *, shuffle: bool = True,
                 drop_last: bool = False) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.device = torch.device(device)
        self.x = x.to(self.device, torch.float32)
        self.y = y.to(self.device, torch.int64)
        self.num_samples = len(self.x)
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.drop_last = drop_last and self.num_samples > self.batch_size
        self._generator: Optional[torch.Generator] = None

    def set_generator(self, g: Optional[torch.Generator]) -> None:
        self._generator = g

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(self.num_samples, generator=self._generator).to(self.device) if self.shuffle else None
        bs = self.batch_size
        for b in range(len(self)):
            s, e = b * bs, min((b + 1) * bs, self.num_samples)
            if order is None:
                yield self.x[s:e], self.y[s:e]
            else:
                idx = order[s:e]
                yield self.x.index_select(0, idx), self.y.index_select(0, idx)
