"""Generated samples in a grid: click one to select it; marks (e.g. the interpolation ends A and B) in a corner."""
from __future__ import annotations

import math

import torch
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.ui.widgets.images import to_qimage


class SampleGrid(QWidget):
    """Generated samples in a grid; click one to select it. Marks the interpolation ends A and B."""

    sampleClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.images: torch.Tensor | None = None   # uint8 (N, C, H, W)
        self.selected = -1
        self.marks: dict[int, str] = {}
        self.setMinimumSize(QSize(260, 260))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._pixmaps: list[QPixmap] = []

    def set_images(self, images: torch.Tensor | None) -> None:
        self.images = images
        self._pixmaps = [] if images is None else [QPixmap.fromImage(to_qimage(im)) for im in images]
        self.selected = -1 if images is None or self.selected >= len(images) else self.selected
        self.update()

    def count(self) -> int:
        return len(self._pixmaps)

    def columns(self) -> int:
        return max(1, int(math.ceil(math.sqrt(self.count())))) if self.count() else 1

    def cell(self) -> int:
        n = self.count()
        if not n:
            return 0
        cols = self.columns()
        rows = int(math.ceil(n / cols))
        return max(8, min((self.width() - 4) // cols, (self.height() - 4) // rows))

    def cell_rect(self, index: int) -> QRect:
        c = self.cell()
        cols = self.columns()
        rows = int(math.ceil(self.count() / cols))
        x0 = (self.width() - cols * c) // 2
        y0 = (self.height() - rows * c) // 2
        r, k = divmod(index, cols)
        return QRect(x0 + k * c, y0 + r * c, c, c)

    def index_at(self, pos: QPoint) -> int:
        for i in range(self.count()):
            if self.cell_rect(i).contains(pos):
                return i
        return -1

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt)
        i = self.index_at(event.position().toPoint())
        if i >= 0:
            self.select(i)

    def select(self, index: int) -> None:
        if 0 <= index < self.count():
            self.selected = index
            self.update()
            self.sampleClicked.emit(index)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#ffffff"))
        if not self._pixmaps:
            p.setPen(QColor("#777"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       "Load a generator and press Generate:\nits samples appear here. Click one to look closer.")
            p.end()
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        for i, pm in enumerate(self._pixmaps):
            r = self.cell_rect(i).adjusted(1, 1, -1, -1)
            p.drawPixmap(r, pm)
            if i in self.marks:
                p.fillRect(QRect(r.left(), r.top(), 16, 16), QColor(255, 127, 14))
                p.setPen(QColor("white"))
                p.drawText(QRect(r.left(), r.top(), 16, 16), Qt.AlignmentFlag.AlignCenter, self.marks[i])
            if i == self.selected:
                p.setPen(QPen(QColor(31, 119, 180), 3))
                p.drawRect(r.adjusted(1, 1, -2, -2))
        p.end()


__all__ = ["SampleGrid"]
