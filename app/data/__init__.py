"""Data sets as in-memory uint8 tensors, and batches made on the training device.

``load_dataset(name, root)`` is the one entry point the engine, the CLI and the GUI call.
No Qt here: torch, torchvision, numpy and Pillow only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from app.core.errors import DataError
from app.core.paths import default_data_root

from .base import ImageDataset, ImageSplit
from .batches import Augment, DeviceLoader, default_augment, subset_class
from .builtin import DatasetNotFound, load_builtin
from .common import CancelFn, Cancelled, ProgressFn, channel_stats, parse_size, resize_split
from .folder import load_folder
from .idx import read_idx, write_idx
from .sample import load_sample
from .table import ColumnSummary, TableDataset, TableEncoder, TableLoader, load_csv, read_csv, suggest_target

DATASETS: dict[str, str] = {
    "fashion-mnist-sample": "Fashion-MNIST sample shipped with VisionDesk: clothes, 28x28 grey, "
                            "10 classes, 10,000 train / 2,000 test (works offline)",
    "mnist": "MNIST handwritten digits: 28x28 grey, 10 classes, 60,000 train / 10,000 test",
    "fashion-mnist": "Fashion-MNIST clothes: 28x28 grey, 10 classes, 60,000 train / 10,000 test",
    "cifar10": "CIFAR-10 photos: 32x32 colour, 10 classes, 50,000 train / 10,000 test",
    "folder": "Your own images: a folder with one sub-folder per class (any size, grey or colour)",
}

# Table sources (rows of numbers and words, not images): ``load_dataset`` returns a ``TableDataset``.
# Kept apart from DATASETS so a screen listing image data sets does not offer a table by surprise.
TABLES: dict[str, str] = {
    "csv": "Your own table: a CSV file; choose the column to predict (numbers standardised, few-valued "
           "text one-hot encoded, free text dropped)",
}

_ALIASES = {
    "fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist",
    "cifar-10": "cifar10", "cifar_10": "cifar10",
    "fashion_mnist_sample": "fashion-mnist-sample", "sample": "fashion-mnist-sample",
    "imagefolder": "folder",
}


def canonical_name(name: str) -> str:
    """The data set name as used in ``DATASETS`` (accepts a few common spellings)."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise DataError(f"Unknown data set {name!r}; choose one of: {', '.join(DATASETS)}.")
    return key


def load_dataset(name: str, root=None, *, size=None, download: bool = False,
                 progress: ProgressFn = None, cancel: CancelFn = None, test_fraction: float = 0.2,
                 seed: int = 0, channels: Optional[int] = None, target: Optional[str] = None,
                 fallback_size=None):
    """Load a data set by name.

    * ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``: from ``root`` (default ``default_data_root()``),
      downloaded by torchvision when ``download`` is True.
    * ``"fashion-mnist-sample"``: the sample shipped in ``resources/`` (``root`` is ignored).
    * ``"folder"``: ``root`` is the image folder (one sub-folder per class); ``size``, ``channels``,
      ``test_fraction`` and ``seed`` apply; ``fallback_size`` is the size pictures of mixed (or large)
      sizes get when ``size`` is None (see ``load_folder``).

    * ``"csv"``: ``root`` is the CSV file; ``target`` names the column to predict (None: the suggested
      one); ``test_fraction`` and ``seed`` apply. Returns a ``TableDataset`` (see ``app.data.table``).

    ``size`` (int or (height, width)) resizes built-in sets too. Raises ``DataError`` (or
    ``OfflineError``) with a plain-language message, ``Cancelled`` when ``cancel()`` returns True.
    """
    if str(name).strip().lower() == "csv":
        if root is None:
            raise DataError("Choose a CSV file first (--data-root FILE.csv).")
        return load_csv(root, target, test_fraction=test_fraction, seed=seed)
    key = canonical_name(name)
    if key == "folder":
        if root is None:
            raise DataError("Choose a folder of images first (one sub-folder per class).")
        return load_folder(root, size=size, channels=channels, test_fraction=test_fraction,
                           seed=seed, progress=progress, cancel=cancel, fallback_size=fallback_size)
    new_size = parse_size(size)
    if channels not in (None, 1, 3):
        raise DataError(f"Channels must be 1 (grey) or 3 (colour), not {channels!r}.")
    if key == "fashion-mnist-sample":
        ds = load_sample(key)
    else:
        ds = load_builtin(key, Path(root) if root is not None else default_data_root(),
                          download=download, progress=progress, cancel=cancel)
    return _reshape(ds, new_size, channels)


def _reshape(ds: ImageDataset, size, channels) -> ImageDataset:
    """Resize and/or change the number of channels of a loaded data set (whole-tensor operations)."""
    changed = False
    train, test = ds.train, ds.test
    if channels is not None and channels != ds.channels:
        if channels == 3:
            train = ImageSplit(train.images.expand(-1, 3, -1, -1).contiguous(), train.labels)
            test = ImageSplit(test.images.expand(-1, 3, -1, -1).contiguous(), test.labels)
        else:
            weights = (0.299, 0.587, 0.114)

            def grey(x):
                y = sum(w * x[:, i:i + 1].float() for i, w in enumerate(weights))
                return y.round_().clamp_(0, 255).to(x.dtype)
            train, test = ImageSplit(grey(train.images), train.labels), ImageSplit(grey(test.images), test.labels)
        changed = True
    if size is not None and tuple(size) != ds.size:
        train, test = resize_split(train, size), resize_split(test, size)
        changed = True
    if not changed:
        return ds
    mean, std = channel_stats(train.images)
    h, w = train.images.shape[2:]
    return ImageDataset(name=ds.name, train=train, test=test, classes=ds.classes, mean=mean, std=std,
                        source=ds.source, skipped=ds.skipped,
                        notes=[*ds.notes, f"Converted to {w}x{h}, {train.images.shape[1]} channel(s)."])


__all__ = [
    "DATASETS", "TABLES", "Augment", "ColumnSummary", "TableDataset", "TableEncoder", "TableLoader", "load_csv",
    "read_csv", "suggest_target", "Cancelled", "DataError", "DatasetNotFound", "DeviceLoader", "ImageDataset",
    "ImageSplit", "canonical_name", "default_augment", "default_data_root", "load_builtin",
    "load_dataset", "load_folder", "load_sample", "read_idx", "subset_class", "write_idx",
]
