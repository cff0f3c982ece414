"""A picture frame that accepts a dropped image file (Try it in the Train tab)."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QLabel, QWidget

IMAGE_FILTER = "Pictures (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"


class DropImage(QLabel):
    """Shows the picture being tried; emits ``dropped(path)`` for a dropped local file."""

    dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None, text: str = "Drop a picture here,\nor use the buttons below."):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(220, 220))
        self.setWordWrap(True)
        self.setObjectName("dropZone")
        self.setStyleSheet("#dropZone { border: 2px dashed #b8c2cc; border-radius: 8px; color: #666;"
                           " background: #fafbfc; }")
        self.setText(text)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for u in event.mimeData().urls():
            if u.isLocalFile():
                self.dropped.emit(u.toLocalFile())
                event.acceptProposedAction()
                return
