"""The Basics tab: watch gradient descent work, from a line to a spiral.

Three experiments (``app.engine.basics``), each a task of the shared Trainer run through
``TrainingRunner`` (worker thread; no training loop here):

- Fit a line: the 10,000 noisy points (1 in 10 drawn), the fitted line moving, the loss (log
  scale) and w, b as they change; gradients by hand, autograd or nn.Linear + optimizer; raw x
  diverges and the tab says so in plain words and offers "standardise x".
- Fit a sine: the polynomial approaching sin(x), the loss and the largest error, the formula.
- Classify a spiral: the decision regions painted behind the points, the loss and the accuracy.

Per-step values arrive in ``BatchEnd.metrics``; the curve and the decision regions are computed in
the worker thread (``EpochEnd.details``). The plots keep every point and redraw at most 20 times a
second (``RedrawThrottle``); nothing here runs torch per redraw.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame, QGridLayout,
                               QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QSpinBox,
                               QStackedWidget, QVBoxLayout, QWidget)

from app.engine import basics as B
from app.engine.events import BatchEnd, EpochEnd, Failed, Finished
from app.core.errors import UserError
from app.ui.state import AppState
from app.ui.widgets.curves import GrowingArray, style_plot
from app.ui.widgets.throttle import RedrawThrottle
from app.ui.session import TrainingRunner

BLUE = (31, 119, 180)
ORANGE = (255, 127, 14)
GREEN = (44, 160, 44)
RED = (214, 39, 40)
PURPLE = (148, 103, 189)
GREY = (150, 150, 150)
GREY_TEXT = "#444"
CLASS_COLOURS = [BLUE, ORANGE, GREEN]
REGION_STRENGTH = 0.45              # how strongly the decision regions are tinted (0 = white)
LINE_DRAWN_EVERY = 10               # draw 1 in 10 of the line's points (1,000 of 10,000)
SINE_DRAWN_EVERY = 10

SPEEDS = [("Watch it (about 5 s)", 5.0), ("Slow motion (about 15 s)", 15.0), ("As fast as possible", 0.0)]
LR_PRESETS = ["1e-8", "1e-6", "1e-4", "0.001", "0.01", "0.02", "0.05", "0.1", "0.3", "0.5", "1", "2", "5"]

EXPLAIN = {
    "line": (
        "<b>Fit a line.</b> The dots are 10,000 measurements of <i>y = 10·x + 4</i> plus random noise. "
        "The model is a line <i>y = w·x + b</i> that starts flat (w = 0, b = 0). Each <b>step</b> measures how "
        "far the line is from the dots &mdash; the <b>loss</b>, the average squared vertical distance &mdash; "
        "works out which way to nudge w and b to make the loss smaller (the <b>gradient</b>), and moves them a "
        "little that way; the <b>learning rate</b> says how far. "
        "<b>Good:</b> the loss falls steeply, then flattens at the dashed noise level (it cannot reach 0: "
        "the dots are noisy); w ends near 10 and b near 4. "
        "<b>Try:</b> Start with raw x and watch it blow up; then switch on <i>standardise x</i> and start again."),
    "sine": (
        "<b>Fit a sine.</b> The grey dots are sin(x) between &minus;&pi; and &pi;. The model is a polynomial "
        "<i>a<sub>0</sub> + a<sub>1</sub>x + a<sub>2</sub>x<sup>2</sup> + &hellip;</i> of the degree you choose, "
        "starting at 0 (a flat line). <b>Autograd</b> works out the gradient of the loss for every coefficient "
        "and the optimizer nudges them all at once. The powers are taken of x/&pi; (always between &minus;1 and 1) "
        "so that no coefficient needs a much smaller step than the others; the formula is written for the "
        "original x. <b>Good:</b> the orange curve hugs the sine and the largest error drops below 0.05. "
        "<b>Try:</b> degree 1 (a straight line can't bend), 3, 5 and 7; SGD versus Adam."),
    "spiral": (
        "<b>Classify a spiral.</b> Each colour is one arm of a spiral; the model must say which arm a point "
        "(x<sub>1</sub>, x<sub>2</sub>) belongs to. The background shows the model's answer everywhere "
        "(its <b>decision regions</b>), pale where it is unsure. The loss is the cross-entropy: small when the "
        "model gives the right arm a high probability. With <b>0 hidden layers</b> the model is logistic "
        "(softmax) regression: it can only cut the plane with straight lines, so it cannot follow the arms. "
        "A hidden layer lets it bend its boundaries. <b>Good:</b> the accuracy climbs above 95% and the "
        "colours wrap around the arms. <b>Try:</b> 0 hidden layers, then 1; ReLU versus tanh versus sigmoid."),
}

CODE = {
    "hand": ("# w = b = 0 to start; no autograd\n"
             "err = w * x + b - y     # miss per point\n"
             "loss = (err ** 2).mean()\n"
             "dw = 2 * (err * x).mean()  # dloss/dw\n"
             "db = 2 * err.mean()        # dloss/db\n"
             "w -= lr * dw            # step downhill\n"
             "b -= lr * db"),
    "autograd": ("w = torch.zeros((), requires_grad=True)\n"
                 "loss = ((w * x + b - y) ** 2).mean()\n"
                 "loss.backward()   # fills w.grad, b.grad\n"
                 "with torch.no_grad():\n"
                 "    w -= lr * w.grad\n"
                 "    b -= lr * b.grad\n"
                 "w.grad = b.grad = None"),
    "nn": ("model = nn.Linear(1, 1)\n"
           "opt = {opt}\n"
           "loss = F.mse_loss(model(x), y)\n"
           "opt.zero_grad()\n"
           "loss.backward()\n"
           "opt.step()"),
    "sine": ("t = x / math.pi   # powers stay in [-1, 1]\n"
             "features = t[:, None] ** torch.arange({n})\n"
             "a = torch.zeros({n}, requires_grad=True)\n"
             "opt = {opt}\n"
             "loss = F.mse_loss(features @ a, y)\n"
             "opt.zero_grad()\n"
             "loss.backward()\n"
             "opt.step()"),
    "spiral": ("model = {model}\n"
               "opt = {opt}\n"
               "loss = F.cross_entropy(model(points), arm)\n"
               "opt.zero_grad()\n"
               "loss.backward()\n"
               "opt.step()"),
}


def optimizer_code(name: str, params: str = "model.parameters()") -> str:
    return {"sgd": f"torch.optim.SGD({params}, lr)",
            "momentum": f"torch.optim.SGD(\n    {params}, lr, momentum=0.9)",
            "adam": f"torch.optim.Adam({params}, lr)"}[name]


def finite(values: np.ndarray, positive: bool = False) -> np.ndarray:
    """NaN where a value cannot be drawn (inf, NaN, or <= 0 on a log axis)."""
    v = np.array(values, dtype=np.float64)
    bad = ~np.isfinite(v)
    if positive:
        bad |= v <= 0
    v[bad] = np.nan
    return v


def fmt(v: float, digits: int = 4) -> str:
    if not math.isfinite(v):
        return "too large to compute"
    return B._num(v, digits)


def region_image(probs: np.ndarray) -> np.ndarray:
    """Class probabilities (H, W, K) -> a soft RGB image (H, W, 3) uint8: each class's colour, pale,
    mixed by probability (uncertain places come out greyish)."""
    k = probs.shape[2]
    tints = 255.0 - REGION_STRENGTH * (255.0 - np.array(CLASS_COLOURS[:k], dtype=np.float32))
    return np.clip(probs @ tints, 0, 255).astype(np.uint8)


def _tick_text(value: float) -> str:
    if 1e-3 <= value < 1e5:
        return np.format_float_positional(value, precision=3, fractional=False, trim="-")
    mantissa, exponent = f"{value:.0e}".split("e")
    power = "10" + str(int(exponent)).replace("-", "⁻").translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return power if mantissa == "1" else f"{mantissa}·{power}"


class LogAxis(pg.AxisItem):
    """A log-scale axis labelled at whole decades, plus 2 and 5 times them when few decades show
    (pyqtgraph's own log ticks crowd their labels on short ranges)."""

    def tickValues(self, minVal, maxVal, size):
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = math.floor(minVal), math.ceil(maxVal)
        span = max(maxVal - minVal, 1e-9)
        every = max(1, math.ceil(span / 6))
        major = [float(d) for d in range(lo, hi + 1) if minVal <= d <= maxVal and d % every == 0]
        minor: list[float] = []
        if span < 3:
            minor = [d + math.log10(m) for d in range(lo, hi + 1) for m in (2, 5)
                     if minVal <= d + math.log10(m) <= maxVal]
        if span < 0.6:                      # less than a factor 4: evenly spaced round numbers
            lo_v, hi_v = 10 ** minVal, 10 ** maxVal
            raw = (hi_v - lo_v) / 4
            unit = 10 ** math.floor(math.log10(raw))
            step = next(m * unit for m in (1, 2, 5, 10) if m * unit >= raw)
            first = math.ceil(lo_v / step) * step
            minor = [math.log10(v) for v in np.arange(first, hi_v, step) if v > 0]
        return [(None, major), (None, minor)]

    def tickStrings(self, values, scale, spacing):
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        return [_tick_text(10 ** v) for v in values]


def make_plot(title: str, left: str, bottom: str = "step", log_y: bool = False, grid: bool = True) -> pg.PlotWidget:
    """A styled plot. ``grid=False`` for the big data plots: pyqtgraph draws grid lines as
    translucent lines across the whole plot on every repaint, the costliest part of a redraw."""
    axes = {"left": LogAxis("left")} if log_y else {}
    w = pg.PlotWidget(background="w", axisItems=axes)
    p = w.getPlotItem()
    style_plot(p, left, bottom)
    p.setTitle(title, color=GREY_TEXT, size="10pt")
    p.hideButtons()
    if not grid:
        p.showGrid(x=False, y=False)
    if log_y:
        p.setLogMode(y=True)
        p.getAxis("left").enableAutoSIPrefix(False)
    w.setMinimumSize(220, 150)
    return w


def dashed(colour=GREY, width: float = 1.5) -> Any:
    return pg.mkPen(colour, width=width, style=Qt.PenStyle.DashLine)


def target_line(plot: pg.PlotItem, value: float, text: str, colour=GREY, below: bool = False) -> pg.InfiniteLine:
    """A dashed horizontal line with a label at its right end (above it, or below it)."""
    anchor = (1, 0) if below else (1, 1)
    line = pg.InfiniteLine(pos=value, angle=0, pen=dashed(colour),
                           label=text, labelOpts={"position": 0.97, "color": GREY_TEXT, "anchors": [anchor, anchor],
                                                  "fill": pg.mkBrush(255, 255, 255, 200)})
    line.setZValue(-5)
    plot.addItem(line)
    return line


# ============================================================================================ pages
class _Page(QWidget):
    """One experiment's plots. Per-step values grow with ``add_steps``; ``snapshot`` keeps the newest
    curve / regions from the worker; ``redraw`` (throttled by the tab) puts it all on screen."""

    experiment = ""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.steps = GrowingArray()
        self.loss = GrowingArray()
        self.total_steps = 0
        self.settings: B.BasicsSettings | None = None

    def clear(self) -> None:
        self.steps.clear()
        self.loss.clear()

    def add_steps(self, steps: list[int], metrics: list[dict]) -> None:
        self.steps.extend(steps)
        self.loss.extend([m.get("loss", math.nan) for m in metrics])

    def snapshot(self, details: dict) -> None:
        pass

    def step_views(self) -> list[pg.PlotWidget]:
        return []

    def show_data(self, settings: B.BasicsSettings) -> None:
        self.settings = settings
        self.total_steps = settings.steps
        # the step axes span the whole run from the start: progress is visible, and the axes
        # are not re-laid out on every redraw
        for view in self.step_views():
            view.getPlotItem().setXRange(0, max(1, settings.steps), padding=0.02)

    def redraw(self) -> None:
        pass

    def _draw_loss(self, curve: pg.PlotDataItem) -> None:
        curve.setData(self.steps.view, finite(self.loss.view, positive=True), connect="finite")

    def readout(self) -> str:
        return ""

    def step_text(self) -> str:
        done = int(self.steps.view[-1]) if len(self.steps) else 0
        return f"step {done} of {self.total_steps}"


class LinePage(_Page):
    experiment = "line"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.w = GrowingArray()
        self.b = GrowingArray()
        self.data_view = make_plot("The data and the fitted line", "y (output)", "x (input)", grid=False)
        self.loss_view = make_plot("Loss: mean squared error (log scale)", "loss", log_y=True)
        self.w_view = make_plot("w, the slope (true: 10)", "w")
        self.b_view = make_plot("b, the intercept (true: 4)", "b")
        dp = self.data_view.getPlotItem()
        dp.addLegend(offset=(10, 10), labelTextColor=GREY_TEXT, brush=pg.mkBrush(255, 255, 255, 220))
        self.scatter = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(*BLUE, 110),
                                          name="data (1 in 10 points drawn)")
        dp.addItem(self.scatter)
        self.true_curve = dp.plot([0, 100], [B.TRUE_B, 100 * B.TRUE_W + B.TRUE_B], pen=dashed(GREY_TEXT, 1.5),
                                  name="true line y = 10x + 4")
        self.fit_curve = dp.plot([], [], pen=pg.mkPen(ORANGE, width=3.5), name="fitted line y = w·x + b")
        dp.setXRange(0, 100, padding=0.02)
        dp.enableAutoRange(False)
        self.loss_curve = self.loss_view.plot(pen=pg.mkPen(BLUE, width=2), connect="finite")
        self.noise_line = target_line(self.loss_view.getPlotItem(), 0.0, "")
        self.w_curve = self.w_view.plot(pen=pg.mkPen(PURPLE, width=2), connect="finite")
        self.b_curve = self.b_view.plot(pen=pg.mkPen(GREEN, width=2), connect="finite")
        target_line(self.w_view.getPlotItem(), B.TRUE_W, "true w = 10", below=True)
        target_line(self.b_view.getPlotItem(), B.TRUE_B, "true b = 4", below=True)

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        grid.addWidget(self.data_view, 0, 0, 3, 1)
        grid.addWidget(self.loss_view, 0, 1)
        grid.addWidget(self.w_view, 1, 1)
        grid.addWidget(self.b_view, 2, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)

    def step_views(self) -> list[pg.PlotWidget]:
        return [self.loss_view, self.w_view, self.b_view]

    def clear(self) -> None:
        super().clear()
        self.w.clear()
        self.b.clear()

    def add_steps(self, steps, metrics) -> None:
        super().add_steps(steps, metrics)
        self.w.extend([m.get("w", math.nan) for m in metrics])
        self.b.extend([m.get("b", math.nan) for m in metrics])

    def show_data(self, settings: B.BasicsSettings) -> None:
        super().show_data(settings)
        x, y = B.line_data(settings.noise, settings.seed)
        xs, ys = x.numpy()[::LINE_DRAWN_EVERY], y.numpy()[::LINE_DRAWN_EVERY]
        self.scatter.setData(xs, ys)
        pad = 0.05 * float(ys.max() - ys.min())
        self.data_view.getPlotItem().setYRange(float(ys.min()) - pad, float(ys.max()) + pad, padding=0)
        floor = max(settings.noise ** 2, 1e-6)
        self.noise_line.setPos(math.log10(floor))
        self.noise_line.label.setFormat(f"noise level ≈ {fmt(floor, 3)}")

    def current(self) -> tuple[float, float]:
        if not len(self.w):
            return 0.0, 0.0
        return float(self.w.view[-1]), float(self.b.view[-1])

    def redraw(self) -> None:
        w, b = self.current()
        if math.isfinite(w) and math.isfinite(b):
            self.fit_curve.setData([0.0, 100.0], [b, 100.0 * w + b])
        else:
            self.fit_curve.setData([], [])
        self._draw_loss(self.loss_curve)
        self.w_curve.setData(self.steps.view, finite(self.w.view), connect="finite")
        self.b_curve.setData(self.steps.view, finite(self.b.view), connect="finite")

    def readout(self) -> str:
        if not len(self.steps):
            return "Before training: w = 0, b = 0 (a flat line).   The true line: y = 10 x + 4"
        w, b = self.current()
        loss = float(self.loss.view[-1])
        fit = B.line_formula(w, b) if math.isfinite(w) and math.isfinite(b) else "too large to draw"
        return (f"{self.step_text()}    loss {fmt(loss)}    fitted: {fit}    (true: y = 10 x + 4)")


class SinePage(_Page):
    experiment = "sine"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.max_error = GrowingArray(256)
        self.error_steps = GrowingArray(256)
        self.details: dict | None = None
        self.data_view = make_plot("sin(x) and the polynomial", "y", "x (radians)", grid=False)
        self.loss_view = make_plot("Loss: mean squared error (log scale)", "loss", log_y=True)
        self.error_view = make_plot("Largest error |polynomial − sin| (log scale)", "error", log_y=True)
        dp = self.data_view.getPlotItem()
        dp.addLegend(offset=(10, 10), labelTextColor=GREY_TEXT, brush=pg.mkBrush(255, 255, 255, 220))
        x, y = B.sine_data()
        self.scatter = pg.ScatterPlotItem(x.numpy()[::SINE_DRAWN_EVERY], y.numpy()[::SINE_DRAWN_EVERY], size=5,
                                          pen=None, brush=pg.mkBrush(*GREY, 200), name="sin(x), the data")
        dp.addItem(self.scatter)
        self.fit_curve = dp.plot([], [], pen=pg.mkPen(ORANGE, width=3.5), name="the polynomial")
        dp.setXRange(-math.pi, math.pi, padding=0.02)
        dp.setYRange(-1.6, 1.6, padding=0)
        dp.enableAutoRange(False)
        self.loss_curve = self.loss_view.plot(pen=pg.mkPen(BLUE, width=2), connect="finite")
        self.error_curve = self.error_view.plot(pen=pg.mkPen(RED, width=2), symbol="o", symbolSize=4,
                                                symbolBrush=RED, symbolPen=None, connect="finite")
        target_line(self.error_view.getPlotItem(), math.log10(0.05), "good: below 0.05")
        self.formula = QLabel()
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.formula.setWordWrap(True)
        self.formula.setStyleSheet("QLabel { font-family: 'DejaVu Sans Mono', monospace; font-size: 13px; "
                                   "background: #fbfbf7; border: 1px solid #ddd; padding: 6px; }")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        grid.addWidget(self.data_view, 0, 0, 2, 1)
        grid.addWidget(self.loss_view, 0, 1)
        grid.addWidget(self.error_view, 1, 1)
        grid.addWidget(self.formula, 2, 0, 1, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)

    def step_views(self) -> list[pg.PlotWidget]:
        return [self.loss_view, self.error_view]

    def clear(self) -> None:
        super().clear()
        self.max_error.clear()
        self.error_steps.clear()
        self.details = None

    def show_data(self, settings: B.BasicsSettings) -> None:
        super().show_data(settings)
        self.formula.setText(f"Polynomial of degree {settings.degree}: y = 0 before training (all coefficients 0).")

    def snapshot(self, details: dict) -> None:
        if "y" in details:
            self.details = details
            self.error_steps.append(float(self.steps.view[-1]) if len(self.steps) else 0.0)
            self.max_error.append(details["max_error"])

    def redraw(self) -> None:
        if self.details is not None:
            self.fit_curve.setData(self.details["x"], finite(self.details["y"]), connect="finite")
            self.formula.setText(f"Degree {len(self.details['coefficients']) - 1}:   {self.details['formula']}")
        else:
            self.fit_curve.setData([-math.pi, math.pi], [0.0, 0.0])
        self._draw_loss(self.loss_curve)
        self.error_curve.setData(self.error_steps.view, finite(self.max_error.view, positive=True),
                                 connect="finite")

    def readout(self) -> str:
        if not len(self.steps):
            return "Before training: every coefficient is 0, so the polynomial is the flat line y = 0."
        err = f"    largest error {fmt(self.details['max_error'], 3)}" if self.details else ""
        return f"{self.step_text()}    loss {fmt(float(self.loss.view[-1]))}{err}"


class SpiralPage(_Page):
    experiment = "spiral"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.acc = GrowingArray()
        self.regions: np.ndarray | None = None
        self._regions_dirty = False
        self.data_view = make_plot("The points and the model's decision regions", "x₂", "x₁", grid=False)
        self.loss_view = make_plot("Loss: cross-entropy (log scale)", "loss", log_y=True)
        self.acc_view = make_plot("Accuracy on these points", "correct (%)")
        dp = self.data_view.getPlotItem()
        dp.setAspectLocked(True)
        self.image = pg.ImageItem()
        self.image.setZValue(-20)
        e = B.SPIRAL_EXTENT
        dp.addItem(self.image)
        self.scatters = []
        for k, c in enumerate(CLASS_COLOURS):
            s = pg.ScatterPlotItem(size=7, pen=pg.mkPen(255, 255, 255, 230, width=1), brush=pg.mkBrush(*c))
            dp.addItem(s)
            self.scatters.append(s)
        dp.setXRange(-e, e, padding=0)
        dp.setYRange(-e, e, padding=0)
        dp.enableAutoRange(False)
        self.loss_curve = self.loss_view.plot(pen=pg.mkPen(BLUE, width=2), connect="finite")
        self.acc_curve = self.acc_view.plot(pen=pg.mkPen(GREEN, width=2), connect="finite")
        ap = self.acc_view.getPlotItem()
        ap.setYRange(0, 102, padding=0)
        ap.enableAutoRange(axis="y", enable=False)
        target_line(ap, 95, "good: 95%", below=True)
        self.chance = target_line(ap, 100 / 3, "guessing: 33%", colour=RED)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        grid.addWidget(self.data_view, 0, 0, 2, 1)
        grid.addWidget(self.loss_view, 0, 1)
        grid.addWidget(self.acc_view, 1, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)

    def step_views(self) -> list[pg.PlotWidget]:
        return [self.loss_view, self.acc_view]

    def clear(self) -> None:
        super().clear()
        self.acc.clear()
        self.regions = None
        self._regions_dirty = False
        self.image.clear()

    def add_steps(self, steps, metrics) -> None:
        super().add_steps(steps, metrics)
        self.acc.extend([100.0 * m.get("acc", math.nan) for m in metrics])

    def show_data(self, settings: B.BasicsSettings) -> None:
        super().show_data(settings)
        x, y = B.spiral_data(settings.arms, settings.points_per_arm, settings.spiral_noise, settings.seed)
        x, y = x.numpy(), y.numpy()
        for k, s in enumerate(self.scatters):
            sel = y == k
            s.setData(x[sel, 0], x[sel, 1])
        e = B.SPIRAL_EXTENT
        self.data_view.getPlotItem().setRange(xRange=(-e, e), yRange=(-e, e), padding=0)
        self.chance.setPos(100 / settings.arms)
        self.chance.label.setFormat(f"guessing: {100 / settings.arms:.0f}%")

    def snapshot(self, details: dict) -> None:
        if "regions" in details:
            self.regions = details["regions"]
            self._regions_dirty = True

    def redraw(self) -> None:
        if self._regions_dirty and self.regions is not None:
            # the worker's grid is row-major (row = x₂); ImageItem wants [x, y]
            self.image.setImage(region_image(self.regions).transpose(1, 0, 2), levels=(0, 255), autoLevels=False)
            e = B.SPIRAL_EXTENT
            self.image.setRect(QRectF(-e, -e, 2 * e, 2 * e))
            self._regions_dirty = False
        self._draw_loss(self.loss_curve)
        self.acc_curve.setData(self.steps.view, finite(self.acc.view), connect="finite")

    def readout(self) -> str:
        if not len(self.steps):
            return "Before training: the model guesses (its weights are random)."
        return (f"{self.step_text()}    loss {fmt(float(self.loss.view[-1]))}    "
                f"accuracy {fmt(float(self.acc.view[-1]), 3)}%")


# ============================================================================================ the tab
class BasicsTab(QWidget):
    """Gradient descent, seen: fit a line, fit a sine, classify a spiral."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.runner = TrainingRunner(self)
        self.runner.events.connect(self._on_events)
        self.runner.finished.connect(self._on_finished)
        self.experiment = "line"
        self.last_result: Finished | Failed | None = None
        self._running_settings: B.BasicsSettings | None = None
        self._reset_when_done = False
        self._running = False               # from Start until the result is shown
        self._loading = False
        # per-experiment training values (optimizer key, lr text, steps)
        self._train_values = {e: {"optimizer": opt, "lr": B._num(B.recommended(e, opt)),
                                  "steps": B.RECOMMENDED_STEPS[e]}
                              for e, opt in (("line", "sgd"), ("sine", "adam"), ("spiral", "adam"))}

        self.pages = {"line": LinePage(), "sine": SinePage(), "spiral": SpiralPage()}
        self.line_page: LinePage = self.pages["line"]
        self.sine_page: SinePage = self.pages["sine"]
        self.spiral_page: SpiralPage = self.pages["spiral"]
        self.throttle = RedrawThrottle(self._redraw, 20.0, self)

        self._build()
        self._select("line", force=True)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        # -- left: controls
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(8)
        title = QLabel("Basics: see gradient descent learn")
        f = title.font()
        f.setPointSizeF(f.pointSizeF() * 1.25)
        f.setBold(True)
        title.setFont(f)
        lay.addWidget(title)

        pick = QHBoxLayout()
        pick.setSpacing(4)
        self.experiment_group = QButtonGroup(self)
        self.experiment_group.setExclusive(True)
        self.experiment_buttons: dict[str, QPushButton] = {}
        for key, text in (("line", "1. Line"), ("sine", "2. Sine"), ("spiral", "3. Spiral")):
            b = QPushButton(text)
            b.setCheckable(True)
            b.setToolTip(B.EXPERIMENTS[key])
            b.setMinimumHeight(30)
            b.clicked.connect(lambda _=False, k=key: self._select(k))
            self.experiment_group.addButton(b)
            self.experiment_buttons[key] = b
            pick.addWidget(b)
        lay.addLayout(pick)

        # experiment settings
        self.settings_box = QGroupBox("Experiment")
        self.settings_stack = QStackedWidget()
        sb = QVBoxLayout(self.settings_box)
        sb.setContentsMargins(6, 6, 6, 6)
        sb.addWidget(self.settings_stack)

        line_form = QWidget()
        lf = QFormLayout(line_form)
        lf.setContentsMargins(0, 0, 0, 0)
        self.method_combo = QComboBox()
        for key, text in B.METHODS.items():
            self.method_combo.addItem(text, key)
        self.method_combo.setToolTip("How the gradients are computed and the step is taken.")
        self.standardise_check = QCheckBox("standardise x")
        self.standardise_check.setToolTip("Use (x − mean) / std, about −1.7 to 1.7, instead of 0 to 100. "
                                          "w and b are still shown for the original x.")
        self.noise_spin = QDoubleSpinBox()
        self.noise_spin.setRange(0.0, 200.0)
        self.noise_spin.setSingleStep(1.0)
        self.noise_spin.setDecimals(1)
        self.noise_spin.setValue(5.0)
        self.noise_spin.setToolTip("How much random noise is added to y (its standard deviation).")
        lf.addRow("Method:", self.method_combo)
        lf.addRow("", self.standardise_check)
        lf.addRow("Noise:", self.noise_spin)
        self.settings_stack.addWidget(line_form)

        sine_form = QWidget()
        sf = QFormLayout(sine_form)
        sf.setContentsMargins(0, 0, 0, 0)
        self.degree_spin = QSpinBox()
        self.degree_spin.setRange(1, B.MAX_DEGREE)
        self.degree_spin.setValue(5)
        self.degree_spin.setToolTip("The highest power of x in the polynomial (1 = a straight line).")
        sf.addRow("Degree:", self.degree_spin)
        self.settings_stack.addWidget(sine_form)

        spiral_form = QWidget()
        pf = QFormLayout(spiral_form)
        pf.setContentsMargins(0, 0, 0, 0)
        self.arms_combo = QComboBox()
        self.arms_combo.addItem("3 arms", 3)
        self.arms_combo.addItem("2 arms", 2)
        self.hidden_spin = QSpinBox()
        self.hidden_spin.setRange(0, 4)
        self.hidden_spin.setValue(1)
        self.hidden_spin.setToolTip("0 = logistic (softmax) regression: straight boundaries only.")
        self.width_spin = QSpinBox()
        self.width_spin.setRange(2, 512)
        self.width_spin.setValue(100)
        self.width_spin.setToolTip("Neurons in each hidden layer.")
        self.activation_combo = QComboBox()
        for key, text in (("relu", "ReLU"), ("tanh", "tanh"), ("sigmoid", "sigmoid")):
            self.activation_combo.addItem(text, key)
        self.activation_combo.setToolTip("The bend applied after each hidden layer.")
        pf.addRow("Spiral:", self.arms_combo)
        pf.addRow("Hidden layers:", self.hidden_spin)
        pf.addRow("Hidden width:", self.width_spin)
        pf.addRow("Activation:", self.activation_combo)
        self.settings_stack.addWidget(spiral_form)

        self.code_label = QLabel()
        self.code_label.setTextFormat(Qt.TextFormat.PlainText)
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code_label.setWordWrap(False)
        self.code_label.setStyleSheet("QLabel { font-family: 'DejaVu Sans Mono', monospace; font-size: 10px; "
                                      "background: #f4f6f8; border: 1px solid #dde2e6; padding: 5px; "
                                      "color: #223; }")
        self.code_label.setToolTip("What one step does, in PyTorch.")
        code_title = QLabel("One step in PyTorch:")
        code_title.setStyleSheet(f"color: {GREY_TEXT};")
        sb.addWidget(code_title)
        sb.addWidget(self.code_label)
        lay.addWidget(self.settings_box)

        # training settings
        train_box = QGroupBox("Training")
        tf = QFormLayout(train_box)
        self.optimizer_combo = QComboBox()
        for key, text in B.OPTIMIZERS.items():
            self.optimizer_combo.addItem(text, key)
        self.lr_combo = QComboBox()
        self.lr_combo.setEditable(True)
        self.lr_combo.addItems(LR_PRESETS)
        self.lr_combo.setToolTip("How far each step moves the weights (type any number, e.g. 0.03 or 1e-5).")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100_000)
        self.steps_spin.setSingleStep(100)
        self.steps_spin.setToolTip("How many gradient steps (each step uses all the points).")
        self.speed_combo = QComboBox()
        for text, secs in SPEEDS:
            self.speed_combo.addItem(text, secs)
        self.speed_combo.setToolTip("Slow the run down to watch it, or let it run flat out.")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 99_999)
        self.seed_spin.setToolTip("The same seed gives exactly the same run (data noise and starting weights).")
        self.lr_hint = QLabel()
        self.lr_hint.setWordWrap(True)
        self.lr_hint.setStyleSheet("color: #666; font-size: 11px;")
        tf.addRow("Optimizer:", self.optimizer_combo)
        tf.addRow("Learning rate:", self.lr_combo)
        tf.addRow("", self.lr_hint)
        tf.addRow("Steps:", self.steps_spin)
        tf.addRow("Speed:", self.speed_combo)
        tf.addRow("Seed:", self.seed_spin)
        lay.addWidget(train_box)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.setMinimumHeight(32)
        self.start_button.setStyleSheet("QPushButton { font-weight: bold; }")
        self.stop_button = QPushButton("Stop")
        self.reset_button = QPushButton("Reset")
        self.stop_button.setMinimumHeight(32)
        self.reset_button.setMinimumHeight(32)
        self.reset_button.setToolTip("Clear the plots and go back to the start (same settings, same seed).")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.reset_button.clicked.connect(self.reset)
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.stop_button, 1)
        buttons.addWidget(self.reset_button, 1)
        lay.addLayout(buttons)

        self.message_frame = QFrame()
        self.message_frame.setObjectName("basicsMessage")
        mf = QVBoxLayout(self.message_frame)
        mf.setContentsMargins(8, 6, 8, 6)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fix_button = QPushButton()
        self.fix_button.hide()
        self.fix_button.clicked.connect(self._apply_fix)
        self._fix = None
        mf.addWidget(self.message_label)
        fix_row = QHBoxLayout()
        fix_row.addWidget(self.fix_button)
        fix_row.addStretch(1)
        mf.addLayout(fix_row)
        lay.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedWidth(350)

        # -- right: explanation, readout, plots
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 8, 8, 8)
        rl.setSpacing(6)
        self.explain_label = QLabel()
        self.explain_label.setWordWrap(True)
        self.explain_label.setTextFormat(Qt.TextFormat.RichText)
        self.explain_label.setStyleSheet("QLabel { background: #f7f9fc; border: 1px solid #e0e6ef; "
                                         "border-radius: 4px; padding: 8px; color: #222; }")
        self.explain_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.readout_label = QLabel()
        rf = QFont(self.readout_label.font())
        rf.setPointSizeF(rf.pointSizeF() * 1.1)
        rf.setBold(True)
        self.readout_label.setFont(rf)
        self.readout_label.setStyleSheet("color: #233;")
        self.readout_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.page_stack = QStackedWidget()
        for key in ("line", "sine", "spiral"):
            self.page_stack.addWidget(self.pages[key])
        rl.addWidget(self.explain_label)
        rl.addWidget(self.message_frame)
        rl.addWidget(self.readout_label)
        rl.addWidget(self.page_stack, 1)

        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(scroll)
        outer.addWidget(right, 1)

        # changes
        self.method_combo.currentIndexChanged.connect(self._on_method)
        self.optimizer_combo.currentIndexChanged.connect(self._on_optimizer)
        for w in (self.standardise_check,):
            w.toggled.connect(self._on_setting)
        for w in (self.noise_spin, self.degree_spin, self.hidden_spin, self.width_spin, self.seed_spin,
                  self.steps_spin):
            w.valueChanged.connect(self._on_setting)
        for w in (self.arms_combo, self.activation_combo):
            w.currentIndexChanged.connect(self._on_setting)
        self.lr_combo.currentTextChanged.connect(self._on_lr_text)
        self._controls = [self.settings_box, train_box, *self.experiment_buttons.values()]
        self._set_running(False)

    # ------------------------------------------------------------------ state of the controls
    @property
    def page(self) -> _Page:
        return self.pages[self.experiment]

    def is_busy(self) -> bool:
        return self._running or self.runner.is_running()

    def shutdown(self) -> None:
        self._reset_when_done = False
        self.runner.shutdown()

    def _set_running(self, running: bool) -> None:
        for w in self._controls:
            w.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        if not running:
            self._update_optimizer_enabled()

    def _select(self, experiment: str, force: bool = False) -> None:
        if experiment == self.experiment and not force:
            self.experiment_buttons[experiment].setChecked(True)
            return
        if self.is_busy():
            self.experiment_buttons[self.experiment].setChecked(True)
            return
        if not force:
            self._store_train_values()
        self.experiment = experiment
        self.experiment_buttons[experiment].setChecked(True)
        self.settings_box.setTitle(B.EXPERIMENTS[experiment])
        index = list(B.EXPERIMENTS).index(experiment)
        self.settings_stack.setCurrentIndex(index)
        for i in range(self.settings_stack.count()):   # the box takes the height of the shown form only
            policy = QSizePolicy.Policy.Preferred if i == index else QSizePolicy.Policy.Ignored
            self.settings_stack.widget(i).setSizePolicy(policy, policy)
        self.settings_stack.adjustSize()
        self.page_stack.setCurrentWidget(self.pages[experiment])
        self.explain_label.setText(EXPLAIN[experiment])
        self._loading = True
        try:
            v = self._train_values[experiment]
            self.optimizer_combo.setCurrentIndex(self.optimizer_combo.findData(v["optimizer"]))
            self.lr_combo.setCurrentText(v["lr"])
            self.steps_spin.setValue(int(v["steps"]))
        finally:
            self._loading = False
        self._update_optimizer_enabled()
        self.reset()

    def _store_train_values(self) -> None:
        if self.experiment in self._train_values:
            self._train_values[self.experiment] = {"optimizer": self.optimizer_combo.currentData(),
                                                   "lr": self.lr_combo.currentText(),
                                                   "steps": self.steps_spin.value()}

    def _update_optimizer_enabled(self) -> None:
        by_hand = self.experiment == "line" and self.method_combo.currentData() != "nn"
        if by_hand:
            self._loading = True
            self.optimizer_combo.setCurrentIndex(self.optimizer_combo.findData("sgd"))
            self._loading = False
        self.optimizer_combo.setEnabled(not by_hand and not self.is_busy())
        self.optimizer_combo.setToolTip("Gradients by hand and autograd take plain gradient-descent steps "
                                        "(w = w − lr · gradient); pick nn.Linear to try momentum or Adam."
                                        if by_hand else
                                        "SGD: step = lr × gradient. Momentum: keeps part of the last step, "
                                        "so it rolls faster down long slopes. Adam: scales each weight's step "
                                        "by how large its gradients have been.")
        self._update_code()

    def _on_method(self) -> None:
        self._update_optimizer_enabled()
        self._on_setting()

    def _on_optimizer(self) -> None:
        if self._loading:
            return
        opt = self.optimizer_combo.currentData()
        self._loading = True
        self.lr_combo.setCurrentText(B._num(B.recommended(self.experiment, opt)))
        self._loading = False
        self._update_code()
        self._on_setting()

    def _on_lr_text(self) -> None:
        if not self._loading:
            self._on_setting()

    def _on_setting(self, *_: Any) -> None:
        if self._loading or self.is_busy():
            return
        self._update_code()
        self.reset()

    def _update_code(self) -> None:
        opt = self.optimizer_combo.currentData() or "sgd"
        e = self.experiment
        if e == "line":
            method = self.method_combo.currentData()
            code = CODE[method].replace("{opt}", optimizer_code(opt))
        elif e == "sine":
            n = self.degree_spin.value() + 1
            code = CODE["sine"].replace("{n}", str(n)).replace("{opt}", optimizer_code(opt, "[a]"))
        else:
            code = CODE["spiral"].replace("{model}", self._model_text()).replace("{opt}", optimizer_code(opt))
        self.code_label.setText(code)
        rec = B._num(B.recommended(e, opt))
        note = {"line": f"Suggested: {rec} with standardised x.", "sine": f"Suggested: {rec}.",
                "spiral": f"Suggested: {rec}."}[e]
        self.lr_hint.setText(note + " Too large and the loss blows up; too small and it crawls.")

    def _model_text(self) -> str:
        hidden, width = self.hidden_spin.value(), self.width_spin.value()
        act = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}[self.activation_combo.currentData()]
        arms = self.arms_combo.currentData()
        parts, d = [], 2
        for _ in range(hidden):
            parts.append(f"Linear({d}, {width}), {act}()")
            d = width
        parts.append(f"Linear({d}, {arms})")
        return "nn.Sequential(\n    " + ",\n    ".join(parts) + ")"

    # ------------------------------------------------------------------ settings
    def settings(self) -> B.BasicsSettings:
        """The settings the controls describe (raises UserError for a bad learning rate)."""
        text = self.lr_combo.currentText().strip().replace(",", ".")
        try:
            lr = float(text)
        except ValueError:
            raise UserError(f"The learning rate must be a number such as 0.1 or 1e-4 (got '{text}').") from None
        return B.BasicsSettings(
            experiment=self.experiment, steps=self.steps_spin.value(), lr=lr,
            optimizer=self.optimizer_combo.currentData(), seed=self.seed_spin.value(),
            seconds=float(self.speed_combo.currentData()), method=self.method_combo.currentData(),
            standardise=self.standardise_check.isChecked(), noise=self.noise_spin.value(),
            degree=self.degree_spin.value(), arms=self.arms_combo.currentData(),
            hidden_layers=self.hidden_spin.value(), width=self.width_spin.value(),
            activation=self.activation_combo.currentData()).validate()

    def _show_message(self, html: str, kind: str = "info", fix: tuple[str, Any] | None = None) -> None:
        colours = {"info": ("#f2f5f9", "#c9d3df"), "good": ("#eef8ee", "#9fd39f"), "warn": ("#fff4e5", "#f0b35a"),
                   "error": ("#fdecec", "#e79a9a")}
        bg, border = colours[kind]
        self.message_frame.setStyleSheet(f"QFrame#basicsMessage {{ background: {bg}; border: 1px solid {border}; "
                                         f"border-radius: 4px; }}")
        self.message_label.setText(html)
        self.message_kind = kind
        self._fix = fix[1] if fix else None
        self.fix_button.setText(fix[0] if fix else "")
        self.fix_button.setVisible(fix is not None)

    def _apply_fix(self) -> None:
        fix, self._fix = self._fix, None
        self.fix_button.hide()
        if fix is not None:
            fix()

    # ------------------------------------------------------------------ actions
    @Slot()
    def start(self) -> None:
        if self.is_busy():
            return
        try:
            settings = self.settings()
        except UserError as exc:
            self._show_message(str(exc), "error")
            return
        self._reset_when_done = False
        page = self.page
        page.clear()
        page.show_data(settings)
        self.throttle.flush()
        self._redraw()
        self._running_settings = settings
        self.last_result = None
        self.runner.start(lambda callbacks, control: B.make_basics_trainer(settings, callbacks=callbacks,
                                                                           control=control))
        self._running = True
        self._set_running(True)
        self.state.set_busy("basics", f"Basics: {B.EXPERIMENTS[settings.experiment].lower()}…")
        self._show_message(f"Running {settings.steps} steps… Watch the loss curve fall. Stop ends the run early.")

    @Slot()
    def stop(self) -> None:
        self.runner.stop()

    @Slot()
    def reset(self) -> None:
        """Back to the start: clear the plots and draw the data (stops a run first)."""
        if self.is_busy():
            self._reset_when_done = True
            self.runner.stop()
            return
        self.last_result = None
        try:
            settings = self.settings()
        except UserError as exc:
            self._show_message(str(exc), "error")
            return
        page = self.page
        page.clear()
        page.show_data(settings)
        self.throttle.mark()
        self.throttle.flush()
        self._show_message(self._ready_text(settings))

    def _ready_text(self, s: B.BasicsSettings) -> str:
        if s.experiment == "line" and not s.standardise:
            return ("Ready. x is raw (0 to 100). Press <b>Start</b> and see what a learning rate of "
                    f"{B._num(s.lr)} does.")
        return "Ready. Press <b>Start</b>."

    # ------------------------------------------------------------------ events
    @Slot(list)
    def _on_events(self, events: list) -> None:
        page = self.page
        steps: list[int] = []
        metrics: list[dict] = []
        for ev in events:
            if isinstance(ev, BatchEnd):
                steps.append(ev.step)
                metrics.append(ev.metrics)
            elif isinstance(ev, EpochEnd):
                if steps:
                    page.add_steps(steps, metrics)
                    steps, metrics = [], []
                page.snapshot(ev.details)
        if steps:
            page.add_steps(steps, metrics)
        self.throttle.mark()

    @Slot(object)
    def _on_finished(self, result) -> None:
        self.last_result = result
        self._running = False
        self._set_running(False)
        self.state.set_busy("basics", "")
        self.throttle.flush()
        self._redraw()
        if self._reset_when_done:
            self._reset_when_done = False
            self.reset()
            return
        s = self._running_settings or self.settings()
        if isinstance(result, Failed):
            self._report_failure(result, s)
        elif result.reason == "stopped":
            done = int(self.page.steps.view[-1]) if len(self.page.steps) else 0
            self._show_message(f"Stopped after {done} of {s.steps} steps. <b>Start</b> runs it again from the "
                               "beginning; the same seed gives exactly the same run.")
        else:
            self._report_result(result, s)

    def _report_failure(self, failed: Failed, s: B.BasicsSettings) -> None:
        if B.TOO_LARGE in failed.message:
            if s.experiment == "line" and not s.standardise:
                fix = ("Switch on “standardise x” (learning rate 0.1)", self._fix_standardise)
            else:
                fix = ("Use a 10× smaller learning rate", self._fix_smaller_lr)
            text = _html(failed.message).replace(B.TOO_LARGE, f"<b>{B.TOO_LARGE}</b>", 1)
            self._show_message(text, "warn", fix)
        elif failed.user_error:
            self._show_message(_html(failed.message), "error")
        else:
            self._show_message("Something went wrong: " + _html(failed.message), "error")

    def _report_result(self, result: Finished, s: B.BasicsSettings) -> None:
        m = result.metrics
        if s.experiment == "line":
            w, b = m.get("w", math.nan), m.get("b", math.nan)
            text = (f"Done: <b>{B.line_formula(w, b)}</b> (the true line is y = 10 x + 4); "
                    f"loss {fmt(m.get('loss', math.nan))}.")
            if abs(w - B.TRUE_W) < 0.05 and abs(b - B.TRUE_B) < 0.5:
                self._show_message(text + f" The loss is down at the noise level (≈ {fmt(s.noise ** 2, 3)}): "
                                   "this line is as good as these noisy points allow.", "good")
            elif not s.standardise:
                self._show_message(text + " w and b are not there yet: with raw x, a learning rate small enough "
                                   "to be stable barely moves b. Standardising x fixes that.", "warn",
                                   ("Switch on “standardise x” (learning rate 0.1)", self._fix_standardise))
            else:
                self._show_message(text + " Not there yet: try more steps or a larger learning rate.", "warn")
        elif s.experiment == "sine":
            err = m.get("max_error", math.nan)
            if err < 0.05:
                self._show_message(f"Done: the largest error is <b>{fmt(err, 3)}</b>, below 0.05. The polynomial "
                                   "is a good stand-in for sin(x) on this range.", "good")
            elif s.degree < 3:
                self._show_message(f"Done: the largest error is {fmt(err, 3)}. A polynomial of degree {s.degree} "
                                   "cannot bend enough to follow a sine: try degree 3 or more.", "warn")
            elif s.degree >= 6:
                self._show_message(f"Done: the largest error is {fmt(err, 3)}. Degree {s.degree} can fit much "
                                   "better, but its high powers (x⁵, x⁶, x⁷ …) look alike between −π and π, so "
                                   "gradient descent needs many more steps to tell their coefficients apart: try "
                                   "10000 steps.", "warn")
            else:
                self._show_message(f"Done: the largest error is {fmt(err, 3)}. Not there yet: try more steps, "
                                   "a larger learning rate, or Adam.", "warn")
        else:
            acc = 100 * m.get("acc", math.nan)
            if s.hidden_layers == 0:
                self._show_message(f"Done: <b>{fmt(acc, 3)}%</b> of the points are right. Without a hidden layer "
                                   "the model can only draw straight boundaries, so it cannot follow the arms. "
                                   "Add a hidden layer and start again.", "warn")
            elif acc > 95:
                self._show_message(f"Done: <b>{fmt(acc, 3)}%</b> of the points are right: the hidden layer lets the "
                                   "boundaries bend around the arms.", "good")
            else:
                self._show_message(f"Done: {fmt(acc, 3)}% of the points are right. Not there yet: try more steps, "
                                   "a larger learning rate, Adam, or a wider hidden layer.", "warn")

    def _fix_standardise(self) -> None:
        self._select("line")
        self._loading = True
        self.standardise_check.setChecked(True)
        self.lr_combo.setCurrentText("0.1")
        self._loading = False
        self.reset()
        self._show_message("<b>Standardise x is on:</b> x now runs from about −1.7 to 1.7, so w and b need "
                           "similar step sizes and the learning rate 0.1 works. Press <b>Start</b>.")

    def _fix_smaller_lr(self) -> None:
        try:
            lr = self.settings().lr / 10
        except UserError:
            return
        self._loading = True
        self.lr_combo.setCurrentText(B._num(lr))
        self._loading = False
        self.reset()
        self._show_message(f"The learning rate is now {B._num(lr)}. Press <b>Start</b>.")

    # ------------------------------------------------------------------ drawing
    def _redraw(self) -> None:
        page = self.page
        page.redraw()
        self.readout_label.setText(page.readout())


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
