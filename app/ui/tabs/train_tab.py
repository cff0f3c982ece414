"""The Train tab: settings, Start / Pause / Stop, live curves, results, Try it, and past runs.

Training runs through ``TrainingRunner`` (a QThread worker around the engine's ``Trainer``); this
module only builds a ``TrainConfig`` from the widgets and shows the engine's events.
"""
from __future__ import annotations

import json
import math
import random
import shlex
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QFrame, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
                               QPushButton, QSpinBox, QSplitter, QTableWidget, QTableWidgetItem,
                               QTabWidget, QVBoxLayout, QWidget)

from app.engine.build import load_data_for, make_trainer, resume_config
from app.engine.config import TrainConfig
from app.engine.devices import cuda_available
from app.engine.events import (BatchEnd, Checkpointed, EpochEnd, EpochStart, EvalStart, Failed, Finished,
                               RunStarted)
from app.engine.runs import list_runs, read_metrics, runs_root
from app.core.errors import UserError
from app.ui.state import AppState
from app.ui.widgets.confusion import ConfusionMatrixView, PerClassBars, short
from app.ui.widgets.curves import TrainingCurves
from app.ui.widgets.gallery import ImageGallery
from app.ui.widgets.images import to_hwc, to_pixmap
from app.ui.widgets.jobs import Jobs
from app.ui.widgets.probabilities import ProbabilityBars
from app.ui.widgets.throttle import RedrawThrottle

IMAGE_FILTER = "Pictures (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"
OPTIMIZER_NAMES = {"sgd": "SGD with momentum", "adam": "Adam", "adamw": "AdamW"}
SCHEDULE_NAMES = {"none": "Constant", "step": "Step decay", "cosine": "Cosine decay", "onecycle": "One-cycle"}
SCHEDULE_TIPS = {"none": "The same learning rate all the time.",
                 "step": "The learning rate drops to a tenth every few epochs.",
                 "cosine": "The learning rate falls smoothly to zero by the last epoch.",
                 "onecycle": "The learning rate warms up, then falls to almost zero: usually the fastest."}
DEVICE_NAMES = {"auto": "Automatic", "cpu": "CPU", "cuda": "CUDA GPU"}
NO_CUDA_TIP = "No NVIDIA GPU with CUDA is usable on this computer, so training runs on the CPU."


def hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _option_text(v: Any) -> str:
    if isinstance(v, str):
        try:
            json.loads(v)
        except ValueError:
            return v
    return json.dumps(v)


def command_line(cfg: TrainConfig) -> str:
    """The ``visiondesk train ...`` line that trains exactly ``cfg`` headless."""
    parts = ["visiondesk", "train", "--data", cfg.data]
    if cfg.data_root:
        parts += ["--data-root", cfg.data_root]
    if cfg.image_size:
        parts += ["--image-size", str(cfg.image_size)]
    parts += ["--model", cfg.model]
    for k, v in sorted(cfg.model_options.items()):
        parts += ["--option", f"{k}={_option_text(v)}"]
    parts += ["--epochs", str(cfg.epochs), "--batch-size", str(cfg.batch_size), "--optimizer", cfg.optimizer,
              "--lr", repr(float(cfg.lr)), "--momentum", repr(float(cfg.momentum)),
              "--weight-decay", repr(float(cfg.weight_decay)), "--schedule", cfg.schedule,
              "--augment" if cfg.augment else "--no-augment", "--device", cfg.device, "--amp", cfg.amp,
              "--seed", str(cfg.seed)]
    if not cfg.nesterov:
        parts.append("--no-nesterov")
    if cfg.label_smoothing:
        parts += ["--label-smoothing", repr(float(cfg.label_smoothing))]
    return shlex.join(parts)


def evaluation_details(probs, labels, classes: list[str], worst_k: int = 24) -> dict:
    """Confusion matrix, per-class accuracy and the worst predictions, from test-set probabilities
    (the same fields as the classification task's ``EpochEnd.details``)."""
    import torch

    probs = torch.as_tensor(probs, dtype=torch.float32)
    labels = torch.as_tensor(labels, dtype=torch.int64)
    k = len(classes)
    conf, pred = probs.max(1)
    cm = torch.bincount(labels * k + pred, minlength=k * k).reshape(k, k)
    per_class = (cm.diag().float() / cm.sum(1).clamp(min=1).float()).tolist()
    loss = -torch.log(probs.gather(1, labels.view(-1, 1)).squeeze(1).clamp(min=1e-12))
    score = loss + (pred != labels).float() * 1e6
    idx = score.topk(min(worst_k, len(labels))).indices.tolist()
    worst = [{"index": i, "true": int(labels[i]), "pred": int(pred[i]), "prob": float(conf[i]),
              "loss": float(loss[i])} for i in idx]
    return {"confusion": cm.tolist(), "per_class_acc": per_class, "classes": list(classes), "worst": worst,
            "accuracy": float((pred == labels).float().mean()) if len(labels) else 0.0}


class MessageArea(QFrame):
    """Plain-language messages in the tab (info, success, warning, error), with 'Copy details'."""

    COLORS = {"info": ("#eef3fb", "#2b4a74"), "ok": ("#ecf7ec", "#1d5e20"), "warn": ("#fff6e0", "#7a5300"),
              "error": ("#fdecea", "#8a1c12")}

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = "info"
        self.details = ""
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.label.setOpenExternalLinks(True)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setToolTip("Copy the technical details (for a bug report) to the clipboard.")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.details))
        self.copy_button.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addWidget(self.label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.copy_button)
        lay.addLayout(row)
        self.show_message("", "info")

    @property
    def text(self) -> str:
        return self.label.text()

    def show_message(self, text: str, kind: str = "info", details: str = "") -> None:
        self.kind = kind
        self.details = details
        back, fore = self.COLORS.get(kind, self.COLORS["info"])
        self.setStyleSheet(f"MessageArea {{ background: {back}; border: 1px solid {fore}33; border-radius: 6px; }}"
                           f" QLabel {{ color: {fore}; background: transparent; border: none; }}")
        self.label.setText(text)
        self.copy_button.setVisible(bool(details))
        self.setVisible(bool(text))


class DropImage(QLabel):
    """Shows the picture being tried; accepts a dropped image file."""

    dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(220, 220))
        self.setWordWrap(True)
        self.setObjectName("dropZone")
        self.setStyleSheet("#dropZone { border: 2px dashed #b8c2cc; border-radius: 8px; color: #666;"
                           " background: #fafbfc; }")
        self.setText("Drop a picture here,\nor use the buttons below.")

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for u in event.mimeData().urls():
            if u.isLocalFile():
                self.dropped.emit(u.toLocalFile())
                event.acceptProposedAction()
                return


class TrainTab(QWidget):
    """Train a classifier on the current data set and model, and look at what it learned."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        from app.ui.session import TrainingRunner

        self.runner = TrainingRunner(self)
        self.runner.events.connect(self._on_events)
        self.runner.finished.connect(self._on_finished)
        self.jobs = Jobs(self)
        # the run being trained or shown
        self.run_dir: Path | None = None
        self.run_config: TrainConfig | None = None
        self.model_dir: Path | None = None         # run folder whose best.pt Try-it and Export use
        self.last_result: Finished | Failed | None = None
        self.last_probabilities: np.ndarray | None = None
        self._run_data: dict[str, Any] = {}        # {"dataset": ImageDataset} filled in the worker thread
        self._failed_event: Failed | None = None
        self._epochs = 0
        self._batches = 0
        self._paused = False
        self._stopping = False
        self._started_at = 0.0
        self.first_point_seconds: float | None = None
        self._clf_cache: tuple[tuple, Any] | None = None
        self._clf_lock = threading.Lock()
        self._form_model = ""
        self._last_batch: BatchEnd | None = None
        self._pending_results: tuple | None = None    # (details, dataset, title) not drawn yet
        self._progress_throttle = RedrawThrottle(self._update_progress, 10.0, self)

        self._build_ui()
        self.views.currentChanged.connect(self._on_view_changed)
        self.state.datasetChanged.connect(lambda _ds: self._update_summary())
        self.state.modelChanged.connect(self._on_model_changed)
        self.state.runOpened.connect(self.open_run)
        self._restore_settings()
        self._update_summary()
        self.refresh_runs()

    # ================================================================== layout
    def _build_ui(self) -> None:
        left = QWidget()
        left.setMinimumWidth(330)
        left.setMaximumWidth(380)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)

        what = QGroupBox("What will be trained")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        QVBoxLayout(what).addWidget(self.summary)
        lv.addWidget(what)

        box = QGroupBox("Settings")
        form = QFormLayout(box)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10000)
        self.epochs.setToolTip("How many times the model sees every training image.")
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 8192)
        self.batch_size.setToolTip("How many images the model looks at before each small correction.")
        self.optimizer = QComboBox()
        for key, name in OPTIMIZER_NAMES.items():
            self.optimizer.addItem(name, key)
        self.optimizer.setToolTip("The method that adjusts the weights after each batch.")
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.00001, 10.0)
        self.lr.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.lr.setToolTip("How big each correction step is. Too high: the loss jumps about; too low: slow.")
        self.momentum = QDoubleSpinBox()
        self.momentum.setDecimals(3)
        self.momentum.setRange(0.0, 0.999)
        self.momentum.setSingleStep(0.05)
        self.momentum.setToolTip("SGD only: how much of the previous step is kept (0.9 is usual).")
        self.weight_decay = QDoubleSpinBox()
        self.weight_decay.setDecimals(6)
        self.weight_decay.setRange(0.0, 1.0)
        self.weight_decay.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.weight_decay.setToolTip("Pulls weights towards zero a little every step, against overfitting.")
        self.schedule = QComboBox()
        for key, name in SCHEDULE_NAMES.items():
            self.schedule.addItem(name, key)
            self.schedule.setItemData(self.schedule.count() - 1, SCHEDULE_TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.schedule.setToolTip("How the learning rate changes during training.")
        self.augment = QCheckBox("shift and flip images")
        self.augment.setToolTip("Small random changes to the training images so the model generalises better.")
        self.device = QComboBox()
        for key, name in DEVICE_NAMES.items():
            self.device.addItem(name, key)
        self.device.setItemData(0, "The GPU when there is one, else the CPU.", Qt.ItemDataRole.ToolTipRole)
        if not cuda_available():
            item = self.device.model().item(2)
            item.setEnabled(False)
            item.setToolTip(NO_CUDA_TIP)
            self.device.setToolTip(NO_CUDA_TIP)
        self.amp = QCheckBox("Mixed precision (GPU)")
        self.device.currentIndexChanged.connect(self._update_amp)
        self.optimizer.currentIndexChanged.connect(self._update_momentum)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", self.lr)
        form.addRow("Momentum", self.momentum)
        form.addRow("Weight decay", self.weight_decay)
        form.addRow("Schedule", self.schedule)
        form.addRow("Augment", self.augment)
        form.addRow("Device", self.device)
        form.addRow("", self.amp)
        self.defaults_button = QPushButton("Model's suggested settings")
        self.defaults_button.setToolTip("Put back the settings suggested for this model.")
        self.defaults_button.setFlat(True)
        self.defaults_button.setObjectName("linkButton")
        self.defaults_button.clicked.connect(self.apply_model_defaults)
        form.addRow("", self.defaults_button)
        self.settings_box = box
        lv.addWidget(box)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("primary")
        self.start_button.setToolTip("Start training (Ctrl+R)")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause after the current batch; press again to resume")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("danger")
        self.stop_button.setToolTip("Stop after the current batch and save a checkpoint to continue later")
        for b in (self.start_button, self.pause_button, self.stop_button):
            b.setMinimumHeight(34)
            buttons.addWidget(b)
        self.start_button.clicked.connect(self.start_training)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop_training)
        lv.addLayout(buttons)
        self.command_button = QPushButton("Copy as command")
        self.command_button.setToolTip("Copy the 'visiondesk train ...' line that trains these settings without "
                                       "the window (for scripts or a bigger computer).")
        self.command_button.clicked.connect(self.copy_command)
        lv.addWidget(self.command_button)
        self.message = MessageArea()
        lv.addWidget(self.message)
        lv.addStretch(1)

        # ---- right side: progress + views
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(4, 0, 0, 0)
        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Not started")
        self.progress.setMinimumHeight(24)
        self.speed = QLabel("")
        self.speed.setMinimumWidth(230)
        self.speed.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.speed)
        rv.addLayout(prow)

        self.views = QTabWidget()
        self.views.setDocumentMode(True)
        rv.addWidget(self.views, 1)

        self.curves = TrainingCurves()
        self.views.addTab(self.curves, "Curves")

        results = QWidget()
        rl = QVBoxLayout(results)
        rl.setContentsMargins(0, 6, 0, 0)
        self.results_title = QLabel("Results appear here after the first epoch.")
        self.results_title.setObjectName("sectionTitle")
        rl.addWidget(self.results_title)
        split = QSplitter(Qt.Orientation.Vertical)
        top = QSplitter(Qt.Orientation.Horizontal)
        self.confusion = ConfusionMatrixView()
        self.per_class = PerClassBars()
        top.addWidget(self.confusion)
        top.addWidget(self.per_class)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 4, 0, 0)
        bl.addWidget(QLabel("<b>Worst-predicted test images</b> — wrong ones first, the most confidently "
                            "wrong first (red: wrong, green: right)"))
        self.gallery = ImageGallery(thumb=56)
        bl.addWidget(self.gallery, 1)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([400, 230])
        rl.addWidget(split, 1)
        self.views.addTab(results, "Results")

        self.views.addTab(self._build_try_it(), "Try it")
        self.views.addTab(self._build_runs(), "Past runs")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.addWidget(splitter)
        self._set_running_ui(False)

    def _build_try_it(self) -> QWidget:
        page = QWidget()
        lay = QHBoxLayout(page)
        lay.setContentsMargins(6, 10, 6, 6)
        col = QVBoxLayout()
        self.try_image = DropImage()
        self.try_image.dropped.connect(self.try_file)
        col.addWidget(self.try_image, 1)
        self.try_open = QPushButton("Open a picture…")
        self.try_open.clicked.connect(self.choose_image)
        self.try_random = QPushButton("Random test image")
        self.try_random.clicked.connect(self.random_test_image)
        row = QHBoxLayout()
        row.addWidget(self.try_open)
        row.addWidget(self.try_random)
        col.addLayout(row)
        lay.addLayout(col, 2)
        col2 = QVBoxLayout()
        self.try_model = QLabel("Train a model (or pick a past run) to try it on pictures.")
        self.try_model.setWordWrap(True)
        self.try_truth = QLabel("")
        self.try_truth.setWordWrap(True)
        self.try_bars = ProbabilityBars()
        self.try_bars.empty_text = ("The five most likely classes and how sure the model is\n"
                                    "appear here for the picture on the left.")
        self.try_note = QLabel("")
        self.try_note.setObjectName("hint")
        self.try_note.setWordWrap(True)
        col2.addWidget(self.try_model)
        col2.addSpacing(6)
        col2.addWidget(self.try_truth)
        col2.addWidget(self.try_bars)
        col2.addWidget(self.try_note)
        col2.addStretch(1)
        lay.addLayout(col2, 3)
        return page

    def _build_runs(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addWidget(QLabel("Every training is kept in its own folder. Select one to look at it again, try "
                             "its model, continue it or save its model."))
        self.runs_table = QTableWidget(0, 6)
        self.runs_table.setHorizontalHeaderLabels(["Started", "Data", "Model", "Epochs", "Best test accuracy",
                                                   "Folder"])
        self.runs_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.runs_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.runs_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.runs_table.verticalHeader().setVisible(False)
        self.runs_table.setAlternatingRowColors(True)
        hh = self.runs_table.horizontalHeader()
        for i in range(5):
            hh.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.runs_table.doubleClicked.connect(lambda _i: self._selected_run(self.open_run))
        lay.addWidget(self.runs_table, 1)
        self.runs_empty = QLabel("No past runs yet: press Start to train your first model.")
        self.runs_empty.setObjectName("hint")
        lay.addWidget(self.runs_empty)
        row = QHBoxLayout()
        self.open_run_button = QPushButton("Show curves and results")
        self.open_run_button.clicked.connect(lambda: self._selected_run(self.open_run))
        self.use_model_button = QPushButton("Use its model in Try it")
        self.use_model_button.clicked.connect(lambda: self._selected_run(self.use_model))
        self.more_epochs = QSpinBox()
        self.more_epochs.setRange(1, 10000)
        self.more_epochs.setValue(5)
        self.more_epochs.setSuffix(" more epochs")
        self.continue_button = QPushButton("Continue training for")
        self.continue_button.clicked.connect(
            lambda: self._selected_run(lambda p: self.continue_run(p, self.more_epochs.value())))
        self.export_button = QPushButton("Save model…")
        self.export_button.setToolTip("Save the run's best model as a PyTorch state dict (.pt) or as ONNX (.onnx).")
        self.export_button.clicked.connect(lambda: self._selected_run(self.export_model))
        self.folder_button = QPushButton("Open folder")
        self.folder_button.clicked.connect(
            lambda: self._selected_run(lambda p: QDesktopServices.openUrl(QUrl.fromLocalFile(str(p)))))
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh_runs)
        for w in (self.open_run_button, self.use_model_button, self.continue_button, self.more_epochs,
                  self.export_button, self.folder_button):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(refresh)
        lay.addLayout(row)
        return page

    # ================================================================== settings
    def _setting(self, key: str, default):
        v = self.state.settings.value(f"train/{key}", None)
        if v is None:
            return default
        try:
            if isinstance(default, bool):
                return v if isinstance(v, bool) else str(v).lower() in ("true", "1", "yes")
            return type(default)(v)
        except (TypeError, ValueError):
            return default

    def _restore_settings(self) -> None:
        saved_model = str(self._setting("model", ""))
        self._form_model = self.state.model_name
        if saved_model != self.state.model_name:
            self.apply_model_defaults()
        else:
            d = TrainConfig()
            self.set_values({"epochs": self._setting("epochs", d.epochs),
                             "batch_size": self._setting("batch_size", d.batch_size),
                             "optimizer": self._setting("optimizer", d.optimizer),
                             "lr": self._setting("lr", d.lr), "momentum": self._setting("momentum", d.momentum),
                             "weight_decay": self._setting("weight_decay", d.weight_decay),
                             "schedule": self._setting("schedule", d.schedule),
                             "augment": self._setting("augment", d.augment)})
        self.set_values({"device": self._setting("device", "auto"), "amp": self._setting("amp", "off")})
        more = self._setting("more_epochs", 5)
        self.more_epochs.setValue(more)
        tab = self._setting("view", 0)
        if 0 <= tab < self.views.count():
            self.views.setCurrentIndex(tab)

    def save_settings(self) -> None:
        s = self.state.settings
        s.setValue("train/model", self._form_model)
        for k, v in self.values().items():
            s.setValue(f"train/{k}", v)
        s.setValue("train/more_epochs", self.more_epochs.value())
        s.setValue("train/view", self.views.currentIndex())
        s.sync()

    def values(self) -> dict[str, Any]:
        return {"epochs": self.epochs.value(), "batch_size": self.batch_size.value(),
                "optimizer": self.optimizer.currentData(), "lr": float(self.lr.value()),
                "momentum": float(self.momentum.value()), "weight_decay": float(self.weight_decay.value()),
                "schedule": self.schedule.currentData(), "augment": self.augment.isChecked(),
                "device": self.device.currentData(), "amp": "auto" if self.amp.isChecked() else "off"}

    def set_values(self, values: dict[str, Any]) -> None:
        """Set the settings widgets (keys as in ``TrainConfig``); unknown keys are ignored."""
        if "epochs" in values:
            self.epochs.setValue(int(values["epochs"]))
        if "batch_size" in values:
            self.batch_size.setValue(int(values["batch_size"]))
        if "lr" in values:
            self.lr.setValue(float(values["lr"]))
        if "momentum" in values:
            self.momentum.setValue(float(values["momentum"]))
        if "weight_decay" in values:
            self.weight_decay.setValue(float(values["weight_decay"]))
        if "augment" in values:
            self.augment.setChecked(bool(values["augment"]))
        for key, combo in (("optimizer", self.optimizer), ("schedule", self.schedule), ("device", self.device)):
            if key in values:
                i = combo.findData(str(values[key]))
                if i >= 0 and (key != "device" or self.device.model().item(i).isEnabled()):
                    combo.setCurrentIndex(i)
        if "amp" in values:
            self.amp.setChecked(str(values["amp"]) not in ("off", "False", "false", ""))
        self._update_amp()
        self._update_momentum()

    def apply_model_defaults(self) -> None:
        """The current model's suggested hyperparameters (``get_model_info(name).defaults``)."""
        from app.models import get_model_info

        d = TrainConfig()
        values = {"epochs": d.epochs, "batch_size": d.batch_size, "optimizer": d.optimizer, "lr": d.lr,
                  "momentum": d.momentum, "weight_decay": d.weight_decay, "schedule": d.schedule,
                  "augment": d.augment}
        try:
            values.update(get_model_info(self.state.model_name).defaults or {})
        except UserError:
            pass
        self.set_values(values)
        self._form_model = self.state.model_name

    def _update_amp(self) -> None:
        cuda = cuda_available() and self.device.currentData() != "cpu"
        self.amp.setEnabled(cuda)
        self.amp.setToolTip("Computes in 16-bit where it is safe: faster and lighter on recent NVIDIA GPUs."
                            if cuda else "Mixed precision is only used on a CUDA GPU.")

    def _update_momentum(self) -> None:
        self.momentum.setEnabled(self.optimizer.currentData() == "sgd")

    def _on_model_changed(self, name: str, _options: dict) -> None:
        if name != self._form_model and not self.runner.is_running():
            self.apply_model_defaults()
        self._update_summary()

    def _update_summary(self) -> None:
        ds = self.state.dataset
        spec = self.state.dataset_spec or {}
        if ds is None:
            data = "<i>No data set loaded yet</i> — choose one in the Data tab."
        else:
            kind = "grey" if ds.channels == 1 else "colour"
            data = (f"<b>{spec.get('data') or ds.name}</b>: {len(ds.train):,} training and {len(ds.test):,} test "
                    f"images, {ds.size[0]}×{ds.size[1]} {kind}, {ds.num_classes} classes")
        opts = ", ".join(f"{k}={v}" for k, v in sorted((self.state.model_options or {}).items()))
        model = f"<b>{self.state.model_name}</b>" + (f" ({opts})" if opts else "")
        self.summary.setText(f"Data: {data}<br>Model: {model}<br><span style='color:#777'>Change them in the Data "
                             f"and Model tabs.</span>")

    # ================================================================== training
    def current_config(self) -> TrainConfig:
        """A validated TrainConfig from the data set, the model and the settings widgets."""
        spec = self.state.dataset_spec or {}
        raw = TrainConfig().to_dict()
        ds = self.state.dataset
        raw.update(task="classify", data=str(spec.get("data") or (ds.name if ds is not None else raw["data"])),
                   data_root=spec.get("data_root") or None, image_size=spec.get("image_size") or None,
                   model=self.state.model_name, model_options=dict(self.state.model_options or {}))
        if raw["data_root"] is not None:
            raw["data_root"] = str(raw["data_root"])
        raw.update(self.values())
        return TrainConfig.from_dict(raw, source="The training settings")

    def is_busy(self) -> bool:
        return self.runner.is_running()

    def toggle_training(self) -> None:
        """Ctrl+R: start, or stop the running training."""
        if self.runner.is_running():
            self.stop_training()
        else:
            self.start_training()

    def start_training(self) -> None:
        if self.runner.is_running():
            return
        if self.state.dataset is None:
            self.show_message("Load a data set in the Data tab first (the Fashion-MNIST sample works offline).",
                              "warn")
            return
        try:
            cfg = self.current_config()
        except UserError as exc:
            self.show_message(str(exc), "error")
            return
        self.save_settings()
        self._begin(cfg, self.state.dataset, resume_from=None, out=None)

    def _begin(self, cfg: TrainConfig, dataset, resume_from, out, keep_curves: bool = False) -> None:
        holder: dict[str, Any] = {"dataset": dataset}
        self._run_data = holder

        def build(callbacks, control):
            trainer = make_trainer(cfg, out=out, dataset=dataset, callbacks=callbacks, control=control)
            holder["dataset"] = getattr(trainer.task, "dataset", dataset)
            return trainer

        self.run_config = cfg
        self.run_dir = Path(out) if out else None
        self.last_result = None
        self._failed_event = None
        self._paused = False
        self._stopping = False
        self._epochs = cfg.epochs
        self._batches = 0
        self.first_point_seconds = None
        if not keep_curves:
            self.curves.clear()
            self._clear_results()
        self.curves.set_planned_epochs(cfg.epochs)
        self._started_at = time.perf_counter()
        try:
            self.runner.start(build, resume_from=resume_from)
        except UserError as exc:
            self.show_message(str(exc), "error")
            return
        self.progress.setRange(0, 0)    # busy until the first batch says how many there are
        self.progress.setFormat("Preparing…")
        self.speed.setText("")
        self.state.set_busy("train", f"Training {cfg.model} on {cfg.data}")
        self.show_message(f"Preparing {cfg.model} on {cfg.data}…", "info")
        self._set_running_ui(True)

    def toggle_pause(self) -> None:
        if not self.runner.is_running() or self._stopping:
            return
        if self._paused:
            self.runner.resume()
            self._paused = False
            self.pause_button.setText("Pause")
            self.state.set_busy("train", f"Training {self.run_config.model} on {self.run_config.data}")
            self.show_message("Training goes on.", "info")
        else:
            self.runner.pause()
            self._paused = True
            self.pause_button.setText("Resume")
            self.state.set_busy("train", "Training paused")
            self.show_message("Paused after the current batch. Press Resume to go on, or Stop to end and keep "
                              "a checkpoint.", "info")

    def stop_training(self) -> None:
        if not self.runner.is_running():
            return
        self._stopping = True
        self.runner.stop()
        self.pause_button.setEnabled(False)
        self.stop_button.setEnabled(False)
        self.state.set_busy("train", "Stopping training")
        self.show_message("Stopping after the current batch and saving a checkpoint…", "info")

    def _set_running_ui(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Pause")
        self.settings_box.setEnabled(not running)
        self.continue_button.setEnabled(not running)

    @Slot(list)
    def _on_events(self, events: list) -> None:
        xs: list[float] = []
        losses: list[float] = []
        last_batch: BatchEnd | None = None
        last_epoch: EpochEnd | None = None
        for ev in events:
            if isinstance(ev, BatchEnd):
                xs.append(ev.epoch - 1 + ev.batch / max(ev.batches, 1))
                losses.append(ev.metrics.get("loss", math.nan))
                last_batch = ev
            elif isinstance(ev, EpochEnd):
                self.curves.add_epoch(ev.epoch, ev.metrics)
                last_epoch = ev
            elif isinstance(ev, RunStarted):
                self.run_dir = Path(ev.run_dir) if ev.run_dir else None
                self._epochs, self._batches = ev.epochs, ev.batches_per_epoch
                self.progress.setRange(0, max(1, ev.epochs * ev.batches_per_epoch))
                self.progress.setValue(ev.start_epoch * ev.batches_per_epoch)
                where = f" (continuing after epoch {ev.start_epoch})" if ev.start_epoch else ""
                self.show_message(f"Training on {ev.device}{where}. The run is saved in "
                                  f"{self._run_link(self.run_dir)}.", "info")
            elif isinstance(ev, EpochStart):
                self.progress.setFormat(f"Epoch {ev.epoch} of {ev.epochs}")
            elif isinstance(ev, EvalStart):
                self.progress.setFormat(f"Epoch {ev.epoch} of {self._epochs} · testing…")
            elif isinstance(ev, Checkpointed):
                if self.run_dir is not None and (self.run_dir / "best.pt").is_file():
                    self._set_model_dir(self.run_dir)
            elif isinstance(ev, Failed):
                self._failed_event = ev
        if xs:
            if self.first_point_seconds is None:
                self.first_point_seconds = time.perf_counter() - self._started_at
            self.curves.add_batches(xs, losses)
        if last_batch is not None:
            self._last_batch = last_batch
            self._progress_throttle.mark()
        if last_epoch is not None:
            self._show_epoch_results(last_epoch)

    def _update_progress(self) -> None:
        b = self._last_batch
        if b is None or not self.runner.is_running():
            return
        self.progress.setRange(0, max(1, self._epochs * b.batches))
        self.progress.setValue((b.epoch - 1) * b.batches + b.batch)
        self.progress.setFormat(f"Epoch {b.epoch} of {self._epochs} · batch {b.batch} of {b.batches}")
        self.speed.setText(f"{b.images_per_sec:,.0f} images/s · about {hms(b.eta_seconds)} left")

    def _show_epoch_results(self, ev: EpochEnd) -> None:
        acc = ev.metrics.get("test_acc")
        best = " — the best so far" if ev.is_best else ""
        title = f"After epoch {ev.epoch} of {ev.epochs}"
        if isinstance(acc, float):
            title += f": {100 * acc:.1f}% of the test images right{best}"
        self._pending_results = (ev.details, self._run_data.get("dataset"), title)
        self.results_title.setText(title + ("" if self.views.currentIndex() == 1 else
                                            " — open this page to see the details"))
        if self.views.currentIndex() == 1:    # else drawn when the Results page is opened
            self._draw_pending_results()
        if self.run_dir is not None and (self.run_dir / "best.pt").is_file():
            self._set_model_dir(self.run_dir)

    def _on_view_changed(self, index: int) -> None:
        if index == 1:
            self._draw_pending_results()

    def _draw_pending_results(self) -> None:
        if self._pending_results is not None:
            pending, self._pending_results = self._pending_results, None
            self._show_details(*pending)

    def _show_details(self, details: dict, dataset, title: str) -> None:
        if not details or "confusion" not in details:
            return
        classes = list(details.get("classes") or (dataset.classes if dataset is not None else []))
        if not classes:
            classes = [str(i) for i in range(len(details["confusion"]))]
        self.results_title.setText(title)
        self.confusion.set_matrix(details["confusion"], classes)
        self.per_class.set_values(details.get("per_class_acc", []), classes)
        items = []
        if dataset is not None:
            n = len(dataset.test)
            for w in details.get("worst", []):
                i = int(w["index"])
                if not 0 <= i < n:
                    continue
                t, p = classes[w["true"]], classes[w["pred"]]
                caption = f"{short(t, 14)}\n→ {short(p, 12)} {100 * w['prob']:.0f}%"
                tip = (f"Test image #{i}\nTrue class: {t}\nThe model said: {p} ({100 * w['prob']:.1f}% sure)")
                items.append((dataset.test.images[i], caption, tip, w["true"] == w["pred"]))
        self.gallery.set_images([(img, cap, tip) for img, cap, tip, _ in items])
        for k, (_img, _c, _t, right) in enumerate(items):
            self.gallery.item(k).setForeground(QColor(29, 120, 40) if right else QColor(180, 30, 20))

    def _clear_results(self) -> None:
        self._pending_results = None
        self.results_title.setText("Results appear here after the first epoch.")
        self.confusion.clear()
        self.per_class.clear()
        self.gallery.clear()

    @Slot(object)
    def _on_finished(self, result) -> None:
        self.curves.throttle.flush()
        self._progress_throttle.flush()
        self._set_running_ui(False)
        self.state.set_busy("train", "")
        if isinstance(result, Failed) and self._failed_event is not None:
            result = self._failed_event
        self.last_result = result
        self.progress.setRange(0, 1)
        if isinstance(result, Failed):
            self.progress.setValue(0)
            self.progress.setFormat("Failed")
            hint = "" if result.user_error else " This looks like a bug; 'Copy details' gives the technical report."
            saved = (f" What was saved is in {self._run_link(Path(result.run_dir))}."
                     if result.run_dir and Path(result.run_dir, "last.pt").is_file() else "")
            self.show_message(f"Training stopped with a problem: {result.message}{saved}{hint}", "error",
                              result.details)
        elif isinstance(result, Finished):
            self.progress.setValue(1)
            best = result.best.get("test_acc") if result.best else None
            last = result.metrics.get("test_acc") if result.metrics else None
            parts = []
            if isinstance(last, float):
                parts.append(f"test accuracy {100 * last:.1f}%")
            if isinstance(best, float):
                parts.append(f"best {100 * best:.1f}% at epoch {int(result.best.get('epoch', 0))}")
            scores = (" — " + ", ".join(parts)) if parts else ""
            where = self._run_link(Path(result.run_dir)) if result.run_dir else "memory"
            if result.reason == "stopped":
                self.progress.setFormat(f"Stopped after epoch {result.epoch}")
                self.show_message(f"Stopped after {result.epoch} complete epoch(s){scores}. A checkpoint is saved in "
                                  f"{where}: select the run in 'Past runs' to continue it.", "ok")
            else:
                self.progress.setFormat(f"Done: {result.epoch} epoch(s) in {hms(result.seconds)}")
                self.show_message(f"Finished {result.epoch} epoch(s) in {hms(result.seconds)}{scores}. Saved in "
                                  f"{where}. Try the model in 'Try it'.", "ok")
            if result.run_dir and (Path(result.run_dir) / "best.pt").is_file():
                self._set_model_dir(Path(result.run_dir))
        self.refresh_runs()

    def show_message(self, text: str, kind: str = "info", details: str = "") -> None:
        self.message.show_message(text, kind, details)

    @staticmethod
    def _run_link(path: Path | None) -> str:
        if path is None:
            return "memory only"
        return f"<a href='{QUrl.fromLocalFile(str(path)).toString()}'>{path.name}</a>"

    def copy_command(self) -> str:
        try:
            cfg = self.current_config()
        except UserError as exc:
            self.show_message(str(exc), "error")
            return ""
        line = command_line(cfg)
        QGuiApplication.clipboard().setText(line)
        self.show_message(f"Copied to the clipboard:<br><code>{line}</code>", "ok")
        return line

    # ================================================================== model for Try it / export
    def _set_model_dir(self, path: Path | None) -> None:
        self.model_dir = Path(path) if path else None
        if self.model_dir is None:
            self.try_model.setText("Train a model (or pick a past run) to try it on pictures.")
            return
        rows = read_metrics(self.model_dir)
        accs = [(r.get("test_acc"), r.get("epoch")) for r in rows if isinstance(r.get("test_acc"), float)]
        extra = ""
        if accs:
            acc, ep = max(accs, key=lambda a: a[0])
            extra = f" (epoch {int(ep)}, {100 * acc:.1f}% on the test images)"
        self.try_model.setText(f"Model: the best checkpoint of <b>{self.model_dir.name}</b>{extra}.")

    def _checkpoint_path(self) -> Path | None:
        if self.model_dir is None:
            return None
        for name in ("best.pt", "last.pt"):
            if (self.model_dir / name).is_file():
                return self.model_dir / name
        return None

    def _classifier(self, path: Path):
        """load_classifier with a cache keyed by file and modification time (called in a job thread)."""
        from app.engine.predict import load_classifier

        key = (str(path), path.stat().st_mtime_ns)
        with self._clf_lock:
            if self._clf_cache and self._clf_cache[0] == key:
                return self._clf_cache[1]
        clf = load_classifier(path)
        with self._clf_lock:
            self._clf_cache = (key, clf)
        return clf

    def use_model(self, run_dir: Path) -> None:
        run_dir = Path(run_dir)
        if not ((run_dir / "best.pt").is_file() or (run_dir / "last.pt").is_file()):
            self.show_message(f"{run_dir.name} has no saved model yet.", "warn")
            return
        self._set_model_dir(run_dir)
        self.views.setCurrentIndex(2)

    # ================================================================== Try it
    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a picture to classify",
                                              str(self._setting("try_dir", str(Path.home()))), IMAGE_FILTER)
        if path:
            self.state.settings.setValue("train/try_dir", str(Path(path).parent))
            self.try_file(path)

    def try_file(self, path: str) -> None:
        from app.data.images import open_image

        try:
            image = open_image(path)
        except UserError as exc:
            self.show_message(str(exc), "error")
            return
        self._predict(lambda clf: (image, None), f"{Path(path).name}")

    def random_test_image(self) -> None:
        ds = self._run_data.get("dataset") if self._run_data else None
        ds = ds or self.state.dataset
        if ds is None or len(ds.test) == 0:
            self.show_message("Load a data set in the Data tab to try test images.", "warn")
            return
        i = random.randrange(len(ds.test))

        def pick(clf):
            if list(ds.classes) != list(clf.classes):
                raise UserError("This model was trained on other classes than the loaded data set; load its data "
                                "set in the Data tab, or open a picture file instead.")
            return to_hwc(ds.test.images[i]), ds.classes[int(ds.test.labels[i])]

        self._predict(pick, f"test image #{i}")

    def _predict(self, pick: Callable, title: str) -> None:
        path = self._checkpoint_path()
        if path is None:
            self.show_message("There is no trained model yet: press Start, or choose a past run and 'Use its model "
                              "in Try it'.", "warn")
            return
        self.views.setCurrentIndex(2)

        def job():
            clf = self._classifier(path)
            image, truth = pick(clf)
            probs = clf.probabilities(clf.prepare(image))[0].numpy().astype(np.float64)
            return image, truth, probs, clf.classes

        def done(result, error):
            if error is not None:
                self._show_error(error)
                return
            image, truth, probs, classes = result
            self.last_probabilities = probs
            self.try_image.setPixmap(to_pixmap(image, 200))
            order = np.argsort(-probs)[:5]
            rows = [(classes[i], float(probs[i])) for i in order]
            self.try_bars.set_rows(rows, highlight=truth)
            verdict = ""
            if truth is not None:
                verdict = (" — right" if rows[0][0] == truth else " — wrong")
            self.try_truth.setText(f"<b>{title}</b>" + (f": the true class is <b>{truth}</b>{verdict}." if truth
                                                         else ""))
            rest = max(0.0, 1.0 - sum(p for _, p in rows))
            self.try_note.setText(f"The probabilities of all {len(classes)} classes add up to "
                                  f"{100 * probs.sum():.0f}%; the other classes share {100 * rest:.1f}%.")

        self.jobs.run(job, done)

    def _show_error(self, error: BaseException) -> None:
        import traceback

        if isinstance(error, UserError):
            self.show_message(str(error), "error")
        else:
            self.show_message(f"Something went wrong: {type(error).__name__}: {error}".splitlines()[0], "error",
                              "".join(traceback.format_exception(error)))

    # ================================================================== past runs
    def refresh_runs(self) -> None:
        runs = [r for r in list_runs(runs_root()) if r.task == "classify"]
        self._runs = runs
        self.runs_table.setRowCount(len(runs))
        for row, r in enumerate(runs):
            acc = r.best.get("test_acc") if r.best else None
            day, _, clock = r.started.partition("T")
            cells = [f"{day} {clock.replace('-', ':')}".strip(), r.data, r.model,
                     f"{r.epochs_done} of {r.epochs}",
                     f"{100 * acc:.1f}%" if isinstance(acc, float) else "—", r.name]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, str(r.path))
                if col in (3, 4):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.runs_table.setItem(row, col, item)
        self.runs_empty.setVisible(not runs)

    def _selected_run(self, action: Callable[[Path], None]) -> None:
        rows = self.runs_table.selectionModel().selectedRows()
        if not rows:
            self.show_message("Select a run in the list first.", "warn")
            return
        action(Path(self.runs_table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)))

    def select_run(self, run_dir: Path) -> bool:
        for row in range(self.runs_table.rowCount()):
            if Path(self.runs_table.item(row, 0).data(Qt.ItemDataRole.UserRole)) == Path(run_dir):
                self.runs_table.selectRow(row)
                return True
        return False

    def _dataset_for(self, cfg: TrainConfig):
        """The loaded data set when it is the one ``cfg`` trains on, else None."""
        spec = self.state.dataset_spec or {}
        ds = self.state.dataset
        if ds is None or str(spec.get("data") or ds.name) != cfg.data:
            return None
        if (spec.get("data_root") or None) != (cfg.data_root or None) and cfg.data in ("folder",):
            return None
        if (spec.get("image_size") or None) != (cfg.image_size or None):
            return None
        return ds

    def open_run(self, run_dir) -> None:
        """Show a past run: its curves, its model in Try it, and (computed in the background) its results."""
        if self.runner.is_running():
            self.show_message("Wait for the training to end (or stop it) before opening another run.", "warn")
            return
        run_dir = Path(run_dir)
        try:
            cfg = TrainConfig.load(run_dir / "config.json")
        except UserError:
            self.show_message(f"{run_dir} is not a VisionDesk run folder (it has no valid config.json).", "error")
            return
        if cfg.task != "classify":
            self.show_message(f"{run_dir.name} is a {cfg.task} run; open it in its own tab.", "warn")
            return
        epochs = read_metrics(run_dir)
        self.curves.set_history(read_metrics(run_dir, "batches.csv"), epochs)
        self.curves.set_planned_epochs(max(cfg.epochs, len(epochs)))
        self.curves.throttle.flush()
        self._clear_results()
        self.run_dir, self.run_config = run_dir, cfg
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if len(epochs) >= cfg.epochs else 0)
        self.progress.setFormat(f"Past run: {len(epochs)} of {cfg.epochs} epoch(s)")
        self.speed.setText(f"{cfg.model} on {cfg.data}")
        self.select_run(run_dir)
        self.views.setCurrentIndex(0)
        ckpt = run_dir / "best.pt" if (run_dir / "best.pt").is_file() else run_dir / "last.pt"
        if not ckpt.is_file():
            self.show_message(f"Showing {run_dir.name}: it has no saved model, so only its curves.", "info")
            return
        self._set_model_dir(run_dir)
        self.show_message(f"Showing the past run {self._run_link(run_dir)}. Working out its confusion matrix "
                          "on the test images…", "info")
        dataset = self._dataset_for(cfg)

        def job():
            clf = self._classifier(ckpt)
            ds = dataset if dataset is not None else load_data_for(cfg)
            if list(ds.classes) != clf.classes or tuple(ds.input_shape) != clf.input_shape:
                raise UserError(f"The data set {cfg.data} does not match the model of this run any more.")
            probs = clf.probabilities(ds.test.images)
            return evaluation_details(probs, ds.test.labels, clf.classes), ds

        def done(result, error):
            if error is not None:
                if isinstance(error, UserError):
                    self.show_message(f"Showing {run_dir.name}'s curves. Its results need its data set: {error}",
                                      "warn")
                else:
                    self._show_error(error)
                return
            details, ds = result
            self._run_data = {"dataset": ds}
            self._show_details(details, ds, f"Past run {run_dir.name}: best model, {100 * details['accuracy']:.1f}% "
                                            "of the test images right")
            self.show_message(f"Showing the past run {self._run_link(run_dir)}: curves, results and its model in "
                              "Try it.", "ok")

        self.jobs.run(job, done)

    def continue_run(self, run_dir, more_epochs: int = 5) -> None:
        """Continue a past run from its last.pt for ``more_epochs`` more epochs, in the same folder."""
        if self.runner.is_running():
            self.show_message("A training is already running.", "warn")
            return
        run_dir = Path(run_dir)
        try:
            done = len(read_metrics(run_dir))
            cfg, last = resume_config(run_dir, epochs=max(1, done + int(more_epochs)))
        except UserError as exc:
            self.show_message(str(exc), "error")
            return
        self.curves.set_history(read_metrics(run_dir, "batches.csv"), read_metrics(run_dir))
        self._clear_results()
        self.views.setCurrentIndex(0)
        self._begin(cfg, self._dataset_for(cfg), resume_from=last, out=run_dir, keep_curves=True)

    # ================================================================== export
    def export_model(self, run_dir=None, target: str | None = None) -> None:
        """Save a run's best model as a state-dict file (.pt, a copy of best.pt) or as ONNX (.onnx)."""
        from app.engine.predict import resolve_checkpoint

        source = Path(run_dir) if run_dir else self.model_dir
        if source is None:
            self.show_message("There is no model to save yet: train one, or select a past run.", "warn")
            return
        try:
            ckpt = resolve_checkpoint(source)
        except UserError as exc:
            self.show_message(str(exc), "error")
            return
        if target is None:
            start = str(Path(str(self._setting("export_dir", str(Path.home())))) / f"{source.name}.pt")
            target, _ = QFileDialog.getSaveFileName(self, "Save the model", start,
                                                    "PyTorch weights (*.pt);;ONNX model (*.onnx)")
            if not target:
                return
        target_path = Path(target)
        self.state.settings.setValue("train/export_dir", str(target_path.parent))
        if target_path.suffix.lower() == ".onnx":
            def job():
                from app.models.export import export_onnx

                clf = self._classifier(ckpt)
                return export_onnx(clf.model, clf.input_shape, target_path)

            def done(result, error):
                if error is not None:
                    self._show_error(error)
                else:
                    self.show_message(f"Saved the model as ONNX in {target_path} (checked with {result.verified_with}).",
                                      "ok")

            self.show_message(f"Writing {target_path.name} (ONNX)…", "info")
            self.jobs.run(job, done)
            return
        if target_path.suffix.lower() != ".pt":
            target_path = target_path.with_suffix(".pt")
        try:
            tmp = target_path.with_name(target_path.name + ".part")
            shutil.copy2(ckpt, tmp)
            tmp.replace(target_path)
        except OSError as exc:
            self.show_message(f"Could not save {target_path}: {exc.strerror or exc}.", "error")
            return
        self.show_message(f"Saved the model (weights and description) in {target_path}. Load it with "
                          f"'visiondesk evaluate {target_path.name}'.", "ok")

    # ================================================================== closing
    def shutdown(self) -> None:
        self.save_settings()
        if self.runner.is_running():
            self.runner.shutdown()
        self.jobs.wait(10.0)
