"""The GAN's live charts: D and G loss and D(x) / D(G(z)) per batch, the Fréchet distance per scored epoch, and
the class histogram of the generated samples (with the fair-share line). Redrawn at most ``max_rate`` times a
second however fast the batches come."""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from app.ui.widgets.curves import GREY_TEXT, GrowingArray, style_plot
from app.ui.widgets.throttle import RedrawThrottle

BLUE = (31, 119, 180)
ORANGE = (255, 127, 14)
GREEN = (44, 160, 44)
RED = (214, 39, 40)


class GanCurves(QWidget):
    """D and G loss per batch, D(x) and D(G(z)) per batch, and the score per epoch."""

    def __init__(self, parent: QWidget | None = None, max_rate: float = 20.0):
        super().__init__(parent)
        self.x = GrowingArray()
        self.cols = {k: GrowingArray() for k in ("d_loss", "g_loss", "d_x", "d_gz")}
        self.smoothed = {k: GrowingArray() for k in self.cols}
        self._ema = {k: (0.0, 0) for k in self.cols}
        self.fd_x = GrowingArray()
        self.fd = GrowingArray()

        self.loss_view = pg.PlotWidget(background="w")
        self.d_view = pg.PlotWidget(background="w")
        self.score_view = pg.PlotWidget(background="w")
        lp, dp, sp = self.loss_view.getPlotItem(), self.d_view.getPlotItem(), self.score_view.getPlotItem()
        style_plot(lp, "loss", title="Discriminator and generator loss")
        style_plot(dp, "probability", title="D(x) on real, D(G(z)) on generated")
        style_plot(sp, "Fréchet distance", title="Score (lower is better)")
        dp.setYRange(0, 1, padding=0.02)
        for plot, corner in ((lp, (-10, 10)), (dp, (-10, -10)), (sp, (-10, 10))):
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            plot.addLegend(offset=corner, labelTextColor=GREY_TEXT, brush=pg.mkBrush(255, 255, 255, 210))
        spec = {"d_loss": (lp, BLUE, "D loss"), "g_loss": (lp, ORANGE, "G loss"),
                "d_x": (dp, GREEN, "D(x)"), "d_gz": (dp, RED, "D(G(z))")}
        # faint: every batch; bold: smoothed
        self.raw = {k: plot.plot(pen=pg.mkPen((*color, 45), width=1)) for k, (plot, color, _) in spec.items()}
        self.curves = {k: plot.plot(pen=pg.mkPen(color, width=2), name=name) for k, (plot, color, name) in spec.items()}
        self.fd_curve = sp.plot(pen=pg.mkPen(BLUE, width=2), symbol="o", symbolSize=7, symbolBrush=BLUE,
                                symbolPen=None, name="FD to the real test images")
        self.throttle = RedrawThrottle(self._redraw, max_rate, self)

    def explain(self, loss: str = "", d: str = "", score: str = "") -> None:
        """Tooltips for the three charts (what their curves mean, in plain words)."""
        for view, text in ((self.loss_view, loss), (self.d_view, d), (self.score_view, score)):
            if text:
                view.setToolTip(text)

    def clear(self) -> None:
        self.x.clear()
        for s in (*self.cols.values(), *self.smoothed.values()):
            s.clear()
        self._ema = {k: (0.0, 0) for k in self.cols}
        self.fd_x.clear()
        self.fd.clear()
        self._redraw()

    def add_batches(self, xs: list[float], rows: list[dict]) -> None:
        if not xs:
            return
        self.x.extend(xs)
        for k, series in self.cols.items():
            vals = [float(r.get(k, math.nan)) for r in rows]
            series.extend(vals)
            b, n = self._ema[k]
            out = []
            for v in vals:
                if math.isfinite(v):
                    b = 0.9 * b + 0.1 * v
                    n += 1
                out.append(b / (1 - 0.9 ** n) if n else math.nan)
            self._ema[k] = (b, n)
            self.smoothed[k].extend(out)
        self.throttle.mark()

    def add_score(self, epoch: float, fd: float) -> None:
        self.fd_x.extend([epoch])
        self.fd.extend([fd])
        self.throttle.mark()

    def _redraw(self) -> None:
        x = self.x.view
        for k, curve in self.curves.items():
            curve.setData(x, self.smoothed[k].view, connect="finite")
            self.raw[k].setData(x, self.cols[k].view, connect="finite")
        self.fd_curve.setData(self.fd_x.view, self.fd.view)


class HistogramBars(pg.PlotWidget):
    """The classes the score classifier assigns to generated samples, with the fair-share line."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background="w")
        self.plot_item = self.getPlotItem()
        style_plot(self.plot_item, "share of samples (%)", bottom="", title="Classes of the generated samples")
        self.bars: pg.BarGraphItem | None = None
        self.fair = pg.InfiniteLine(angle=0, pen=pg.mkPen((120, 120, 120), style=Qt.PenStyle.DashLine))
        self.plot_item.addItem(self.fair)
        self.fair.hide()
        self.counts: list[int] = []

    def set_counts(self, counts: list[int], classes: list[str]) -> None:
        self.counts = list(counts)
        if self.bars is not None:
            self.plot_item.removeItem(self.bars)
            self.bars = None
        if not counts:
            self.bars = None
            self.fair.hide()
            return
        total = max(1, sum(counts))
        heights = [100 * c / total for c in counts]
        share = 100 / max(1, len(counts))
        brushes = [pg.mkBrush(*(RED if h > 2 * share else BLUE)) for h in heights]
        self.bars = pg.BarGraphItem(x=list(range(len(counts))), height=heights, width=0.7, brushes=brushes)
        self.plot_item.addItem(self.bars)
        self.fair.setValue(share)
        self.fair.show()
        ax = self.plot_item.getAxis("bottom")
        width = 14 if len(classes) <= 5 else 6
        ax.setTicks([[(i, c if len(c) <= width else c[:width - 1] + ".") for i, c in enumerate(classes)]])
        self.plot_item.setYRange(0, max(max(heights, default=0), 2 * share) * 1.1, padding=0)


__all__ = ["GanCurves", "HistogramBars"]
