"""Widgets of the Keypoints tab: the frame view, the speed box and a fold-out header."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QSizePolicy, QToolButton, QWidget

from app.vision.pipeline import STAGES

STAGE_HELP = {
    "capture": "Reading the picture from the camera or file",
    "detect": "Finding faces (the face detector runs every few frames; in between the faces are followed)",
    "model": "The keypoint model on every face (cropping included)",
    "draw": "Drawing the points and lines",
}


def bgr_to_qimage(image: np.ndarray) -> QImage:
    """A QImage copy of a uint8 BGR (H, W, 3) or grey (H, W) picture."""
    a = np.ascontiguousarray(image)
    h, w = a.shape[:2]
    if a.ndim == 2:
        return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8).copy()
    return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_BGR888).copy()


class FrameView(QWidget):
    """Shows the newest frame scaled to fit (aspect kept), or a hint when there is none."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._hint = "Pick a source and press Start."
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def set_hint(self, text: str) -> None:
        self._hint = text
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 28))
        if self._image is None or self._image.isNull():
            p.setPen(QColor(200, 200, 200))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._hint)
            return
        iw, ih = self._image.width(), self._image.height()
        s = min(self.width() / iw, self.height() / ih)
        w, h = iw * s, ih * s
        target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(target, self._image)


class SpeedBox(QGroupBox):
    """Frames per second, the milliseconds of each stage and the number of faces."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Speed", parent)
        self.fps_label = QLabel("FPS: –")
        self.fps_label.setToolTip("Frames per second: how many pictures a second get their points")
        f = self.fps_label.font()
        f.setPointSizeF(f.pointSizeF() * 1.4)
        f.setBold(True)
        self.fps_label.setFont(f)
        self.stage_labels = {k: QLabel("–") for k in STAGES}
        self.faces_label = QLabel("–")
        form = QFormLayout(self)
        form.addRow(self.fps_label)
        for k in STAGES:
            name = QLabel(f"{k.capitalize()} (ms)")
            name.setToolTip(STAGE_HELP[k])
            self.stage_labels[k].setToolTip(STAGE_HELP[k])
            form.addRow(name, self.stage_labels[k])
        form.addRow("Faces", self.faces_label)

    def show_stats(self, stats) -> None:
        self.fps_label.setText(f"FPS: {stats.fps:.1f}")
        for k in STAGES:
            self.stage_labels[k].setText(f"{stats.stages[k]:.1f}")
        self.faces_label.setText(str(stats.faces) if stats.faces else "0 (no face in view)")


class FoldHeader(QToolButton):
    """A flat arrow button that folds a panel in and out (``toggled(bool)``)."""

    def __init__(self, text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setText(text)
        self.setCheckable(True)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setArrowType(Qt.ArrowType.RightArrow)
        self.setAutoRaise(True)
        self.toggled.connect(lambda on: self.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow))
