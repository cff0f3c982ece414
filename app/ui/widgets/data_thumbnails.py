"""A grid of sample images with their class names under each (a random page; click for another)."""
from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget


def image_to_qimage(image: torch.Tensor | np.ndarray) -> QImage:
    """uint8 (C, H, W) with C = 1 or 3 -> a QImage that owns its pixels."""
    a = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    a = np.ascontiguousarray(a, dtype=np.uint8)
    h, w = a.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if a.ndim == 2 else QImage.Format.Format_RGB888
    return QImage(a.data, w, h, a.strides[0], fmt).copy()


class ThumbnailGrid(QWidget):
    """Paints ``rows`` x ``cols`` images from a split, each with its class name underneath.

    ``set_images(images, labels, classes)`` shows a random page; ``new_page()`` draws another one
    (also on a mouse click). ``page_indices`` are the indices of the images shown.
    """

    clicked = Signal()

    def __init__(self, rows: int = 6, cols: int = 8, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows, self.cols = rows, cols
        self.page_indices: list[int] = []
        self._images: torch.Tensor | None = None
        self._labels: torch.Tensor | None = None
        self._classes: list[str] = []
        self._page: list[tuple[QImage, str]] = []
        self._rng = np.random.default_rng()
        self.empty_text = "No data set loaded yet."
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 260)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click for other images")

    def sizeHint(self) -> QSize:
        return QSize(8 * 76, 6 * 84)

    def set_images(self, images: torch.Tensor | None, labels: torch.Tensor | None, classes: list[str],
                   seed: int | None = None) -> None:
        self._images, self._labels, self._classes = images, labels, list(classes)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.new_page()

    def new_page(self) -> None:
        """Show a new random page of images (without repeats within the page)."""
        self._page = []
        self.page_indices = []
        n = 0 if self._images is None else int(self._images.shape[0])
        if n:
            k = min(n, self.rows * self.cols)
            idx = self._rng.choice(n, size=k, replace=False)
            self.page_indices = [int(i) for i in idx]
            labels = self._labels.numpy() if self._labels is not None else np.zeros(n, dtype=np.int64)
            for i in self.page_indices:
                label = int(labels[i])
                name = self._classes[label] if 0 <= label < len(self._classes) else str(label)
                self._page.append((image_to_qimage(self._images[i]), name))
        self.update()

    def page_labels(self) -> list[str]:
        return [name for _, name in self._page]

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._page:
            self.new_page()
            self.clicked.emit()
        super().mousePressEvent(event)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        if not self._page:
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return
        font = p.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        fm = QFontMetrics(font)
        text_h = fm.height() + 2
        gap = 6
        cell_w = (self.width() - gap) / self.cols
        cell_h = (self.height() - gap) / self.rows
        side = max(8.0, min(cell_w - gap, cell_h - gap - text_h))
        text_colour = pal.color(QPalette.ColorRole.Text)
        frame = QColor(pal.color(QPalette.ColorRole.Mid))
        for k, (image, name) in enumerate(self._page):
            r, c = divmod(k, self.cols)
            x0 = gap + c * cell_w
            y0 = gap + r * cell_h
            # Keep the image's aspect ratio inside a square of `side` pixels, centred in the cell.
            scale = side / max(image.width(), image.height())
            w, h = image.width() * scale, image.height() * scale
            target = QRectF(x0 + (cell_w - gap - w) / 2, y0 + (side - h) / 2, w, h)
            # Small images are enlarged without blurring; large ones are reduced smoothly.
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1.0)
            p.drawImage(target, image)
            p.setPen(frame)
            p.drawRect(target)
            p.setPen(text_colour)
            box = QRect(int(x0), int(y0 + side + 1), int(cell_w - gap), text_h)
            p.drawText(box, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                       fm.elidedText(name, Qt.TextElideMode.ElideRight, box.width()))
        p.end()
