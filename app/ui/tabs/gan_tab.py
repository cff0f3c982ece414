"""The GAN tab: train a GAN and watch it learn, then explore what a generator draws.

Train: data set (the Data tab's set, or a built-in one), one class or all, options, Start / Pause /
Stop through ``TrainingRunner`` (the engine's ``GanTask``; no training loop here); live curves of
the D and G losses and of D(x) / D(G(z)) (redrawn at most 20 times a second), the fixed-noise grid
of every epoch with a slider to replay how it evolved, the Fréchet distance per scored epoch and
the class histogram of the last score.

Generate: a generator (the shipped Fashion-MNIST one is loaded when the tab opens, after its
checksum check; or any GAN run's best.pt / last.pt), N samples of a seed, "New seed"; click a
sample to enlarge it (its seed and index identify it); a latent interpolation between two chosen
samples; the nearest real training images of a sample in the score classifier's feature space
(to spot memorisation); save the grid or the strip as PNG.

Torch work (generating, features) runs in short background jobs; the GUI thread never waits on it.
"""
from __future__ import annotations

import math
import random
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QPoint, QRect, QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QFrame, QGridLayout,
                               QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QSizePolicy,
                               QSlider, QSpinBox, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from app.engine.events import BatchEnd, EpochEnd, EpochStart, EvalStart, Failed, Finished, RunStarted, Samples
from app.core.errors import UserError
from app.ui.state import AppState
from app.ui.widgets.curves import GREY_TEXT, GrowingArray, style_plot
from app.ui.widgets.images import to_qimage
from app.ui.widgets.jobs import Jobs
from app.ui.widgets.throttle import RedrawThrottle

SHIPPED_DEFAULT = "gan-fashion-mnist"
BLUE = (31, 119, 180)
ORANGE = (255, 127, 14)
GREEN = (44, 160, 44)
RED = (214, 39, 40)

BUILTIN_SETS = [("fashion-mnist-sample", "Fashion-MNIST sample (shipped, works offline)"),
                ("fashion-mnist", "Fashion-MNIST"), ("mnist", "MNIST digits"), ("cifar10", "CIFAR-10 photos")]


# ============================================================================================ helpers
class Message(QLabel):
    """A coloured, word-wrapped message line (info / ok / warn / error)."""

    COLORS = {"info": ("#eef3fb", "#2b4a74"), "ok": ("#ecf7ec", "#1d5e20"), "warn": ("#fff6e0", "#7a5300"),
              "error": ("#fdecea", "#8a1c12")}

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.setOpenExternalLinks(True)
        self.kind = "info"
        self.show_message("")

    def show_message(self, text: str, kind: str = "info") -> None:
        self.kind = kind
        back, fore = self.COLORS.get(kind, self.COLORS["info"])
        self.setStyleSheet(f"QLabel {{ background: {back}; color: {fore}; border: 1px solid {fore}33;"
                           f" border-radius: 6px; padding: 6px 8px; }}")
        self.setText(text)
        self.setVisible(bool(text))


class ImageView(QLabel):
    """Shows one uint8 picture, scaled to fit without blurring small images."""

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
            # enlarge small images without blurring (nearest neighbour)
            pm = pm.scaled(int(pm.width() * fit), int(pm.height() * fit), Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.FastTransformation)
        elif fit < 1:
            pm = pm.scaled(max(1, int(pm.width() * fit)), max(1, int(pm.height() * fit)),
                           Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.setPixmap(pm)


class SampleGrid(QWidget):
    """Generated samples in a grid; click one to select it. Marks the interpolation ends A and B."""

    sampleClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.images: torch.Tensor | None = None   # uint8 (N, C, H, W)
        self.selected = -1
        self.marks: dict[int, str] = {}
        self.setMinimumSize(QSize(260, 260))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._pixmaps: list[QPixmap] = []

    def set_images(self, images: torch.Tensor | None) -> None:
        self.images = images
        self._pixmaps = [] if images is None else [QPixmap.fromImage(to_qimage(im)) for im in images]
        self.selected = -1 if images is None or self.selected >= len(images) else self.selected
        self.update()

    def count(self) -> int:
        return len(self._pixmaps)

    def columns(self) -> int:
        return max(1, int(math.ceil(math.sqrt(self.count())))) if self.count() else 1

    def cell(self) -> int:
        n = self.count()
        if not n:
            return 0
        cols = self.columns()
        rows = int(math.ceil(n / cols))
        return max(8, min((self.width() - 4) // cols, (self.height() - 4) // rows))

    def cell_rect(self, index: int) -> QRect:
        c = self.cell()
        cols = self.columns()
        rows = int(math.ceil(self.count() / cols))
        x0 = (self.width() - cols * c) // 2
        y0 = (self.height() - rows * c) // 2
        r, k = divmod(index, cols)
        return QRect(x0 + k * c, y0 + r * c, c, c)

    def index_at(self, pos: QPoint) -> int:
        for i in range(self.count()):
            if self.cell_rect(i).contains(pos):
                return i
        return -1

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt)
        i = self.index_at(event.position().toPoint())
        if i >= 0:
            self.select(i)

    def select(self, index: int) -> None:
        if 0 <= index < self.count():
            self.selected = index
            self.update()
            self.sampleClicked.emit(index)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#ffffff"))
        if not self._pixmaps:
            p.setPen(QColor("#777"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       "Load a generator and press Generate:\nits samples appear here. Click one to look closer.")
            p.end()
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        for i, pm in enumerate(self._pixmaps):
            r = self.cell_rect(i).adjusted(1, 1, -1, -1)
            p.drawPixmap(r, pm)
            if i in self.marks:
                p.fillRect(QRect(r.left(), r.top(), 16, 16), QColor(255, 127, 14))
                p.setPen(QColor("white"))
                p.drawText(QRect(r.left(), r.top(), 16, 16), Qt.AlignmentFlag.AlignCenter, self.marks[i])
            if i == self.selected:
                p.setPen(QPen(QColor(31, 119, 180), 3))
                p.drawRect(r.adjusted(1, 1, -2, -2))
        p.end()


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


def _link(path: Path | None) -> str:
    if path is None:
        return "memory only"
    return f"<a href='{QUrl.fromLocalFile(str(path)).toString()}'>{path.name}</a>"


def _button(text: str, tip: str = "", name: str = "") -> QPushButton:
    b = QPushButton(text)
    if tip:
        b.setToolTip(tip)
    if name:
        b.setObjectName(name)
    return b


# ============================================================================================ the tab
class GanTab(QWidget):
    """Train a GAN on any image data set, then generate, compare and interpolate samples."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        from app.ui.session import TrainingRunner

        self.runner = TrainingRunner(self)
        self.runner.events.connect(self._on_events)
        self.runner.finished.connect(self._on_finished)
        self.jobs = Jobs(self)
        self.run_dir: Path | None = None
        self.last_result: Finished | Failed | None = None
        self._failed_event: Failed | None = None
        self._epochs = 0
        self._paused = False
        self._stopping = False
        self.grids: dict[int, np.ndarray] = {}          # epoch -> fixed-noise grid of the run
        self.generator = None                            # app.engine.gan.LoadedGenerator
        self.samples: torch.Tensor | None = None         # uint8 (N, C, H, W) on screen
        self.latents: torch.Tensor | None = None
        self.sample_seed = 0
        self.strip: np.ndarray | None = None
        self.ends = [0, 1]                               # interpolation ends A, B (sample indices)
        self.nearest: list[tuple[np.ndarray, str]] = []
        self._feature_cache: dict[tuple, Any] = {}
        self._feature_lock = threading.Lock()

        tabs = QTabWidget()
        tabs.setDocumentMode(True)
        tabs.addTab(self._build_train(), "Train a GAN")
        tabs.addTab(self._build_generate(), "Generate")
        self.pages = tabs
        tabs.setCurrentIndex(1)      # open on the samples of the shipped generator
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(tabs)

        self.state.datasetChanged.connect(lambda _ds: self._refresh_data_choices())
        self._refresh_data_choices()
        self._refresh_shipped()
        self.load_shipped(SHIPPED_DEFAULT, generate=True)

    # ================================================================== train page
    def _build_train(self) -> QWidget:
        page = QWidget()
        left = QWidget()
        left.setMinimumWidth(290)
        left.setMaximumWidth(340)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)

        data_box = QGroupBox("Images to imitate")
        df = QFormLayout(data_box)
        self.data_choice = QComboBox()
        self.data_choice.setToolTip("The Data tab's data set, or one of the built-in sets.")
        for combo_box in (self.data_choice,):
            combo_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo_box.setMinimumContentsLength(12)
        self.data_choice.currentIndexChanged.connect(lambda _i: self._refresh_classes())
        self.class_choice = QComboBox()
        self.class_choice.setToolTip("Train on every image, or only on the images of one class.")
        self.data_info = QLabel()
        self.data_info.setObjectName("hint")
        self.data_info.setWordWrap(True)
        df.addRow("Data set:", self.data_choice)
        df.addRow("Class:", self.class_choice)
        df.addRow(self.data_info)
        lv.addWidget(data_box)

        box = QGroupBox("Settings")
        form = QFormLayout(box)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.model_choice = QComboBox()
        self.model_choice.addItem("DCGAN (convolutional)", "dcgan")
        self.model_choice.addItem("Fully-connected GAN (classic)", "fc-gan")
        self.model_choice.setToolTip("DCGAN: convolutions, sharper images. The fully-connected GAN of the classic "
                                     "tutorials is smaller and quicker but blurrier.")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(5)
        self.epochs.setToolTip("How many times the GAN sees every training image.")
        self.batch_size = QSpinBox()
        self.batch_size.setRange(2, 4096)
        self.batch_size.setValue(128)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.00001, 0.01)
        self.lr.setSingleStep(0.00005)
        self.lr.setValue(0.0002)
        self.lr.setToolTip("Adam's step size for both networks (0.0002 is the DCGAN paper's).")
        self.beta1 = QDoubleSpinBox()
        self.beta1.setDecimals(2)
        self.beta1.setRange(0.0, 0.99)
        self.beta1.setSingleStep(0.05)
        self.beta1.setValue(0.5)
        self.beta1.setToolTip("Adam's beta1 (momentum). GANs train more steadily with 0.5 than with the usual 0.9.")
        self.smoothing = QDoubleSpinBox()
        self.smoothing.setDecimals(2)
        self.smoothing.setRange(0.0, 0.4)
        self.smoothing.setSingleStep(0.05)
        self.smoothing.setToolTip("One-sided label smoothing: the discriminator aims at 1 - s for real images "
                                  "(e.g. 0.1), which keeps it from becoming over-confident.")
        self.net_width = QSpinBox()
        self.net_width.setRange(4, 256)
        self.net_width.setSingleStep(8)
        self.net_width.setValue(64 if torch.cuda.is_available() else 32)
        self.net_width.setToolTip("DCGAN: the base number of channels of both networks (the paper uses 64; 32 trains "
                              "about three times quicker on a CPU and is what the shipped generators use).")
        self.model_choice.currentIndexChanged.connect(
            lambda _i: self.net_width.setEnabled(self.model_choice.currentData() == "dcgan"))
        self.latent = QSpinBox()
        self.latent.setRange(2, 1024)
        self.latent.setValue(100)
        self.latent.setToolTip("Length of the random vector the generator turns into an image.")
        self.score_every = QSpinBox()
        self.score_every.setRange(1, 100)
        self.score_every.setToolTip("Compute the Fréchet distance every N epochs (and at the last one).")
        self.score_samples = QSpinBox()
        self.score_samples.setRange(500, 10000)
        self.score_samples.setSingleStep(500)
        self.score_samples.setValue(10000)
        self.score_samples.setToolTip("Generated and real images compared for the score (10,000 is standard; fewer "
                                      "is quicker but less exact).")
        self.score_every.setSuffix(" epoch(s)")
        self.score_samples.setSuffix(" samples")
        self.use_score = QGroupBox("Score with the shipped classifier")
        self.use_score.setCheckable(True)
        self.use_score.setChecked(True)
        self.use_score.setToolTip("The Fréchet distance between generated and real test images, in the feature space "
                                  "of VisionDesk's own classifier for this data set (like FID).")
        score_form = QFormLayout(self.use_score)
        score_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        score_form.addRow("Every:", self.score_every)
        score_form.addRow("On:", self.score_samples)
        self.device = QComboBox()
        self.device.setToolTip("Automatic: the GPU when there is one, else the CPU.")
        for key, text in (("auto", "Automatic"), ("cpu", "CPU"), ("cuda", "GPU (CUDA)")):
            self.device.addItem(text, key)
        form.addRow("Model:", self.model_choice)
        form.addRow("Epochs:", self.epochs)
        form.addRow("Batch size:", self.batch_size)
        form.addRow("Learning rate:", self.lr)
        form.addRow("Adam beta1:", self.beta1)
        form.addRow("Label smoothing:", self.smoothing)
        form.addRow("Network width:", self.net_width)
        form.addRow("Latent size:", self.latent)
        form.addRow("Device:", self.device)
        self.settings_box = box
        lv.addWidget(box)
        lv.addWidget(self.use_score)

        row = QHBoxLayout()
        self.start_button = _button("Start", "Train a GAN with these settings.", "primary")
        self.pause_button = _button("Pause", "Pause after the current batch.")
        self.stop_button = _button("Stop", "Stop after the current batch (a checkpoint is saved).", "danger")
        self.start_button.clicked.connect(self.start_training)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop_training)
        for b in (self.start_button, self.pause_button, self.stop_button):
            row.addWidget(b)
        lv.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Ready")
        self.progress.setTextVisible(True)
        lv.addWidget(self.progress)
        self.speed = QLabel()
        self.speed.setObjectName("hint")
        lv.addWidget(self.speed)
        self.train_message = Message()
        lv.addWidget(self.train_message)
        self.use_trained_button = _button("Explore this generator", "Open the generator just trained in Generate.")
        self.use_trained_button.clicked.connect(self.use_trained_generator)
        self.use_trained_button.setEnabled(False)
        lv.addWidget(self.use_trained_button)

        past_box = QGroupBox("Past GAN runs")
        pv = QVBoxLayout(past_box)
        self.past_runs = QComboBox()
        self.past_runs.setToolTip("GAN runs saved in the VisionDesk runs folder, newest first.")
        self.past_runs.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.past_runs.setMinimumContentsLength(12)
        prow = QHBoxLayout()
        self.open_run_button = _button("Open", "Show the run's curves, scores and the fixed-noise grid of every "
                                       "epoch (the epoch slider replays them).")
        self.open_run_button.clicked.connect(self._open_selected_run)
        self.browse_run_button = _button("Folder…", "Open a GAN run folder from anywhere.")
        self.browse_run_button.clicked.connect(self._browse_run)
        self.refresh_runs_button = _button("↻", "Look for new runs.")
        self.refresh_runs_button.setFixedWidth(34)
        self.refresh_runs_button.clicked.connect(self.refresh_runs)
        prow.addWidget(self.open_run_button, 1)
        prow.addWidget(self.browse_run_button, 1)
        prow.addWidget(self.refresh_runs_button)
        pv.addWidget(self.past_runs)
        pv.addLayout(prow)
        lv.addWidget(past_box)
        lv.addStretch(1)
        self._set_running_ui(False)
        self.refresh_runs()

        # right: curves, grid with the epoch slider, score and histogram
        self.curves = GanCurves()
        grid_box = QGroupBox("The same noise, epoch after epoch")
        gv = QVBoxLayout(grid_box)
        self.grid_view = ImageView("The generator's samples of a fixed noise batch\nappear here after each epoch.",
                                   min_side=220)
        gv.addWidget(self.grid_view, 1)
        srow = QHBoxLayout()
        self.epoch_slider = QSlider(Qt.Orientation.Horizontal)
        self.epoch_slider.setRange(0, 0)
        self.epoch_slider.setEnabled(False)
        self.epoch_slider.setToolTip("Replay how the samples evolved.")
        self.epoch_slider.valueChanged.connect(self._show_grid_epoch)
        self.epoch_label = QLabel("no epoch yet")
        self.epoch_label.setMinimumWidth(110)
        srow.addWidget(QLabel("Epoch:"))
        srow.addWidget(self.epoch_slider, 1)
        srow.addWidget(self.epoch_label)
        gv.addLayout(srow)
        self.histogram = HistogramBars()
        self.score_label = QLabel()
        self.score_label.setObjectName("hint")
        self.score_label.setWordWrap(True)

        right = QSplitter(Qt.Orientation.Vertical)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.curves.loss_view)
        top.addWidget(self.curves.d_view)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(grid_box)
        score_box = QWidget()
        sv = QVBoxLayout(score_box)
        sv.setContentsMargins(0, 0, 0, 0)
        sv.addWidget(self.curves.score_view, 1)
        sv.addWidget(self.histogram, 1)
        sv.addWidget(self.score_label)
        bottom.addWidget(score_box)
        bottom.setSizes([420, 420])
        right.addWidget(top)
        right.addWidget(bottom)
        right.setSizes([300, 420])

        lay = QHBoxLayout(page)
        lay.addWidget(self._scroll(left))
        lay.addWidget(right, 1)
        return page

    @staticmethod
    def _scroll(widget: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidget(widget)
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setMinimumWidth(widget.minimumWidth() + 16)
        area.setMaximumWidth(widget.maximumWidth() + 16)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        return area

    # ------------------------------------------------------------------ data choices
    def _refresh_data_choices(self) -> None:
        current = self.data_choice.currentData()
        self.data_choice.blockSignals(True)
        self.data_choice.clear()
        ds = self.state.dataset
        if ds is not None:
            self.data_choice.addItem(f"Data tab: {ds.name} ({len(ds.train):,} images)", "__state__")
        for key, text in BUILTIN_SETS:
            self.data_choice.addItem(text, key)
        idx = self.data_choice.findData(current) if current else -1
        self.data_choice.setCurrentIndex(max(0, idx))
        self.data_choice.blockSignals(False)
        self._refresh_classes()

    def _refresh_classes(self) -> None:
        key = self.data_choice.currentData()
        self.class_choice.clear()
        self.class_choice.addItem("All classes", None)
        ds = self.state.dataset if key == "__state__" else None
        classes: list[str] = []
        if ds is not None:
            classes = list(ds.classes)
            c, h, w = ds.input_shape
            self.data_info.setText(f"{len(ds.train):,} training images of {w}x{h} pixels, "
                                   f"{'grey' if c == 1 else 'colour'}, {len(classes)} classes.")
            if h != w or h not in (28, 32, 64):
                self.data_info.setText(self.data_info.text() + " The DCGAN needs square 28, 32 or 64 pixel images: "
                                       "choose that size in the Data tab.")
        else:
            from app.data.builtin import FASHION_CLASSES

            if key in ("fashion-mnist", "fashion-mnist-sample"):
                classes = list(FASHION_CLASSES)
            elif key == "mnist":
                classes = [str(d) for d in range(10)]
            elif key == "cifar10":
                classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
            self.data_info.setText("Loaded when training starts" + (" (from the VisionDesk data folder)."
                                                                   if key != "fashion-mnist-sample" else "."))
        for i, name in enumerate(classes):
            self.class_choice.addItem(f"{i}: {name}", i)

    # ------------------------------------------------------------------ training
    def current_config(self):
        from app.engine.gan import gan_config

        key = self.data_choice.currentData()
        if key == "__state__":
            ds = self.state.dataset
            spec = dict(self.state.dataset_spec or {})
            data, root = spec.get("data", ds.name), spec.get("data_root")
            image_size = spec.get("image_size")
        else:
            data, root, image_size = key, None, None
        extra: dict[str, Any] = {"betas": [self.beta1.value(), 0.999], "score_every": self.score_every.value(),
                                 "score_samples": self.score_samples.value()}
        if self.class_choice.currentData() is not None:
            extra["class"] = int(self.class_choice.currentData())
        if not self.use_score.isChecked():
            extra["score"] = False
        options: dict[str, Any] = {"latent_dim": self.latent.value()}
        if self.model_choice.currentData() == "dcgan":
            options.update(g_width=self.net_width.value(), d_width=self.net_width.value())
        cfg = gan_config(data, root, image_size=image_size, model=self.model_choice.currentData(),
                         epochs=self.epochs.value(), batch_size=self.batch_size.value(), lr=self.lr.value(),
                         label_smoothing=self.smoothing.value(), device=self.device.currentData(),
                         model_options=options, extra=extra)
        from app.engine.config import TrainConfig

        return TrainConfig.from_dict(cfg.to_dict(), source="The GAN settings")

    def is_busy(self) -> bool:
        return self.runner.is_running()

    def start_training(self) -> None:
        if self.runner.is_running():
            return
        try:
            cfg = self.current_config()
        except UserError as exc:
            self.train_message.show_message(str(exc), "error")
            return
        dataset = self.state.dataset if self.data_choice.currentData() == "__state__" else None

        def build(callbacks, control):
            from app.engine.build import make_trainer

            return make_trainer(cfg, dataset=dataset, callbacks=callbacks, control=control)

        self.curves.clear()
        self.histogram.set_counts([], [])
        self.score_label.setText("")
        self._clear_grids("no epoch yet")
        self.run_dir = None
        self.last_result = None
        self._failed_event = None
        self._epochs = cfg.epochs
        self._paused = False
        self._stopping = False
        try:
            self.runner.start(build)
        except UserError as exc:
            self.train_message.show_message(str(exc), "error")
            return
        self.progress.setRange(0, 0)
        self.progress.setFormat("Preparing…")
        self.speed.setText("")
        self.state.set_busy("gan", f"Training a {cfg.model} on {cfg.data}")
        self.train_message.show_message(f"Preparing a {cfg.model} on {cfg.data}…", "info")
        self._set_running_ui(True)

    def toggle_pause(self) -> None:
        if not self.runner.is_running() or self._stopping:
            return
        if self._paused:
            self.runner.resume()
            self._paused = False
            self.pause_button.setText("Pause")
            self.state.set_busy("gan", "Training a GAN")
            self.train_message.show_message("Training goes on.", "info")
        else:
            self.runner.pause()
            self._paused = True
            self.pause_button.setText("Resume")
            self.state.set_busy("gan", "GAN training paused")
            self.train_message.show_message("Paused after the current batch. Resume to go on, or Stop to end "
                                            "(a checkpoint is kept).", "info")

    def stop_training(self) -> None:
        if not self.runner.is_running():
            return
        self._stopping = True
        self.runner.stop()
        self.pause_button.setEnabled(False)
        self.stop_button.setEnabled(False)
        self.state.set_busy("gan", "Stopping the GAN training")
        self.train_message.show_message("Stopping after the current batch and saving a checkpoint…", "info")

    def _set_running_ui(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Pause")
        self.settings_box.setEnabled(not running)
        self.use_score.setEnabled(not running)
        self.data_choice.setEnabled(not running)
        self.class_choice.setEnabled(not running)
        for b in (self.open_run_button, self.browse_run_button):
            b.setEnabled(not running)

    @Slot(list)
    def _on_events(self, events: list) -> None:
        xs: list[float] = []
        rows: list[dict] = []
        last_batch: BatchEnd | None = None
        for ev in events:
            if isinstance(ev, BatchEnd):
                xs.append(ev.epoch - 1 + ev.batch / max(ev.batches, 1))
                rows.append(ev.metrics)
                last_batch = ev
            elif isinstance(ev, Samples) and ev.kind == "gan-grid":
                self._add_grid(ev.epoch, ev.image)
            elif isinstance(ev, EpochEnd):
                self._show_epoch(ev)
            elif isinstance(ev, RunStarted):
                self.run_dir = Path(ev.run_dir) if ev.run_dir else None
                self._epochs = ev.epochs
                self.progress.setRange(0, max(1, ev.epochs * ev.batches_per_epoch))
                self.progress.setValue(ev.start_epoch * ev.batches_per_epoch)
                self.train_message.show_message(f"Training on {ev.device}. The run is saved in "
                                                f"{_link(self.run_dir)}.", "info")
            elif isinstance(ev, EpochStart):
                self.progress.setFormat(f"Epoch {ev.epoch} of {ev.epochs}")
            elif isinstance(ev, EvalStart):
                self.progress.setFormat(f"Epoch {ev.epoch} of {self._epochs} · drawing samples and scoring…")
            elif isinstance(ev, Failed):
                self._failed_event = ev
        if xs:
            self.curves.add_batches(xs, rows)
        if last_batch is not None:
            b = last_batch
            self.progress.setRange(0, max(1, self._epochs * b.batches))
            self.progress.setValue((b.epoch - 1) * b.batches + b.batch)
            self.progress.setFormat(f"Epoch {b.epoch} of {self._epochs} · batch {b.batch} of {b.batches}")
            self.speed.setText(f"{b.images_per_sec:,.0f} images/s · about {_hms(b.eta_seconds)} left")

    def _show_epoch(self, ev: EpochEnd) -> None:
        fd = ev.metrics.get("fd")
        if isinstance(fd, (int, float)) and math.isfinite(fd):
            self.curves.add_score(ev.epoch, float(fd))
        score = ev.details.get("score") if ev.details else None
        if score:
            self._show_score(ev.epoch, score)
        elif ev.details and ev.details.get("score_note"):
            self.score_label.setText(ev.details["score_note"])

    def _show_score(self, epoch: int, score: dict) -> None:
        self.histogram.set_counts(score["histogram"], score["classes"])
        share = 100 * score["max_share"]
        fair = 100 / max(1, len(score["histogram"]))
        verdict = ("no class is starved or overdone" if share <= 2 * fair else
                   "one class is drawn far more than others (possible mode collapse)")
        self.score_label.setText(f"Epoch {epoch}: Fréchet distance {score['fd']:.2f} on {score['n']:,} samples. "
                                 f"Largest class share {share:.0f}% (fair share {fair:.0f}%): {verdict}.")

    def _clear_grids(self, label: str) -> None:
        self.grids.clear()
        self.grid_view.set_image(None)
        self.epoch_slider.setRange(0, 0)
        self.epoch_slider.setEnabled(False)
        self.epoch_label.setText(label)

    def _add_grid(self, epoch: int, image: np.ndarray) -> None:
        follow = not self.grids or self.epoch_slider.value() == max(self.grids)
        self.grids[epoch] = image
        epochs = sorted(self.grids)
        self.epoch_slider.setEnabled(True)
        self.epoch_slider.setRange(epochs[0], epochs[-1])
        if follow:
            self.epoch_slider.setValue(epoch)
        self._show_grid_epoch(self.epoch_slider.value())

    def _show_grid_epoch(self, epoch: int) -> None:
        if epoch in self.grids:
            self.grid_view.set_image(self.grids[epoch])
            self.epoch_label.setText(f"epoch {epoch} of {max(self.grids)}")

    @Slot(object)
    def _on_finished(self, result) -> None:
        self.curves.throttle.flush()
        self._set_running_ui(False)
        self.state.set_busy("gan", "")
        if isinstance(result, Failed) and self._failed_event is not None:
            result = self._failed_event
        self.last_result = result
        self.progress.setRange(0, 1)
        if isinstance(result, Failed):
            self.progress.setValue(0)
            self.progress.setFormat("Failed")
            hint = "" if result.user_error else " (this looks like a bug; the details are in the run's run.log)"
            self.train_message.show_message(f"The GAN training stopped with a problem: {result.message}{hint}", "error")
        elif isinstance(result, Finished):
            self.progress.setValue(1)
            fd = (result.best or {}).get("fd")
            best = f" Best Fréchet distance {fd:.2f} at epoch {int(result.best['epoch'])}." if isinstance(fd, float) else ""
            where = _link(Path(result.run_dir)) if result.run_dir else "memory"
            verb = "Stopped after" if result.reason == "stopped" else "Finished"
            self.progress.setFormat(f"{verb} epoch {result.epoch}" if result.reason == "stopped"
                                    else f"Done: {result.epoch} epoch(s) in {_hms(result.seconds)}")
            self.train_message.show_message(f"{verb} {result.epoch} epoch(s).{best} Saved in {where}. "
                                            f"Press 'Explore this generator' to draw new samples.", "ok")
        self.use_trained_button.setEnabled(self._trained_checkpoint() is not None)
        self.refresh_runs()

    # ------------------------------------------------------------------ past runs
    def refresh_runs(self) -> None:
        from app.engine.runs import list_runs, runs_root

        current = self.past_runs.currentData()
        self.past_runs.clear()
        for r in (r for r in list_runs(runs_root()) if r.task == "gan"):
            day, _, clock = r.started.partition("T")
            label = f"{day} {clock.replace('-', ':')} · {r.data} · {r.model} · {r.epochs_done}/{r.epochs} ep"
            self.past_runs.addItem(label.strip(), str(r.path))
        if self.past_runs.count() == 0:
            self.past_runs.addItem("No GAN runs yet", None)
        elif current is not None and (i := self.past_runs.findData(current)) >= 0:
            self.past_runs.setCurrentIndex(i)
        self.open_run_button.setEnabled(self.past_runs.currentData() is not None and not self.runner.is_running())

    def _open_selected_run(self) -> None:
        if self.past_runs.currentData():
            self.open_run(self.past_runs.currentData())

    def _browse_run(self) -> None:
        from app.engine.runs import runs_root

        folder = QFileDialog.getExistingDirectory(self, "Open a GAN run folder", str(runs_root()))
        if folder:
            self.open_run(folder)

    def open_run(self, run_dir: str | Path) -> bool:
        """Show a finished (or stopped) GAN run: its loss and D curves, its scores, and the fixed-noise
        grid of every epoch on the epoch slider. The grids are read in the background."""
        from app.engine.config import TrainConfig
        from app.engine.gan import read_run_score
        from app.engine.runs import read_metrics

        if self.runner.is_running():
            self.train_message.show_message("Wait for the training to end (or stop it) before opening a past run.",
                                            "warn")
            return False
        run_dir = Path(run_dir)
        try:
            cfg = TrainConfig.load(run_dir / "config.json")
        except UserError:
            self.train_message.show_message(f"{run_dir} is not a VisionDesk run folder (it has no valid "
                                            "config.json).", "error")
            return False
        if cfg.task != "gan":
            self.train_message.show_message(f"{run_dir.name} is a {cfg.task} run, not a GAN run; open it in its "
                                            "own tab.", "warn")
            return False
        batches, epochs = read_metrics(run_dir, "batches.csv"), read_metrics(run_dir)
        self.curves.clear()
        per_epoch = max((int(r["batch"]) for r in batches if isinstance(r.get("batch"), float)), default=1)
        xs, rows = [], []
        for r in batches:
            if isinstance(r.get("epoch"), float) and isinstance(r.get("batch"), float):
                xs.append(r["epoch"] - 1 + r["batch"] / per_epoch)
                rows.append({k: v for k, v in r.items() if isinstance(v, float)})
        self.curves.add_batches(xs, rows)
        scored = [r for r in epochs if isinstance(r.get("fd"), float) and math.isfinite(r["fd"])]
        for r in scored:
            self.curves.add_score(r["epoch"], r["fd"])
        self.curves.throttle.flush()
        self.histogram.set_counts([], [])
        if scored:
            last = scored[-1]
            best = min(scored, key=lambda r: r["fd"])
            score = read_run_score(run_dir, int(last["epoch"]))
            if score is not None:
                self._show_score(int(last["epoch"]), score)
            else:            # a run made before the histogram was saved: the numbers of metrics.csv
                share = last.get("class_max_share")
                share_text = (f" Largest class share {100 * share:.0f}%."
                              if isinstance(share, float) and math.isfinite(share) else "")
                self.score_label.setText(f"Epoch {int(last['epoch'])}: Fréchet distance {last['fd']:.2f}."
                                         f"{share_text}")
            self.score_label.setText(self.score_label.text() +
                                     f" Best {best['fd']:.2f} at epoch {int(best['epoch'])}.")
        else:
            self.score_label.setText("This run has no scores (scoring was off, or it stopped before the first one).")
        self._clear_grids("loading…")
        self.run_dir = run_dir
        self.last_result = None
        self._epochs = cfg.epochs
        done = len(epochs)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if done >= cfg.epochs else 0)
        self.progress.setFormat(f"Past run: {done} of {cfg.epochs} epoch(s)")
        self.speed.setText("")
        self.use_trained_button.setEnabled(self._trained_checkpoint() is not None)
        what = f"{cfg.model} on {cfg.data}" + (f", class {cfg.extra['class']}" if "class" in (cfg.extra or {}) else "")
        self.train_message.show_message(f"Showing the past run {_link(run_dir)} ({what}, {done} of {cfg.epochs} "
                                        "epochs). Drag the epoch slider to replay its samples.", "info")
        if (i := self.past_runs.findData(str(run_dir))) >= 0:
            self.past_runs.setCurrentIndex(i)
        self._settings_from(cfg)
        self._load_run_grids(run_dir)
        return True

    def _settings_from(self, cfg) -> None:
        """Put an opened run's settings in the form, so Start trains it again (or a variation of it)."""
        def number(value, default):
            try:
                return float(value)
            except (TypeError, ValueError):
                return default

        opts, extra = dict(cfg.model_options or {}), dict(cfg.extra or {})
        if (i := self.model_choice.findData(cfg.model)) >= 0:
            self.model_choice.setCurrentIndex(i)
        if (i := self.data_choice.findData(cfg.data)) >= 0:
            self.data_choice.setCurrentIndex(i)
            if "class" in extra and (j := self.class_choice.findData(int(number(extra["class"], -1)))) >= 0:
                self.class_choice.setCurrentIndex(j)
        self.epochs.setValue(int(cfg.epochs))
        self.batch_size.setValue(int(cfg.batch_size))
        self.lr.setValue(number(cfg.lr, self.lr.value()))
        betas = extra.get("betas")
        if isinstance(betas, (list, tuple)) and betas:
            self.beta1.setValue(number(betas[0], self.beta1.value()))
        self.smoothing.setValue(number(cfg.label_smoothing, 0.0))
        self.latent.setValue(int(number(opts.get("latent_dim"), self.latent.value())))
        if "g_width" in opts:
            self.net_width.setValue(int(number(opts["g_width"], self.net_width.value())))
        self.use_score.setChecked(extra.get("score", True) is not False)
        self.score_every.setValue(int(number(extra.get("score_every"), self.score_every.value())))
        self.score_samples.setValue(int(number(extra.get("score_samples"), self.score_samples.value())))

    def _load_run_grids(self, run_dir: Path) -> None:
        from app.engine.gan import read_run_grids

        def done(grids, error):
            if self.run_dir != run_dir or self.runner.is_running():
                return            # another run was opened, or training started, meanwhile
            if error is not None or not grids:
                self.epoch_label.setText("no samples saved")
                return
            for epoch in sorted(grids):
                self._add_grid(epoch, grids[epoch])

        self.jobs.run(lambda: read_run_grids(run_dir), done)

    def _trained_checkpoint(self) -> Path | None:
        if self.run_dir is None:
            return None
        for name in ("best.pt", "last.pt"):
            if (self.run_dir / name).is_file():
                return self.run_dir / name
        return None

    def use_trained_generator(self) -> None:
        ckpt = self._trained_checkpoint()
        if ckpt is None:
            self.gen_message.show_message("The run has no checkpoint yet.", "warn")
            return
        self.pages.setCurrentIndex(1)
        self.load_generator_file(ckpt, generate=True)

    # ================================================================== generate page
    def _build_generate(self) -> QWidget:
        page = QWidget()
        left = QWidget()
        left.setMinimumWidth(290)
        left.setMaximumWidth(340)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)

        gbox = QGroupBox("Generator")
        gl = QVBoxLayout(gbox)
        self.shipped_choice = QComboBox()
        self.shipped_choice.setToolTip("Generators trained by the VisionDesk project (weights/ folder).")
        self.shipped_choice.activated.connect(lambda _i: self.load_shipped(self.shipped_choice.currentData(),
                                                                           generate=True))
        gl.addWidget(QLabel("Shipped with VisionDesk:"))
        gl.addWidget(self.shipped_choice)
        self.open_button = _button("Open a GAN run's checkpoint…", "best.pt or last.pt of any GAN run")
        self.open_button.clicked.connect(self.choose_checkpoint)
        gl.addWidget(self.open_button)
        self.gen_info = QLabel("No generator loaded.")
        self.gen_info.setWordWrap(True)
        self.gen_info.setObjectName("hint")
        gl.addWidget(self.gen_info)
        lv.addWidget(gbox)

        sbox = QGroupBox("Samples")
        sf = QFormLayout(sbox)
        self.n_samples = QSpinBox()
        self.n_samples.setRange(1, 256)
        self.n_samples.setValue(64)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2_000_000_000)
        self.seed.setToolTip("The same seed always gives the same samples.")
        self.new_seed_button = _button("New seed", "Pick a random seed and generate.")
        self.new_seed_button.clicked.connect(lambda: self.new_seed())
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.new_seed_button)
        self.generate_button = _button("Generate", "Draw the samples of this seed.", "primary")
        self.generate_button.clicked.connect(lambda: self.generate())
        self.save_grid_button = _button("Save grid as PNG…")
        self.save_grid_button.clicked.connect(lambda: self._save_dialog("grid"))
        sf.addRow("Samples:", self.n_samples)
        sf.addRow("Seed:", seed_row)
        sf.addRow(self.generate_button)
        sf.addRow(self.save_grid_button)
        lv.addWidget(sbox)

        ibox = QGroupBox("Walk between two samples")
        il = QFormLayout(ibox)
        self.ends_label = QLabel()
        self.ends_label.setWordWrap(True)
        self.set_a_button = _button("Selected → A")
        self.set_b_button = _button("Selected → B")
        self.set_a_button.clicked.connect(lambda: self.set_end(0))
        self.set_b_button.clicked.connect(lambda: self.set_end(1))
        ab = QHBoxLayout()
        ab.addWidget(self.set_a_button)
        ab.addWidget(self.set_b_button)
        self.steps = QSpinBox()
        self.steps.setRange(3, 32)
        self.steps.setValue(10)
        self.spherical = QCheckBox("Spherical (slerp)")
        self.spherical.setChecked(True)
        self.spherical.setToolTip("Follow the sphere where random latent vectors live, instead of a straight line.")
        self.interpolate_button = _button("Interpolate", "Show the images between A and B.", "primary")
        self.interpolate_button.clicked.connect(lambda: self.interpolate())
        self.save_strip_button = _button("Save strip as PNG…")
        self.save_strip_button.clicked.connect(lambda: self._save_dialog("strip"))
        il.addRow(self.ends_label)
        il.addRow(ab)
        il.addRow("Steps:", self.steps)
        il.addRow(self.spherical)
        il.addRow(self.interpolate_button)
        il.addRow(self.save_strip_button)
        lv.addWidget(ibox)
        self.gen_message = Message()
        lv.addWidget(self.gen_message)
        lv.addStretch(1)

        self.grid = SampleGrid()
        self.grid.sampleClicked.connect(self.select_sample)
        self.strip_view = ImageView("Choose two samples (A and B) and press Interpolate:\n"
                                    "the images in between appear here.", min_side=90)
        self.strip_view.setMinimumHeight(90)
        self.strip_view.setMaximumHeight(150)
        centre = QWidget()
        cv = QVBoxLayout(centre)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.grid, 1)
        cv.addWidget(self.strip_view)

        rbox = QGroupBox("Closer look")
        rv = QVBoxLayout(rbox)
        self.zoom = ImageView("Click a sample.", min_side=200)
        self.zoom.setMaximumHeight(260)
        self.zoom_caption = QLabel()
        self.zoom_caption.setWordWrap(True)
        self.zoom_caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.nearest_button = _button("Nearest real images", "The training images most similar to this sample, "
                                      "measured in the score classifier's feature space (spots copying).")
        self.nearest_button.clicked.connect(lambda: self.find_nearest())
        self.nearest_view = QWidget()
        self.nearest_grid = QGridLayout(self.nearest_view)
        self.nearest_grid.setContentsMargins(0, 0, 0, 0)
        self.nearest_info = QLabel()
        self.nearest_info.setWordWrap(True)
        self.nearest_info.setObjectName("hint")
        rv.addWidget(self.zoom)
        rv.addWidget(self.zoom_caption)
        rv.addWidget(self.nearest_button)
        rv.addWidget(self.nearest_view)
        rv.addWidget(self.nearest_info)
        rv.addStretch(1)
        rbox.setMinimumWidth(250)
        rbox.setMaximumWidth(320)

        lay = QHBoxLayout(page)
        lay.addWidget(self._scroll(left))
        lay.addWidget(centre, 1)
        lay.addWidget(rbox)
        self._update_generate_ui()
        return page

    def _update_generate_ui(self) -> None:
        has_gen = self.generator is not None
        has_samples = self.samples is not None and len(self.samples) > 0
        for b in (self.generate_button, self.new_seed_button):
            b.setEnabled(has_gen)
        self.save_grid_button.setEnabled(has_samples)
        self.interpolate_button.setEnabled(has_samples and len(self.samples) >= 2)
        self.set_a_button.setEnabled(has_samples and self.grid.selected >= 0)
        self.set_b_button.setEnabled(has_samples and self.grid.selected >= 0)
        self.save_strip_button.setEnabled(self.strip is not None)
        self.nearest_button.setEnabled(has_samples and self.grid.selected >= 0)
        if has_samples:
            a, b = self.ends
            self.ends_label.setText(f"From <b>A</b> = sample #{a} to <b>B</b> = sample #{b} (seed {self.sample_seed}). "
                                    f"Click a sample, then 'Selected → A' or '→ B' to change them.")
            self.grid.marks = {a: "A", b: "B"} if a != b else {a: "A"}
            self.grid.update()
        else:
            self.ends_label.setText("Generate samples first.")

    def _refresh_shipped(self) -> None:
        from app.core.weights import list_weights

        self.shipped_choice.clear()
        try:
            entries = list_weights("gan")
        except UserError as exc:
            entries = {}
            self.gen_info.setText(str(exc))
        for name, entry in sorted(entries.items(), key=lambda kv: kv[0] != SHIPPED_DEFAULT):
            fd = entry.get("fd")
            text = f"{entry.get('data', name)} ({entry.get('model', 'gan')}"
            text += f", FD {fd:.1f})" if isinstance(fd, (int, float)) else ")"
            self.shipped_choice.addItem(text, name)
        if not entries:
            self.shipped_choice.addItem("none shipped", None)
            self.shipped_choice.setEnabled(False)

    # ------------------------------------------------------------------ loading generators
    def load_shipped(self, name: str | None, generate: bool = False) -> bool:
        """Load shipped weights ``name`` after the checksum check; a clear message when missing/damaged."""
        if not name:
            return False
        from app.core.weights import verified_weight_path

        try:
            path = verified_weight_path(name)
        except UserError as exc:
            self.gen_message.show_message(f"The shipped generator '{name}' could not be loaded: {exc} "
                                          f"You can still train a GAN, or open a GAN run's checkpoint.", "warn")
            self.gen_info.setText("No generator loaded.")
            return False
        idx = self.shipped_choice.findData(name)
        if idx >= 0:
            self.shipped_choice.setCurrentIndex(idx)
        return self.load_generator_file(path, generate=generate, shipped=name)

    def choose_checkpoint(self) -> None:
        from app.engine.runs import runs_root

        path, _ = QFileDialog.getOpenFileName(self, "Open a GAN checkpoint", str(runs_root()),
                                              "Checkpoints (*.pt);;All files (*)")
        if path:
            self.load_generator_file(Path(path), generate=True)

    def load_generator_file(self, path: str | Path, generate: bool = False, shipped: str | None = None) -> bool:
        from app.engine.gan import load_generator

        try:
            gen = load_generator(path)
        except UserError as exc:
            self.gen_message.show_message(f"{Path(path).name} could not be opened as a generator: {exc}", "error")
            return False
        self.generator = gen
        self.samples = None
        self.latents = None
        self.strip = None
        self.strip_view.set_image(None)
        self.grid.set_images(None)
        self._clear_zoom()
        source = "shipped weights" if shipped else str(path)
        extra = ""
        if shipped:
            from app.core.weights import weight_entry

            entry = weight_entry(shipped)
            if isinstance(entry.get("fd"), (int, float)):
                extra = (f" Trained {entry.get('epochs', '?')} epochs; Fréchet distance {entry['fd']:.2f} "
                         f"(untrained {entry.get('fd_untrained', float('nan')):.1f}, real images "
                         f"{entry.get('fd_real_floor', float('nan')):.2f}).")
        self.gen_info.setText(f"<b>{gen.describe()}</b><br>from {source}.{extra}")
        self.gen_message.show_message("", "info")
        self._update_generate_ui()
        if generate:
            self.generate()
        return True

    # ------------------------------------------------------------------ generating
    def new_seed(self) -> None:
        self.seed.setValue(random.randint(0, 999_999))
        self.generate()

    def generate(self) -> None:
        gen = self.generator
        if gen is None:
            self.gen_message.show_message("Load a generator first.", "warn")
            return
        n, seed = self.n_samples.value(), self.seed.value()

        def job():
            z = gen.latents(n, seed)
            return z, gen.generate(z)

        def done(result, error):
            if error is not None:
                self.gen_message.show_message(f"Generating failed: {error}", "error")
                return
            if gen is not self.generator:
                return
            self.latents, self.samples = result
            self.sample_seed = seed
            self.ends = [0, min(1, n - 1)]
            self.grid.selected = -1
            self.grid.set_images(self.samples)
            self._clear_zoom()
            self._update_generate_ui()

        self.jobs.run(job, done)

    def select_sample(self, index: int) -> None:
        if self.samples is None or not 0 <= index < len(self.samples):
            return
        if self.grid.selected != index:
            self.grid.selected = index
            self.grid.update()
        self.zoom.set_image(self.samples[index].numpy())
        self.zoom_caption.setText(f"Sample <b>#{index}</b> of seed <b>{self.sample_seed}</b>. "
                                  f"(<code>visiondesk gan generate … --seed {self.sample_seed}</code> draws it again.)")
        self._clear_nearest()
        self._update_generate_ui()

    def _clear_zoom(self) -> None:
        self.zoom.set_image(None)
        self.zoom_caption.setText("")
        self._clear_nearest()

    def _clear_nearest(self) -> None:
        self.nearest = []
        while self.nearest_grid.count():
            item = self.nearest_grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.nearest_info.setText("")

    def set_end(self, which: int) -> None:
        if self.grid.selected < 0:
            return
        self.ends[which] = self.grid.selected
        self._update_generate_ui()

    def interpolate(self) -> None:
        gen, z = self.generator, self.latents
        if gen is None or z is None:
            return
        a, b = self.ends
        steps, spherical = self.steps.value(), self.spherical.isChecked()

        def job():
            from app.engine.gan import make_strip

            return make_strip(gen.interpolate(z[a], z[b], steps=steps, spherical=spherical))

        def done(result, error):
            if error is not None:
                self.gen_message.show_message(f"Interpolating failed: {error}", "error")
                return
            self.strip = result
            self.strip_view.set_image(result)
            self.gen_message.show_message(f"{steps} images from sample #{a} to sample #{b}.", "info")
            self._update_generate_ui()

        self.jobs.run(job, done)

    # ------------------------------------------------------------------ nearest real images
    def _reference_images(self, meta: dict):
        """(uint8 training images, label text) to search, and a note on where they came from."""
        from app.data import load_dataset

        data = meta.get("data")
        shape = tuple(meta.get("image_shape", ()))
        ds = self.state.dataset
        if ds is not None and tuple(ds.input_shape) == shape and (
                ds.name == data or {ds.name, data} <= {"fashion-mnist", "fashion-mnist-sample"}):
            return ds, f"the {len(ds.train):,} training images of the Data tab's {ds.name}"
        try:
            ds = load_dataset(data)
            return ds, f"the {len(ds.train):,} training images of {data}"
        except UserError:
            if data == "fashion-mnist":
                ds = load_dataset("fashion-mnist-sample")
                return ds, (f"the {len(ds.train):,} training images of the shipped Fashion-MNIST sample "
                            f"(load the full set in the Data tab to search all 60,000)")
            raise

    def find_nearest(self, k: int = 6) -> None:
        gen, idx, samples = self.generator, self.grid.selected, self.samples
        if gen is None or samples is None or idx < 0:
            return
        sample = samples[idx:idx + 1]
        meta = dict(gen.meta)
        self.nearest_info.setText("Searching…")
        self.nearest_button.setEnabled(False)

        def job():
            from app.engine.fid import find_score_classifier

            clf = find_score_classifier(str(meta.get("data")))
            if clf is None:
                raise UserError(f"There is no shipped classifier for {meta.get('data')}, so similar images cannot "
                                f"be searched.")
            if tuple(clf.input_shape) != tuple(meta["image_shape"]):
                raise UserError("The classifier for this data set expects other image sizes.")
            ds, where = self._reference_images(meta)
            key = (str(meta.get("data")), id(ds), len(ds.train))
            with self._feature_lock:
                feats = self._feature_cache.get(key)
            if feats is None:
                feats = clf.features(ds.train.images)
                with self._feature_lock:
                    self._feature_cache = {key: feats}
            f = clf.features(sample)
            d = torch.cdist(f, feats)[0]
            dist, order = d.topk(min(k, len(d)), largest=False)
            out = []
            for dd, i in zip(dist.tolist(), order.tolist()):
                label = ds.classes[int(ds.train.labels[i])] if len(ds.classes) else ""
                out.append((ds.train.images[i].numpy(), f"{label}\n#{i} · {dd:.1f}"))
            # how far apart typical training images are, to read the distances
            g = torch.Generator().manual_seed(0)
            probe = feats[torch.randint(len(feats), (min(200, len(feats)),), generator=g)]
            typical = float(torch.cdist(probe, feats).topk(2, largest=False).values[:, 1].median())
            return out, where, typical

        def done(result, error):
            self.nearest_button.setEnabled(True)
            if error is not None:
                self.nearest_info.setText(str(error) if isinstance(error, UserError) else f"Search failed: {error}")
                return
            if self.grid.selected != idx or samples is not self.samples:
                return
            out, where, typical = result
            self._clear_nearest()
            self.nearest = out
            for j, (img, caption) in enumerate(out):
                cell = QVBoxLayout()
                pic = QLabel()
                from app.ui.widgets.images import to_pixmap

                pic.setPixmap(to_pixmap(img, 72))
                pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
                cap = QLabel(caption)
                cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
                cap.setWordWrap(True)
                cap.setObjectName("hint")
                label, rest = caption.split("\n", 1)
                w_tip = f"Training image {rest.split(' ·')[0]} ({label}), distance {rest.split('· ')[-1]}"
                pic.setToolTip(w_tip)
                cap.setToolTip(w_tip)
                w = QWidget()
                cell.addWidget(pic)
                cell.addWidget(cap)
                cell.setContentsMargins(0, 0, 0, 0)
                w.setLayout(cell)
                self.nearest_grid.addWidget(w, j // 3, j % 3)
            self.nearest_info.setText(f"Training image number · distance. Searched {where}. A real image's nearest "
                                      f"neighbour is typically {typical:.1f} away; a much smaller distance would mean "
                                      f"the GAN copies a training image.")

        self.jobs.run(job, done)

    # ------------------------------------------------------------------ saving
    def _save_dialog(self, what: str) -> None:
        default = str(Path.home() / ("gan-samples.png" if what == "grid" else "gan-interpolation.png"))
        path, _ = QFileDialog.getSaveFileName(self, "Save as PNG", default, "PNG images (*.png)")
        if path:
            (self.save_grid if what == "grid" else self.save_strip)(path)

    def save_grid(self, path: str | Path) -> Path | None:
        """Write the samples on screen as one PNG (enlarged twice); returns the path written."""
        from app.engine.gan import make_grid

        if self.samples is None:
            return None
        return self._save(make_grid(self.samples), path)

    def save_strip(self, path: str | Path) -> Path | None:
        """Write the interpolation strip as PNG (enlarged twice); returns the path written."""
        if self.strip is None:
            return None
        return self._save(self.strip, path)

    def _save(self, picture: np.ndarray, path: str | Path) -> Path | None:
        from app.engine.gan import save_png

        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        try:
            out = save_png(picture, path, scale=2)
        except UserError as exc:
            self.gen_message.show_message(str(exc), "error")
            return None
        self.gen_message.show_message(f"Saved {_link(out)}.", "ok")
        return out

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        if self.runner.is_running():
            self.runner.shutdown()
        self.jobs.wait(5.0)


def _hms(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


__all__ = ["GanTab", "SampleGrid", "GanCurves", "HistogramBars"]
