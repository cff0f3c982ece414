"""The three experiment pages of the Basics tab (a line, a sine, a spiral): their plots and readouts.

Per-step values grow with ``add_steps``; ``snapshot`` keeps the newest curve / regions computed in the
worker thread; ``redraw`` (throttled by the tab) puts it all on screen. Nothing here runs torch.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from app.engine import basics as B
from app.ui.tabs.basics.plots import (BLUE, CLASS_COLOURS, GREEN, GREY, GREY_TEXT, LINE_DRAWN_EVERY, ORANGE,
                                      PURPLE, RED, SINE_DRAWN_EVERY, dashed, finite, fmt, make_plot,
                                      region_image, target_line)
from app.ui.widgets.curves import GrowingArray

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
        x, y = B.line_data(settings.noise, settings.seed, settings.noise_kind)
        xs, ys = x.numpy()[::LINE_DRAWN_EVERY], y.numpy()[::LINE_DRAWN_EVERY]
        self.scatter.setData(xs, ys)
        pad = 0.05 * float(ys.max() - ys.min())
        self.data_view.getPlotItem().setYRange(float(ys.min()) - pad, float(ys.max()) + pad, padding=0)
        floor = max(B.noise_floor(settings), 1e-6)
        self.loss_view.getPlotItem().setTitle(f"Loss: {B.LOSSES[settings.loss].lower()} (log scale)",
                                              color=GREY_TEXT, size="10pt")
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
