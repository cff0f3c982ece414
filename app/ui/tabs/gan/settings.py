"""The GAN tab's settings column: which images to imitate (the Data tab's set or a built-in one, one class or
all), the networks and optimiser, and the score. ``config()`` turns them into a checked ``TrainConfig``;
``show_config`` puts an opened run's settings back so Start trains it again (or a variation of it)."""
from __future__ import annotations

from typing import Any

import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QSpinBox, QVBoxLayout,
                               QWidget)

from app.ui.state import AppState
from app.ui.tabs.gan.glossary import explain
from app.ui.widgets.combo import ElidedComboBox

BUILTIN_SETS = [("fashion-mnist-sample", "Fashion-MNIST sample (shipped)"),
                ("fashion-mnist", "Fashion-MNIST"), ("mnist", "MNIST digits"), ("cifar10", "CIFAR-10 photos")]
STATE = "__state__"            # the data choice that means "the Data tab's data set"


def _number(value, default):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class GanSettings(QWidget):
    """The data, settings and score boxes of the Train page."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._build_data())
        lay.addWidget(self._build_settings())
        lay.addWidget(self._build_score())
        self.state.datasetChanged.connect(lambda _ds: self.refresh_data_choices())
        self.refresh_data_choices()

    # ------------------------------------------------------------------ boxes
    def _build_data(self) -> QGroupBox:
        box = QGroupBox("Images to imitate")
        lay = QVBoxLayout(box)
        # the data set's name gets the box's full width (a form column cut it short)
        self.data_choice = ElidedComboBox()
        self.data_choice.setToolTip("The data set: the Data tab's, or one of the built-in sets.")
        self.data_choice.currentIndexChanged.connect(lambda _i: self.refresh_classes())
        self.class_choice = ElidedComboBox()
        self.class_choice.setToolTip("Train on every image, or only on the images of one class.")
        self.data_info = QLabel()
        self.data_info.setObjectName("hint")
        self.data_info.setWordWrap(True)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Class:", self.class_choice)
        lay.addWidget(self.data_choice)
        lay.addLayout(form)
        lay.addWidget(self.data_info)
        return box

    def _build_settings(self) -> QGroupBox:
        box = QGroupBox("Settings")
        form = QFormLayout(box)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.model_choice = ElidedComboBox(min_chars=16)
        self.model_choice.addItem("DCGAN (convolutional)", "dcgan")
        self.model_choice.addItem("Fully connected (classic)", "fc-gan")
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
        self.beta1.setToolTip("Adam's beta1. GANs train more steadily with 0.5 than with the usual 0.9.")
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
        self.latent.setToolTip("100 is usual; the shipped generators use it.")
        self.device = QComboBox()
        self.device.setToolTip("Automatic: the GPU when there is one, else the CPU.")
        for key, text in (("auto", "Automatic"), ("cpu", "CPU"), ("cuda", "GPU (CUDA)")):
            self.device.addItem(text, key)
        form.addRow("Model:", self.model_choice)
        form.addRow("Epochs:", self.epochs)
        form.addRow("Batch size:", self.batch_size)
        form.addRow("Learning rate:", self.lr)
        form.addRow("Momentum:", self.beta1)
        form.addRow("Label smoothing:", self.smoothing)
        form.addRow("Network width:", self.net_width)
        form.addRow("Latent size:", self.latent)
        form.addRow("Device:", self.device)
        explain(self.beta1, "momentum", form=form)
        explain(self.latent, "latent size", form=form)
        self.settings_box = box
        return box

    def _build_score(self) -> QGroupBox:
        self.score_every = QSpinBox()
        self.score_every.setRange(1, 100)
        self.score_every.setToolTip("Compute the Fréchet distance every N epochs (and at the last one).")
        self.score_every.setSuffix(" epoch(s)")
        self.score_samples = QSpinBox()
        self.score_samples.setRange(500, 10000)
        self.score_samples.setSingleStep(500)
        self.score_samples.setValue(10000)
        self.score_samples.setToolTip("Generated and real images compared for the score (10,000 is standard; fewer "
                                      "is quicker but less exact).")
        self.score_samples.setSuffix(" samples")
        self.use_score = QGroupBox("Score with the shipped classifier")
        self.use_score.setCheckable(True)
        self.use_score.setChecked(True)
        self.use_score.setToolTip("The Fréchet distance between generated and real test images, in the feature space "
                                  "of VisionDesk's own classifier for this data set (like FID).")
        explain(self.use_score, "FD")
        form = QFormLayout(self.use_score)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Every:", self.score_every)
        form.addRow("On:", self.score_samples)
        return self.use_score

    # ------------------------------------------------------------------ data choices
    def refresh_data_choices(self) -> None:
        current = self.data_choice.currentData()
        self.data_choice.blockSignals(True)
        self.data_choice.clear()
        ds = self.state.dataset
        if ds is not None and hasattr(ds.train, "images"):     # a table (CSV) has no pictures to imitate
            self.data_choice.addItem(f"Data tab: {ds.name}", STATE)
        for key, text in BUILTIN_SETS:
            self.data_choice.addItem(text, key)
        idx = self.data_choice.findData(current) if current else -1
        self.data_choice.setCurrentIndex(max(0, idx))
        self.data_choice.blockSignals(False)
        self.refresh_classes()

    def refresh_classes(self) -> None:
        from app.data.builtin import SPECS

        key = self.data_choice.currentData()
        self.class_choice.clear()
        self.class_choice.addItem("All classes", None)
        ds = self.state.dataset if key == STATE else None
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
            spec = SPECS.get("fashion-mnist" if key == "fashion-mnist-sample" else key)
            classes = list(spec.classes) if spec is not None else []
            self.data_info.setText("Shipped with VisionDesk: works offline." if key == "fashion-mnist-sample" else
                                   "Loaded from the VisionDesk data folder when training starts.")
        for i, name in enumerate(classes):
            self.class_choice.addItem(f"{i}: {name}", i)

    def dataset(self):
        """The Data tab's data set when it is the one chosen (the trainer uses it as it is), else None."""
        return self.state.dataset if self.data_choice.currentData() == STATE else None

    # ------------------------------------------------------------------ to and from a config
    def config(self):
        """The settings as a checked ``TrainConfig`` (raises UserError in plain words)."""
        from app.engine.config import TrainConfig
        from app.engine.gan import gan_config

        key = self.data_choice.currentData()
        if key == STATE:
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
        return TrainConfig.from_dict(cfg.to_dict(), source="The GAN settings")

    def show_config(self, cfg) -> None:
        """Put a run's settings in the form."""
        opts, extra = dict(cfg.model_options or {}), dict(cfg.extra or {})
        if (i := self.model_choice.findData(cfg.model)) >= 0:
            self.model_choice.setCurrentIndex(i)
        if (i := self.data_choice.findData(cfg.data)) >= 0:
            self.data_choice.setCurrentIndex(i)
            if "class" in extra and (j := self.class_choice.findData(int(_number(extra["class"], -1)))) >= 0:
                self.class_choice.setCurrentIndex(j)
        self.epochs.setValue(int(cfg.epochs))
        self.batch_size.setValue(int(cfg.batch_size))
        self.lr.setValue(_number(cfg.lr, self.lr.value()))
        betas = extra.get("betas")
        if isinstance(betas, (list, tuple)) and betas:
            self.beta1.setValue(_number(betas[0], self.beta1.value()))
        self.smoothing.setValue(_number(cfg.label_smoothing, 0.0))
        self.latent.setValue(int(_number(opts.get("latent_dim"), self.latent.value())))
        if "g_width" in opts:
            self.net_width.setValue(int(_number(opts["g_width"], self.net_width.value())))
        self.use_score.setChecked(extra.get("score", True) is not False)
        self.score_every.setValue(int(_number(extra.get("score_every"), self.score_every.value())))
        self.score_samples.setValue(int(_number(extra.get("score_samples"), self.score_samples.value())))


__all__ = ["BUILTIN_SETS", "GanSettings", "STATE"]
