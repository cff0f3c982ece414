"""Plot helpers of the Basics tab: colours, a log axis with readable ticks, styled plots, target lines."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from app.engine import basics as B
from app.ui.widgets.curves import style_plot

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
