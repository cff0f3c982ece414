"""Confusion matrix heat map and per-class accuracy bars (pyqtgraph)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.ui.widgets.curves import GREY_TEXT

MAX_CELL_TEXT = 15       # numbers are written into the cells up to this many classes
_CMAP = pg.ColorMap([0.0, 0.5, 1.0], [(247, 251, 255), (107, 174, 214), (8, 48, 107)])


def short(name: str, n: int) -> str:
    return name if len(name) <= n else name[:max(1, n - 1)] + "…"


def _axis_style(plot: pg.PlotItem) -> None:
    for name in ("left", "bottom"):
        ax = plot.getAxis(name)
        ax.setPen(pg.mkPen("#888"))
        ax.setTextPen(pg.mkPen(GREY_TEXT))
    plot.setMenuEnabled(False)
    plot.getViewBox().setMouseEnabled(False, False)
    plot.hideButtons()


class ConfusionMatrixView(QWidget):
    """Rows: true class, columns: predicted class. Counts, or row-normalised percentages."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.matrix = np.zeros((0, 0), dtype=np.int64)
        self.classes: list[str] = []
        self.view = pg.PlotWidget(background="w")
        self.plot: pg.PlotItem = self.view.getPlotItem()
        _axis_style(self.plot)
        self.plot.setLabel("left", "true class", color=GREY_TEXT)
        self.plot.setLabel("bottom", "predicted class", color=GREY_TEXT)
        self.plot.getViewBox().invertY(True)
        self.plot.getViewBox().setAspectLocked(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(_CMAP)
        self.plot.addItem(self.image)
        self._texts: list[pg.TextItem] = []
        self.normalise = QCheckBox("Row percentages (each true class adds up to 100%)")
        self.normalise.setToolTip("Off: how many test images. On: the share of each true class.")
        self.normalise.toggled.connect(self._draw)
        self.caption = QLabel("The confusion matrix appears after the first epoch: which classes the model "
                              "mixes up.")
        self.caption.setWordWrap(True)
        self.caption.setObjectName("hint")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        title = QLabel("<b>Confusion matrix</b> (test images)")
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.normalise)
        lay.addLayout(top)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.caption)

    def set_matrix(self, matrix, classes: list[str]) -> None:
        self.matrix = np.asarray(matrix, dtype=np.int64)
        self.classes = list(classes)
        self._draw()

    def clear(self) -> None:
        self.matrix = np.zeros((0, 0), dtype=np.int64)
        self._draw()

    def displayed(self) -> np.ndarray:
        """What the cells show: counts, or row-normalised fractions (rows sum to 1)."""
        m = self.matrix.astype(np.float64)
        if self.normalise.isChecked() and m.size:
            m = m / np.maximum(m.sum(1, keepdims=True), 1)
        return m

    def _draw(self) -> None:
        for t in self._texts:
            self.plot.removeItem(t)
        self._texts = []
        k = len(self.matrix)
        if not k:
            self.image.clear()
            return
        shown = self.displayed()
        top = float(shown.max()) or 1.0
        self.image.setImage(shown, autoLevels=False, levels=(0.0, top))
        self.image.setRect(0, 0, k, k)
        self.plot.setXRange(0, k, padding=0)
        self.plot.setYRange(0, k, padding=0)
        n_chars = 12 if k <= 6 else (9 if k <= 10 else 6)
        self.plot.getAxis("left").setTicks([[(i + 0.5, short(c, 18)) for i, c in enumerate(self.classes)]])
        self.plot.getAxis("bottom").setTicks([[(i + 0.5, short(c, n_chars)) for i, c in enumerate(self.classes)]])
        if k <= MAX_CELL_TEXT:
            font = QFont()
            font.setPointSizeF(9 if k <= 10 else 7.5)
            for i in range(k):
                for j in range(k):
                    v = shown[i, j]
                    text = f"{100 * v:.0f}%" if self.normalise.isChecked() else f"{int(v)}"
                    if v == 0:
                        text = "·" if not self.normalise.isChecked() else ""
                    color = "w" if v / top > 0.55 else "#222"
                    item = pg.TextItem(text, color=color, anchor=(0.5, 0.5))
                    item.setFont(font)
                    item.setPos(j + 0.5, i + 0.5)
                    self.plot.addItem(item)
                    self._texts.append(item)
        total = int(self.matrix.sum())
        right = int(np.trace(self.matrix))
        self.caption.setText(f"{right:,} of {total:,} test images on the diagonal (correct). Off the diagonal: "
                             "true class on the left, what the model said below.")


class PerClassBars(QWidget):
    """Horizontal bars: accuracy of each true class on the test images."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.values = np.zeros(0)
        self.view = pg.PlotWidget(background="w")
        self.plot: pg.PlotItem = self.view.getPlotItem()
        _axis_style(self.plot)
        self.plot.setLabel("bottom", "accuracy (%)", color=GREY_TEXT)
        self.plot.getViewBox().invertY(True)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush=pg.mkBrush(107, 174, 214))
        self.plot.addItem(self.bars)
        self._texts: list[pg.TextItem] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("<b>Accuracy per class</b>"))
        lay.addWidget(self.view, 1)

    def set_values(self, per_class_acc, classes: list[str]) -> None:
        for t in self._texts:
            self.plot.removeItem(t)
        self._texts = []
        self.values = np.asarray(per_class_acc, dtype=np.float64) * 100.0
        k = len(self.values)
        ys = np.arange(k, dtype=np.float64) + 0.5
        mean = float(self.values.mean()) if k else 0.0
        brushes = [pg.mkBrush(214, 96, 77) if v < mean - 10 else pg.mkBrush(107, 174, 214) for v in self.values]
        self.bars.setOpts(x0=np.zeros(k), y=ys, height=0.7, width=self.values, brushes=brushes)
        self.plot.getAxis("left").setTicks([[(y, short(c, 16)) for y, c in zip(ys, classes)]])
        self.plot.setXRange(0, 100, padding=0.02)
        self.plot.setYRange(0, max(k, 1), padding=0.02)
        if k <= 30:
            for y, v in zip(ys, self.values):
                inside = v >= 30
                t = pg.TextItem(f"{v:.0f}%", color="w" if inside else "#333", anchor=(1 if inside else 0, 0.5))
                t.setPos(float(v) - 1 if inside else float(v) + 1, float(y))
                self.plot.addItem(t)
                self._texts.append(t)

    def clear(self) -> None:
        self.set_values([], [])
