"""The in-memory image data set every task trains on.

Small data sets live in memory as uint8 tensors (N, C, H, W). They are moved to the training
device once; normalisation and augmentation run batch-wise there (see ``app.data.batches``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ImageSplit:
    images: torch.Tensor  # uint8, (N, C, H, W)
    labels: torch.Tensor  # int64, (N,)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index: torch.Tensor) -> "ImageSplit":
        return ImageSplit(self.images[index], self.labels[index])


@dataclass
class ImageDataset:
    name: str                      # e.g. "mnist", "fashion-mnist-sample", "folder"
    train: ImageSplit
    test: ImageSplit
    classes: list[str]
    mean: tuple[float, ...]        # per channel, on the 0..1 scale (from the train split)
    std: tuple[float, ...]
    source: str = ""               # where it came from (path, "embedded sample", ...)
    skipped: list[str] = field(default_factory=list)   # files that could not be read (path: reason)
    notes: list[str] = field(default_factory=list)     # plain-language remarks for the Data tab

    @property
    def channels(self) -> int:
        return int(self.train.images.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.train.images.shape[2]), int(self.train.images.shape[3])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, *self.size)

    @property
    def num_classes(self) -> int:
        return len(self.classes)
