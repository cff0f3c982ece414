"""What a GAN run looks like on the Train page, live or replayed: the loss and D(x) / D(G(z)) curves, the
fixed-noise grid of every epoch with a slider to replay how it evolved, the Fréchet distance per scored epoch
and the class histogram of the last score."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QSlider, QSplitter, QVBoxLayout, QWidget

from app.ui.tabs.gan.glossary import GLOSSARY
from app.ui.widgets.gan_charts import GanCurves, HistogramBars
from app.ui.widgets.image_view import ImageView


class RunViews(QSplitter):
    """Curves on top; the epoch grids and the score below."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self.grids: dict[int, np.ndarray] = {}          # epoch -> fixed-noise grid of the run
        self.curves = GanCurves()
        self.curves.explain(
            loss="D loss: how wrong the discriminator (the judge network) is at telling real from generated "
                 "pictures. G loss: how well the judge sees through the generator's pictures. The two pull against "
                 "each other; neither should fall to zero.",
            d="\n".join(GLOSSARY[t] for t in ("D(x)", "D(G(z))")),
            score=GLOSSARY["FD"])
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
        self.epoch_slider.valueChanged.connect(self.show_grid_epoch)
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
        self.score_label.setToolTip(GLOSSARY["FD"])

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
        self.addWidget(top)
        self.addWidget(bottom)
        self.setSizes([300, 420])

    def clear(self, grid_label: str = "no epoch yet") -> None:
        self.curves.clear()
        self.histogram.set_counts([], [])
        self.score_label.setText("")
        self.clear_grids(grid_label)

    # ------------------------------------------------------------------ scores
    def add_score(self, epoch: int, fd: float) -> None:
        if isinstance(fd, (int, float)) and math.isfinite(fd):
            self.curves.add_score(epoch, float(fd))

    def show_score(self, text: str, score: dict | None = None) -> None:
        """The score sentence, and the class histogram when ``score`` has one."""
        if score:
            self.histogram.set_counts(score["histogram"], score["classes"])
        self.score_label.setText(text)

    # ------------------------------------------------------------------ epoch grids
    def clear_grids(self, label: str) -> None:
        self.grids.clear()
        self.grid_view.set_image(None)
        self.epoch_slider.setRange(0, 0)
        self.epoch_slider.setEnabled(False)
        self.epoch_label.setText(label)

    def add_grid(self, epoch: int, image: np.ndarray) -> None:
        follow = not self.grids or self.epoch_slider.value() == max(self.grids)
        self.grids[epoch] = image
        epochs = sorted(self.grids)
        self.epoch_slider.setEnabled(True)
        self.epoch_slider.setRange(epochs[0], epochs[-1])
        if follow:
            self.epoch_slider.setValue(epoch)
        self.show_grid_epoch(self.epoch_slider.value())

    def show_grid_epoch(self, epoch: int) -> None:
        if epoch in self.grids:
            self.grid_view.set_image(self.grids[epoch])
            self.epoch_label.setText(f"epoch {epoch} of {max(self.grids)}")


__all__ = ["RunViews"]
