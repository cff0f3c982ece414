"""numpy / torch images to Qt images (always copied, so the numpy buffer may go away)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def to_hwc(image) -> np.ndarray:
    """uint8 (C, H, W) tensor/array, (H, W) or (H, W, C) -> uint8 (H, W) or (H, W, 3)."""
    a = image.numpy() if hasattr(image, "numpy") else np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[2] not in (1, 3, 4):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    return np.ascontiguousarray(a)


def to_qimage(image) -> QImage:
    a = to_hwc(image)
    h, w = a.shape[:2]
    if a.ndim == 2:
        return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8).copy()
    return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_RGB888).copy()


def to_pixmap(image, size: int | None = None, smooth: bool | None = None) -> QPixmap:
    """A pixmap scaled to fit ``size`` x ``size``; small images are enlarged without blurring."""
    pm = QPixmap.fromImage(to_qimage(image))
    if size:
        if smooth is None:
            smooth = max(pm.width(), pm.height()) > size
        mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
        pm = pm.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)
    return pm


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """A QImage (any format) as RGB uint8 (H, W, 3), copied."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    buf = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return buf[:, : w * 3].reshape(h, w, 3).copy()


#: what a person sees when Paste finds no picture on the clipboard
NO_PICTURE_TO_PASTE = "The clipboard holds no picture: copy one (e.g. in a browser or image viewer), then paste again."


def clipboard_pictures() -> tuple[list[str], np.ndarray | None]:
    """What Paste can use: (local picture files copied in a file manager, []) first, else ([], the copied
    image as RGB uint8), else ([], None)."""
    from PySide6.QtGui import QGuiApplication

    clipboard = QGuiApplication.clipboard()
    data = clipboard.mimeData()
    files = [u.toLocalFile() for u in data.urls() if u.isLocalFile()] if data is not None and data.hasUrls() else []
    if files:
        return files, None
    image = clipboard.image()
    return [], (None if image.isNull() else qimage_to_rgb(image))

