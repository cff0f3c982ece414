"""One picture scaled to fit its widget: small images are enlarged without blurring (nearest neighbour)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from app.ui.widgets.images import to_qimage


class ImageView(QLabel):
    """Shows one uint8 picture (``set_image``; None shows ``empty_text``), rescaled when resized."""

    def __init__(self, empty_text: str = "", parent: QWidget | None = None, min_side: int = 160):
        super().__init__(parent)
        self._image: np.ndarray | None = None
        self._empty_text = empty_text
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(min_side, min_side))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setStyleSheet("QLabel { background: #ffffff; border: 1px solid #dde1e6; border-radius: 4px;"
                           " color: #777; }")
        self.setWordWrap(True)
        self.setText(empty_text)

    @property
    def image(self) -> np.ndarray | None:
        return self._image

    def set_image(self, image: np.ndarray | None) -> None:
        self._image = None if image is None else np.ascontiguousarray(image)
        self._render()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        self._render()

    def _render(self) -> None:
        if self._image is None:
            self.setPixmap(QPixmap())
            self.setText(self._empty_text)
            return
        pm = QPixmap.fromImage(to_qimage(self._image))
        fit = min((self.width() - 8) / max(1, pm.width()), (self.height() - 8) / max(1, pm.height()))
        if fit > 1:
            pm = pm.scaled(int(pm.width() * fit), int(pm.height() * fit), Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.FastTransformation)
        elif fit < 1:
            pm = pm.scaled(max(1, int(pm.width() * fit)), max(1, int(pm.height() * fit)),
                           Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.setPixmap(pm)


__all__ = ["ImageView"]
