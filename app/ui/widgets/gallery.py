"""A scrollable grid of small images with captions (e.g. the worst-predicted test images)."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from app.ui.widgets.images import to_pixmap


class ImageGallery(QListWidget):
    """Thumbnails in a wrapping grid; each item shows an image and up to three lines of text."""

    def __init__(self, parent: QWidget | None = None, thumb: int = 72):
        super().__init__(parent)
        self.thumb = thumb
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(thumb, thumb))
        self.setGridSize(QSize(thumb + 74, thumb + 44))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setSpacing(2)

    #: the widest a grid cell grows to fit its captions
    MAX_CELL = 220

    def set_images(self, items: list[tuple[object, str, str]]) -> None:
        """``items``: (uint8 image CHW/HW/HWC, caption, tooltip). The cells widen (up to ``MAX_CELL``) so
        that every caption line is shown whole."""
        self.setUpdatesEnabled(False)
        self.clear()
        fm = self.fontMetrics()
        widest = max((fm.horizontalAdvance(line) for _, cap, _ in items for line in cap.split("\n")), default=0)
        lines = max((cap.count("\n") + 1 for _, cap, _ in items), default=2)
        self.setGridSize(QSize(min(self.MAX_CELL, max(self.thumb + 74, widest + 16)),
                               self.thumb + 12 + max(2, lines) * (fm.lineSpacing() + 1)))
        for image, caption, tip in items:
            it = QListWidgetItem(QIcon(to_pixmap(image, self.thumb)), caption)
            it.setToolTip(tip)
            it.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.addItem(it)
        self.setUpdatesEnabled(True)

    def captions(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]
