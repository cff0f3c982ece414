"""Live training curves: loss per batch (raw and smoothed), test loss and accuracies per epoch.

Every point is kept in growing numpy arrays; the plots are redrawn with ``setData`` at most
``max_rate`` times a second and only when new points arrived (``RedrawThrottle``).
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from app.ui.widgets.plot_export import enable_export
from app.ui.widgets.throttle import RedrawThrottle

BLUE = (31, 119, 180)
ORANGE = (255, 127, 14)
GREEN = (44, 160, 44)
GREY_TEXT = "#444"


class GrowingArray:
    """A 1-d float array with amortised O(1) append; ``view`` is the filled part."""

    def __init__(self, capacity: int = 1024):
        self._data = np.empty(capacity, dtype=np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=np.float64).ravel()
        need = self._n + len(values)
        if need > len(self._data):
            grown = np.empty(max(need, 2 * len(self._data)), dtype=np.float64)
            grown[:self._n] = self._data[:self._n]
            self._data = grown
        self._data[self._n:need] = values
        self._n = need

    def append(self, value: float) -> None:
        self.extend((value,))

    def clear(self) -> None:
        self._n = 0

    @property
    def view(self) -> np.ndarray:
        return self._data[:self._n]


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased exponential moving average (as TensorBoard's smoothing): NaNs are skipped."""
    out = np.empty(len(values), dtype=np.float64)
    biased, n = 0.0, 0
    for i, v in enumerate(values.tolist()):
        if math.isfinite(v):
            biased = weight * biased + (1.0 - weight) * v
            n += 1
        out[i] = biased / (1.0 - weight ** n) if n else math.nan
    return out


def style_plot(plot: pg.PlotItem, left: str, bottom: str = "epoch", title: str = "") -> None:
    for name in ("left", "bottom"):
        ax = plot.getAxis(name)
        ax.setPen(pg.mkPen("#888"))
        ax.setTextPen(pg.mkPen(GREY_TEXT))
    plot.setLabel("left", left, color=GREY_TEXT)
    plot.setLabel("bottom", bottom, color=GREY_TEXT)
    plot.showGrid(x=True, y=True, alpha=0.15)
    enable_export(plot)     # right-click: pyqtgraph's Export... (PNG, SVG, CSV)
    if title:
        plot.setTitle(title, color=GREY_TEXT, size="10pt")


class TrainingCurves(QWidget):
    """Two plots side by side: loss (batches + test) and accuracy (train + test), x in epochs."""

    def __init__(self, parent: QWidget | None = None, max_rate: float = 20.0):
        super().__init__(parent)
        self.batch_x = GrowingArray()
        self.batch_loss = GrowingArray()
        self.smoothed = GrowingArray()
        self.epoch_x = GrowingArray(64)
        self.train_acc = GrowingArray(64)
        self.test_acc = GrowingArray(64)
        self.test_loss = GrowingArray(64)
        self._weight = 0.9
        self._biased, self._n_finite = 0.0, 0

        self.loss_view = pg.PlotWidget(background="w")
        self.acc_view = pg.PlotWidget(background="w")
        self.loss_plot: pg.PlotItem = self.loss_view.getPlotItem()
        self.acc_plot: pg.PlotItem = self.acc_view.getPlotItem()
        style_plot(self.loss_plot, "loss (cross-entropy)")
        style_plot(self.acc_plot, "accuracy (%)")
        self.loss_plot.setTitle("Loss", color=GREY_TEXT, size="11pt")
        self.acc_plot.setTitle("Accuracy", color=GREY_TEXT, size="11pt")
        for p, corner in ((self.loss_plot, (-10, 10)), (self.acc_plot, (-10, -10))):
            p.setDownsampling(auto=True, mode="peak")
            p.setClipToView(True)
            p.addLegend(offset=corner, labelTextColor=GREY_TEXT, brush=pg.mkBrush(255, 255, 255, 210))

        # the raw curve may hold 100,000s of points: a thin aliased line, peak-downsampled to about
        # two points per pixel column, is what keeps its redraw cheap
        self.raw_curve = self.loss_plot.plot(pen=pg.mkPen((*BLUE, 80), width=1), name="training loss (each batch)",
                                             connect="finite", antialias=False)
        self.smooth_curve = self.loss_plot.plot(pen=pg.mkPen(BLUE, width=2.2), name="training loss (smoothed)",
                                                connect="finite")
        for c in (self.raw_curve, self.smooth_curve):
            c.opts["autoDownsampleFactor"] = 1.0
        self.test_loss_curve = self.loss_plot.plot(pen=pg.mkPen(ORANGE, width=2), symbol="o", symbolSize=7,
                                                   symbolBrush=ORANGE, symbolPen=None, name="test loss (each epoch)")
        self.train_acc_curve = self.acc_plot.plot(pen=pg.mkPen(BLUE, width=2), symbol="o", symbolSize=7,
                                                  symbolBrush=BLUE, symbolPen=None, name="training")
        self.test_acc_curve = self.acc_plot.plot(pen=pg.mkPen(ORANGE, width=2), symbol="s", symbolSize=7,
                                                 symbolBrush=ORANGE, symbolPen=None, name="test")
        self.acc_plot.setYRange(0, 100, padding=0.02)
        # Axes, legends and titles change rarely: keep each as a cached pixmap, so a redraw mostly
        # repaints the curves. The ranges are managed here (x: the planned epochs, y: the loss with
        # some head room) rather than auto-ranged on every new point, which would redo the axes.
        for p in (self.loss_plot, self.acc_plot):
            for name in ("left", "bottom"):
                p.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            p.legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            p.titleLabel.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.planned_epochs = 0
        self._loss_top = 0.0
        self._hints: list[pg.TextItem] = []
        self._add_hints()

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 99)
        self.slider.setValue(int(round(self._weight * 100)))
        self.slider.setToolTip("How strongly the bold loss curve is smoothed (0 = not at all).")
        self.slider.setMaximumWidth(220)
        self.slider_label = QLabel()
        self.slider.valueChanged.connect(self._on_slider)
        self._on_slider(self.slider.value(), redraw=False)

        plots = QHBoxLayout()
        plots.setSpacing(8)
        plots.addWidget(self.loss_view, 3)
        plots.addWidget(self.acc_view, 2)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Loss smoothing:"))
        controls.addWidget(self.slider)
        controls.addWidget(self.slider_label)
        controls.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(plots, 1)
        lay.addLayout(controls)

        self.throttle = RedrawThrottle(self._redraw, max_rate, self)
        self._epochs_dirty = False
        self._stale = False

    # ------------------------------------------------------------------ data in
    def clear(self) -> None:
        for a in (self.batch_x, self.batch_loss, self.smoothed, self.epoch_x, self.train_acc, self.test_acc,
                  self.test_loss):
            a.clear()
        self._biased, self._n_finite = 0.0, 0
        self._epochs_dirty = True
        self._loss_top = 0.0
        self.loss_plot.enableAutoRange(x=True, y=True)
        self.acc_plot.enableAutoRange(x=True)
        self.planned_epochs = 0
        self._add_hints()
        self._redraw()

    def set_planned_epochs(self, epochs: int) -> None:
        """Fix the x axes to 0..epochs (the whole run), so they are not redone for every new point."""
        self.planned_epochs = int(epochs)
        if epochs > 0:
            for p in (self.loss_plot, self.acc_plot):
                p.setXRange(0, epochs, padding=0.04)

    def add_batches(self, xs, losses) -> None:
        """Per-batch training losses at x = fractional epoch (epoch - 1 + batch / batches)."""
        losses = np.asarray(losses, dtype=np.float64).ravel()
        if not len(losses):
            return
        self.batch_x.extend(xs)
        self.batch_loss.extend(losses)
        w = self._weight
        sm = np.empty(len(losses))
        biased, n = self._biased, self._n_finite
        for i, v in enumerate(losses.tolist()):
            if math.isfinite(v):
                biased = w * biased + (1.0 - w) * v
                n += 1
            sm[i] = biased / (1.0 - w ** n) if n else math.nan
        self._biased, self._n_finite = biased, n
        self.smoothed.extend(sm)
        self.throttle.mark()

    def add_epoch(self, epoch: float, metrics: dict) -> None:
        self.epoch_x.append(float(epoch))
        self.train_acc.append(100.0 * _num(metrics.get("train_acc")))
        self.test_acc.append(100.0 * _num(metrics.get("test_acc")))
        self.test_loss.append(_num(metrics.get("test_loss")))
        self._epochs_dirty = True
        self.throttle.mark()

    def set_history(self, xs: list[float], losses: list[float], epoch_rows: list[dict]) -> None:
        """Show a past run: its batch losses at ``xs`` (in epochs, see ``RunSummary.batch_points``) and
        its metrics.csv rows."""
        self.clear()
        self.add_batches(list(xs), list(losses))
        for r in epoch_rows:
            self.add_epoch(_num(r.get("epoch"), 0), r)
        self.throttle.flush()

    # ------------------------------------------------------------------ drawing
    @property
    def n_batches(self) -> int:
        return len(self.batch_loss)

    @property
    def n_epochs(self) -> int:
        return len(self.epoch_x)

    def _add_hints(self) -> None:
        if self._hints:
            return
        for plot, text in ((self.loss_plot, "Press Start: the training loss\nappears here, batch by batch."),
                           (self.acc_plot, "Accuracy on the training and test\nimages appears after each epoch.")):
            hint = pg.TextItem(text, color="#777", anchor=(0.5, 0.5))
            plot.addItem(hint, ignoreBounds=True)
            vb = plot.getViewBox()
            r = vb.viewRange()
            hint.setPos((r[0][0] + r[0][1]) / 2, (r[1][0] + r[1][1]) / 2)
            self._hints.append(hint)

    def _remove_hints(self) -> None:
        for h in self._hints:
            h.parentItem() and h.getViewBox() and h.getViewBox().removeItem(h)
        self._hints = []

    def _redraw(self) -> None:
        if not self.isVisible():          # nothing to paint: catch up when shown again
            self._stale = True
            return
        self._stale = False
        if self._hints and (len(self.batch_loss) or len(self.epoch_x)):
            self._remove_hints()
        self.raw_curve.setData(self.batch_x.view, self.batch_loss.view)
        self.smooth_curve.setData(self.batch_x.view, self.smoothed.view)
        ex = self.epoch_x.view
        self.test_loss_curve.setData(ex, self.test_loss.view)
        self._update_ranges()
        # no forced repaint(): the scene's own (queued) update paints once; a repaint() here was
        # followed by that update, painting every redraw twice
        if self._epochs_dirty:
            self._epochs_dirty = False
            self.train_acc_curve.setData(ex, self.train_acc.view)
            self.test_acc_curve.setData(ex, self.test_acc.view)

    def _update_ranges(self) -> None:
        if self.planned_epochs:
            last = max(self.batch_x.view[-1] if len(self.batch_x) else 0.0,
                       self.epoch_x.view[-1] if len(self.epoch_x) else 0.0)
            if last > self.planned_epochs:        # a continued run goes past the plan
                self.set_planned_epochs(int(math.ceil(last)))
        else:
            return
        # loss: from 0 to a little above the highest smoothed / test loss; raw spikes above it are
        # cut. Changed only when the curves leave the range or use less than half of it.
        highs = [np.nanmax(a.view) for a in (self.smoothed, self.test_loss) if len(a) and np.isfinite(a.view).any()]
        if not highs:
            return
        high = max(highs)
        if high > self._loss_top or high < 0.5 * self._loss_top:
            self._loss_top = 1.3 * high
            self.loss_plot.setYRange(0, self._loss_top, padding=0)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._epochs_dirty = True
            self.throttle.mark()

    def _on_slider(self, value: int, redraw: bool = True) -> None:
        self._weight = value / 100.0
        self.slider_label.setText(f"{self._weight:.2f}")
        if not redraw:
            return
        losses = self.batch_loss.view
        sm = ema(losses, self._weight)
        self.smoothed.clear()
        self.smoothed.extend(sm)
        finite = losses[np.isfinite(losses)]
        self._n_finite = len(finite)
        self._biased = (sm[-1] * (1.0 - self._weight ** self._n_finite)) if self._n_finite else 0.0
        self.throttle.mark()


def _num(v, default: float = math.nan) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return default
