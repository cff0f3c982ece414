"""Small generated data for tests (no files from ../shared)."""
from __future__ import annotations

import numpy as np
import torch

from app.data.base import ImageDataset, ImageSplit


def separable_images(n: int, classes: int = 4, size: int = 28, channels: int = 1, seed: int = 0):
    """Noise images where class k has a bright block at the k-th position along the diagonal."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    labels = labels[torch.randperm(n, generator=g)]
    x = torch.randint(0, 60, (n, channels, size, size), generator=g, dtype=torch.int64)
    block = max(2, size // (classes + 1))
    for k in range(classes):
        idx = labels == k
        s = k * block
        x[idx, :, s:s + block, s:s + block] += 180
    return x.clamp(0, 255).to(torch.uint8), labels.long()


def tiny_dataset(n_train: int = 256, n_test: int = 64, classes: int = 4, size: int = 28, channels: int = 1,
                 name: str = "tiny") -> ImageDataset:
    xtr, ytr = separable_images(n_train, classes, size, channels, seed=1)
    xte, yte = separable_images(n_test, classes, size, channels, seed=2)
    mean = tuple((xtr.float() / 255).mean(dim=(0, 2, 3)).tolist())
    std = tuple((xtr.float() / 255).std(dim=(0, 2, 3)).tolist())
    return ImageDataset(name, ImageSplit(xtr, ytr), ImageSplit(xte, yte), [f"class{k}" for k in range(classes)],
                        mean, std, source="generated")


def write_idx(path, array: np.ndarray) -> None:
    """Write an IDX file (uint8 data) the way MNIST's files are laid out."""
    import gzip
    import struct

    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    data = header + array.tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def write_mnist_root(root, n_train: int = 120, n_test: int = 40, seed: int = 0) -> None:
    """Four IDX .gz files of separable 28x28 digits-like images, directly in ``root``."""
    from pathlib import Path

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    xtr, ytr = separable_images(n_train, 10, 28, 1, seed=seed)
    xte, yte = separable_images(n_test, 10, 28, 1, seed=seed + 1)
    write_idx(root / "train-images-idx3-ubyte.gz", xtr[:, 0].numpy())
    write_idx(root / "train-labels-idx1-ubyte.gz", ytr.numpy().astype(np.uint8))
    write_idx(root / "t10k-images-idx3-ubyte.gz", xte[:, 0].numpy())
    write_idx(root / "t10k-labels-idx1-ubyte.gz", yte.numpy().astype(np.uint8))


def layout_problems(root) -> list[str]:
    """Visible buttons, labels and combo boxes under ``root`` (a shown Qt widget) that are smaller than their
    minimum size hint, whose text does not fit, or that overlap a visible sibling: what a squeezed layout
    looks like (issue 13: rows over each other, 7-px buttons, "NME 4.2" cut off)."""
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLabel, QStyle, QStyleOptionComboBox, QWidget

    kinds = (QAbstractButton, QLabel, QComboBox)
    out = []
    widgets = [w for w in root.findChildren(QWidget) if w.isVisibleTo(root) and isinstance(w, kinds)]
    for w in widgets:
        name = f"{type(w).__name__} {getattr(w, 'text', lambda: '')() if not isinstance(w, QComboBox) else w.currentText()!r}"
        hint = w.minimumSizeHint()
        if w.width() < hint.width() or w.height() < hint.height():
            out.append(f"{name}: {w.width()}x{w.height()} < minimum {hint.width()}x{hint.height()}")
        if isinstance(w, QComboBox) and w.currentText():
            opt = QStyleOptionComboBox()
            w.initStyleOption(opt)
            field = w.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                             QStyle.SubControl.SC_ComboBoxEditField, w)
            if w.fontMetrics().horizontalAdvance(w.currentText()) > field.width():
                out.append(f"{name}: text cut ({field.width()} px shown)")
    by_parent: dict = {}
    for w in widgets:
        by_parent.setdefault(id(w.parentWidget()), []).append(w)
    for group in by_parent.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if a.geometry().intersects(b.geometry()):
                    out.append(f"{type(a).__name__} and {type(b).__name__} overlap: "
                               f"{a.geometry().getRect()} / {b.geometry().getRect()}")
    return out
