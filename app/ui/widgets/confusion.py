"""Confusion matrix heat map and per-class accuracy bars (pyqtgraph)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.ui.widgets.curves import GREY_TEXT
from app.ui.widgets.labels import DataLabels
from app.ui.widgets.plot_export import enable_export

MAX_CELL_TEXT = 15       # numbers are written into the cells up to this many classes
_CMAP = pg.ColorMap([0.0, 0.5, 1.0], [(247, 251, 255), (107, 174, 214), (8, 48, 107)])


def short(name: str, n: int) -> str:
    return name if len(name) <= n else name[:max(1, n - 1)] + "…"


def _axis_style(plot: pg.PlotItem) -> None:
    for name in ("left", "bottom"):
        ax = plot.getAxis(name)
        ax.setPen(pg.mkPen("#888"))
        ax.setTextPen(pg.mkPen(GREY_TEXT))
        # class names are categories: show every one (pyqtgraph would drop those that overflow)
        ax.setStyle(hideOverlappingLabels=False)


def fit_left_axis(plot: pg.PlotItem, labels: list[str], with_title: bool) -> None:
    """Make the left axis wide enough for its longest tick label (and its title)."""
    ax = plot.getAxis("left")
    font = ax.style.get("tickFont") or QFont()
    widest = max((QFontMetrics(font).horizontalAdvance(t) for t in labels), default=20)
    ax.setWidth(widest + (34 if with_title else 14))
    enable_export(plot)     # right-click: pyqtgraph's Export... (PNG, SVG, CSV)
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
        self.cells = DataLabels()
        self.cells.setZValue(10)
        self.plot.addItem(self.cells)
        enable_export(self.plot, self.export_rows)
        self.normalise = QCheckBox("As percentages")
        self.normalise.setToolTip("Off: how many test images. On: the share of each true class (each row adds up "
                                  "to 100%).")
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

    def _bottom_ticks(self) -> None:
        """Column names, shortened to what fits in a cell's width."""
        k = len(self.classes)
        if not k:
            return
        ax = self.plot.getAxis("bottom")
        fm = QFontMetrics(ax.style.get("tickFont") or QFont())
        cell = max(10.0, (self.view.width() - self.plot.getAxis("left").width() - 10) / k)
        n = max(3, int(cell / max(1.0, fm.averageCharWidth() * 1.05)) - 1)
        ax.setTicks([[(i + 0.5, short(c, n)) for i, c in enumerate(self.classes)]])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._bottom_ticks()

    def export_rows(self) -> tuple[list[str], list[list]]:
        """The matrix for a CSV export: one row per true class, one column per predicted class (counts)."""
        header = ["true class \\ predicted"] + list(self.classes)
        return header, [[c] + [int(v) for v in row] for c, row in zip(self.classes, self.matrix)]

    def displayed(self) -> np.ndarray:
        """What the cells show: counts, or row-normalised fractions (rows sum to 1)."""
        m = self.matrix.astype(np.float64)
        if self.normalise.isChecked() and m.size:
            m = m / np.maximum(m.sum(1, keepdims=True), 1)
        return m

    def _draw(self) -> None:
        k = len(self.matrix)
        if not k:
            self.image.clear()
            self.cells.set_items([], QRectF())
            self.caption.setText("The confusion matrix appears after the first epoch: which classes the model "
                                 "mixes up.")
            return
        shown = self.displayed()
        top = float(shown.max()) or 1.0
        self.image.setImage(shown, autoLevels=False, levels=(0.0, top))
        self.image.setRect(0, 0, k, k)
        self.plot.setXRange(0, k, padding=0)
        self.plot.setYRange(0, k, padding=0)
        left = [short(c, 18) for c in self.classes]
        self.plot.getAxis("left").setTicks([list(zip(np.arange(k) + 0.5, left))])
        fit_left_axis(self.plot, left, with_title=True)
        self._bottom_ticks()
        items = []
        if k <= MAX_CELL_TEXT:
            self.cells.font.setPointSizeF(9 if k <= 10 else 7.5)
            pct = self.normalise.isChecked()
            for i in range(k):
                for j in range(k):
                    v = shown[i, j]
                    if v == 0:
                        text = "" if pct else "·"
                    else:
                        text = f"{100 * v:.0f}%" if pct else f"{int(v)}"
                    items.append((j + 0.5, i + 0.5, text, "#ffffff" if v / top > 0.55 else "#222222", "center"))
        self.cells.set_items(items, QRectF(0, 0, k, k))
        total = int(self.matrix.sum())
        right = int(np.trace(self.matrix))
        self.caption.setText(f"{right:,} of {total:,} test images on the diagonal (correct). Off the diagonal: "
                             "true class on the left, what the model said below.")


class PerClassBars(QWidget):
    """Horizontal bars: accuracy of each true class on the test images."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.values = np.zeros(0)
        self.classes: list[str] = []
        self.view = pg.PlotWidget(background="w")
        self.plot: pg.PlotItem = self.view.getPlotItem()
        _axis_style(self.plot)
        self.plot.setLabel("bottom", "accuracy (%)", color=GREY_TEXT)
        self.plot.getViewBox().invertY(True)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush=pg.mkBrush(107, 174, 214))
        self.plot.addItem(self.bars)
        self.labels = DataLabels()
        self.labels.setZValue(10)
        self.plot.addItem(self.labels)
        enable_export(self.plot, lambda: (["class", "accuracy (%)"],
                                          [[c, round(float(v), 2)] for c, v in zip(self.classes, self.values)]))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("<b>Accuracy per class</b>"))
        lay.addWidget(self.view, 1)

    def set_values(self, per_class_acc, classes: list[str]) -> None:
        self.values = np.asarray(per_class_acc, dtype=np.float64) * 100.0
        self.classes = list(classes)
        k = len(self.values)
        ys = np.arange(k, dtype=np.float64) + 0.5
        mean = float(self.values.mean()) if k else 0.0
        brushes = [pg.mkBrush(214, 96, 77) if v < mean - 10 else pg.mkBrush(107, 174, 214) for v in self.values]
        self.bars.setOpts(x0=np.zeros(k), y=ys, height=0.7, width=self.values, brushes=brushes)
        left = [short(c, 16) for c in classes]
        self.plot.getAxis("left").setTicks([list(zip(ys, left))])
        fit_left_axis(self.plot, left, with_title=False)
        self.plot.setXRange(0, 106, padding=0)
        self.plot.getAxis("bottom").setTicks([[(v, str(v)) for v in (0, 25, 50, 75, 100)]])
        self.plot.setYRange(0, max(k, 1), padding=0.02)
        items = []
        if k <= 30:
            for y, v in zip(ys, self.values):
                inside = v >= 30
                items.append((float(v) - 1 if inside else float(v) + 1, float(y), f"{v:.0f}%",
                              "#ffffff" if inside else "#333333", "right" if inside else "left"))
        self.labels.set_items(items, QRectF(0, 0, 100, max(k, 1)))

    def clear(self) -> None:
        self.set_values([], [])
