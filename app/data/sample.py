"""Small data sets shipped inside ``resources/`` so VisionDesk works offline from the first start."""
from __future__ import annotations

import zipfile

import numpy as np
import torch

from app.core.errors import DataError
from app.core.paths import resources_dir

from .base import ImageDataset, ImageSplit
from .common import channel_stats

SAMPLES: dict[str, str] = {
    "fashion-mnist-sample": "fashion-mnist-sample.npz",
}


def load_sample(name: str = "fashion-mnist-sample") -> ImageDataset:
    """Load an embedded sample (``resources/<name>.npz``: x_train, y_train, x_test, y_test, classes)."""
    if name not in SAMPLES:
        raise DataError(f"Unknown sample data set {name!r}; choose one of {', '.join(SAMPLES)}.")
    path = resources_dir() / SAMPLES[name]
    if not path.is_file():
        raise DataError(f"The sample data file {path} is missing; reinstall VisionDesk.")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test", "classes")}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"The sample data file {path} is damaged ({e}); reinstall VisionDesk.") from None

    def split(x: np.ndarray, y: np.ndarray) -> ImageSplit:
        images = torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8))
        if images.dim() == 3:
            images = images.unsqueeze(1)
        return ImageSplit(images, torch.from_numpy(y.astype(np.int64)))

    train = split(arrays["x_train"], arrays["y_train"])
    test = split(arrays["x_test"], arrays["y_test"])
    classes = [str(c) for c in arrays["classes"]]
    mean, std = channel_stats(train.images)
    return ImageDataset(
        name=name, train=train, test=test, classes=classes, mean=mean, std=std,
        source=f"embedded sample ({path.name})",
        notes=[f"A sample of Fashion-MNIST shipped with VisionDesk: {len(train)} training and "
               f"{len(test)} test images, the same number per class (MIT licence, Zalando SE)."],
    )
