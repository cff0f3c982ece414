"""A bar chart of images per class (training and test side by side) with class names on the x axis.

Every class is named under its bar. Names too wide for one bar's space go on up to three staggered
rows (each then has the room of two or three bars); only names too long even for that are shortened.
Hovering over a bar shows the full name and the counts.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QToolTip

from app.ui.widgets.plot_export import enable_export

TRAIN_COLOUR = "#4c72b0"
TEST_COLOUR = "#dd8452"


class ClassCountChart(pg.PlotWidget):
    """``set_counts(classes, train_counts, test_counts)``; ``clear_counts()`` for the empty state."""

    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.classes: list[str] = []
        self.train_counts = np.zeros(0, dtype=np.int64)
        self.test_counts = np.zeros(0, dtype=np.int64)
        self._bars: list[pg.BarGraphItem] = []
        item = self.getPlotItem()
        enable_export(item, lambda: (["class", "training images", "test images"],
                                     [[c, int(a), int(b)] for c, a, b in zip(self.classes, self.train_counts, self.test_counts)]))
        item.hideButtons()
        self.setMouseEnabled(x=False, y=False)
        item.showGrid(x=False, y=True, alpha=0.25)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen("#666666"))
            axis.setTextPen(pg.mkPen("#333333"))
        item.setLabel("left", "images")
        self._font = QFont(self.font())
        self._font.setPointSizeF(max(7.0, self._font.pointSizeF() * 0.9))
        # every class is named: pyqtgraph would drop a first or last name that reaches past the axis
        item.getAxis("bottom").setStyle(tickFont=self._font, hideOverlappingLabels=False)
        self._empty = pg.TextItem("No data set loaded yet.", color="#888888", anchor=(0.5, 0.5))
        self.addItem(self._empty)
        self.setMinimumHeight(180)
        self.scene().sigMouseMoved.connect(self._hover)
        self._tick_labels: list[str] = []
        self._ready = True
        self.clear_counts()

    # -- data ----------------------------------------------------------------------------------
    def clear_counts(self) -> None:
        self.set_counts([], [], [])

    def set_counts(self, classes: Sequence[str], train_counts: Sequence[int],
                   test_counts: Sequence[int] | None = None) -> None:
        self.classes = [str(c) for c in classes]
        n = len(self.classes)
        self.train_counts = np.asarray(train_counts, dtype=np.int64).reshape(-1)[:n]
        tc = np.zeros(n, dtype=np.int64) if test_counts is None else np.asarray(test_counts, dtype=np.int64)
        self.test_counts = tc.reshape(-1)[:n]
        for bar in self._bars:
            self.removeItem(bar)
        self._bars = []
        x = np.arange(n, dtype=float)
        has_test = bool(self.test_counts.sum())
        width = 0.4 if has_test else 0.7
        if n:
            train = pg.BarGraphItem(x=x - (width / 2 if has_test else 0.0), height=self.train_counts, width=width,
                                    brush=TRAIN_COLOUR, pen=pg.mkPen(TRAIN_COLOUR))
            self._bars.append(train)
            self.addItem(train)
            if has_test:
                test = pg.BarGraphItem(x=x + width / 2, height=self.test_counts, width=width,
                                       brush=TEST_COLOUR, pen=pg.mkPen(TEST_COLOUR))
                self._bars.append(test)
                self.addItem(test)
        self._empty.setVisible(n == 0)
        # The legend is the title line, so it never covers a bar.
        key = f'<span style="color:{TRAIN_COLOUR}">&#9632;</span> training'
        if has_test:
            key += f' &nbsp;&nbsp; <span style="color:{TEST_COLOUR}">&#9632;</span> test'
        self.getPlotItem().setTitle(key if n else None, color="#333333", size="9pt")
        top = float(max(self.train_counts.max(initial=0), self.test_counts.max(initial=0)))
        item = self.getPlotItem()
        if n:
            item.setXRange(-0.6, n - 0.4, padding=0)
            item.setYRange(0, max(1.0, top * 1.05), padding=0)
        else:
            item.setXRange(0, 1, padding=0)
            item.setYRange(0, 1, padding=0)
            self._empty.setPos(0.5, 0.5)
        item.getAxis("left").setStyle(showValues=bool(n))
        self._update_ticks()

    def bar_heights(self) -> tuple[list[int], list[int]]:
        """(training counts, test counts) as drawn."""
        return [int(v) for v in self.train_counts], [int(v) for v in self.test_counts]

    def tick_labels(self) -> list[str]:
        """The labels written under the bars (shortened; '' where skipped)."""
        return list(self._tick_labels)

    # -- ticks ---------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.__dict__.get("_ready"):
            self._update_ticks()

    def _update_ticks(self) -> None:
        n = len(self.classes)
        axis = self.getPlotItem().getAxis("bottom")
        if not n:
            self._tick_labels = []
            axis.setTicks([[]])
            return
        fm = QFontMetrics(self._font)
        plot_width = max(100.0, self.getPlotItem().vb.width() or self.width() - 60)
        slot = plot_width / n
        widest = max(fm.horizontalAdvance(name) for name in self.classes)
        rows = next((r for r in (1, 2, 3) if widest <= r * slot - 6), 3)
        room = max(int(rows * slot) - 6, fm.horizontalAdvance("M…"))
        labels = [fm.elidedText(name, Qt.TextElideMode.ElideRight, room) for name in self.classes]
        self._tick_labels = labels
        axis.setHeight(rows * fm.lineSpacing() + 10)
        # room at both ends for the first and the last name, which are centred under their bars
        left = max(0.6, (fm.horizontalAdvance(labels[0]) / 2 + 4) / slot)
        right = max(0.6, (fm.horizontalAdvance(labels[-1]) / 2 + 4) / slot)
        self.getPlotItem().setXRange(-left, n - 1 + right, padding=0)
        axis.setTicks([[(i, "\n" * (i % rows) + text) for i, text in enumerate(labels)]])

    def _hover(self, pos) -> None:
        if not self.classes:
            return
        vb = self.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(pos):
            QToolTip.hideText()
            return
        x = vb.mapSceneToView(pos).x()
        i = int(round(x))
        if 0 <= i < len(self.classes):
            text = f"{self.classes[i]}: {self.train_counts[i]:,} training"
            if self.test_counts.sum():
                text += f", {self.test_counts[i]:,} test"
            QToolTip.showText(self.viewport().mapToGlobal(self.mapFromScene(pos)), text, self)
