"""The Train tab's left column: what will be trained, the settings, Start / Pause / Stop, messages.

It turns the widgets into the values of a ``TrainConfig`` (``values`` / ``set_values``), keeps them in
the app settings between sessions, and puts back a model's suggested settings.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from app.core.errors import UserError
from app.engine.config import TrainConfig
from app.engine.devices import cuda_available
from app.models.registry import uses_cached_features
from app.ui.state import AppState
from app.ui.widgets.messages import MessageArea

OPTIMIZER_NAMES = {"sgd": "SGD with momentum", "adam": "Adam", "adamw": "AdamW"}
SCHEDULE_NAMES = {"none": "Constant", "step": "Step decay", "cosine": "Cosine decay", "onecycle": "One-cycle"}
SCHEDULE_TIPS = {"none": "The same learning rate all the time.",
                 "step": "The learning rate drops to a tenth every few epochs.",
                 "cosine": "The learning rate falls smoothly to zero by the last epoch.",
                 "onecycle": "One-cycle: the learning rate first rises (a warm-up), then falls to almost zero by "
                             "the last epoch. Usually the fastest way to a good model."}
MOMENTUM_TIP = ("Momentum (SGD only): each step keeps part of the previous step's direction, like a ball rolling "
                "downhill, so training moves faster and less jerkily. 0.9 is usual; 0 turns it off.")
WEIGHT_DECAY_TIP = ("Weight decay: pulls every weight a little towards zero at each step, so the model cannot "
                    "lean on a few huge weights. It helps against overfitting (learning the training images by "
                    "heart instead of the classes). 0.0005 is usual; 0 turns it off.")
#: how the settings are named in messages
NAMES = {"epochs": "epochs", "batch_size": "batch size", "optimizer": "optimizer", "lr": "learning rate",
         "momentum": "momentum", "weight_decay": "weight decay", "schedule": "schedule", "augment": "augment"}
DEVICE_NAMES = {"auto": "Automatic", "cpu": "CPU", "cuda": "CUDA GPU"}
NO_CUDA_TIP = "No NVIDIA GPU with CUDA is usable on this computer, so training runs on the CPU."
#: the settings a model suggests (``get_model_info(name).defaults``) and the form shows
MODEL_KEYS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule", "augment")


def read_setting(state: AppState, key: str, default):
    """``train/<key>`` from the app settings, converted to the type of ``default``."""
    v = state.settings.value(f"train/{key}", None)
    if v is None:
        return default
    try:
        if isinstance(default, bool):
            return v if isinstance(v, bool) else str(v).lower() in ("true", "1", "yes")
        return type(default)(v)
    except (TypeError, ValueError):
        return default


def model_defaults(name: str) -> dict[str, Any]:
    """The settings suggested for model ``name`` (TrainConfig's defaults where it suggests none)."""
    from app.models import get_model_info

    d = TrainConfig()
    values = {k: getattr(d, k) for k in MODEL_KEYS}
    try:
        values.update({k: v for k, v in (get_model_info(name).defaults or {}).items() if k in MODEL_KEYS})
    except UserError:
        pass
    return values


class SettingsPage(QWidget):
    """Summary, settings form, Start/Pause/Stop, 'Copy as command' and the tab's message area."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.form_model = ""            # the model whose suggested settings the form started from
        self.running: TrainConfig | None = None   # the configuration of the run in progress
        self.running_name = ""                      # the run folder's name when it is a continued run
        self.setMinimumWidth(330)
        self.setMaximumWidth(380)
        lv = QVBoxLayout(self)
        lv.setContentsMargins(0, 0, 4, 0)

        what = QGroupBox("What will be trained")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        wv = QVBoxLayout(what)
        wv.addWidget(self.summary)
        # the time the run will take, measured in the background before Start (TrainTab fills it in)
        self.estimate = QLabel()
        self.estimate.setObjectName("hint")
        self.estimate.setWordWrap(True)
        self.estimate.hide()
        wv.addWidget(self.estimate)
        lv.addWidget(what)

        box = self.settings_box = QGroupBox("Settings")
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
        self.momentum.setToolTip(MOMENTUM_TIP)
        self.weight_decay = QDoubleSpinBox()
        self.weight_decay.setDecimals(6)
        self.weight_decay.setRange(0.0, 1.0)
        self.weight_decay.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.weight_decay.setToolTip(WEIGHT_DECAY_TIP)
        self.schedule = QComboBox()
        for key, name in SCHEDULE_NAMES.items():
            self.schedule.addItem(name, key)
            self.schedule.setItemData(self.schedule.count() - 1, SCHEDULE_TIPS[key], Qt.ItemDataRole.ToolTipRole)
        self.schedule.setToolTip("How the learning rate changes during training.")
        self.augment = QCheckBox("shift and flip images")
        self.augment.setToolTip(AUGMENT_TIP)
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
        for text, field in (("Epochs", self.epochs), ("Batch size", self.batch_size), ("Optimizer", self.optimizer),
                            ("Learning rate", self.lr), ("Momentum", self.momentum),
                            ("Weight decay", self.weight_decay), ("Schedule", self.schedule),
                            ("Augment", self.augment), ("Device", self.device)):
            label = QLabel(text)
            label.setToolTip(field.toolTip())     # the explanation on the word itself too
            form.addRow(label, field)
        form.addRow("", self.amp)
        # a help line for the schedule chosen (its name alone means nothing to a newcomer)
        self.schedule_help = QLabel()
        self.schedule_help.setObjectName("hint")
        self.schedule_help.setWordWrap(True)
        form.addRow(self.schedule_help)
        self.schedule.currentIndexChanged.connect(self._update_schedule_help)
        self.defaults_button = QPushButton("Model's suggested settings")
        self.defaults_button.setToolTip("Put back the settings suggested for this model.")
        self.defaults_button.setFlat(True)
        self.defaults_button.setObjectName("linkButton")
        self.defaults_button.clicked.connect(self.apply_model_defaults)
        form.addRow("", self.defaults_button)
        self.form = form
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
        lv.addLayout(buttons)
        self.command_button = QPushButton("Copy as command")
        self.command_button.setToolTip("Copy the 'visiondesk train ...' line that trains these settings without "
                                       "the window (for scripts or a bigger computer).")
        lv.addWidget(self.command_button)
        self.message = MessageArea()
        lv.addWidget(self.message)
        lv.addStretch(1)

    # -- values ------------------------------------------------------------------------------------
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
        self._update_schedule_help()

    def apply_model_defaults(self) -> None:
        """The current model's suggested hyperparameters."""
        self.set_values(model_defaults(self.state.model_name))
        self.form_model = self.state.model_name

    # -- persistence -------------------------------------------------------------------------------
    def restore(self) -> None:
        saved_model = str(read_setting(self.state, "model", ""))
        self.form_model = self.state.model_name
        if saved_model != self.state.model_name:
            self.apply_model_defaults()
        else:
            d = TrainConfig()
            self.set_values({k: read_setting(self.state, k, getattr(d, k)) for k in MODEL_KEYS})
        self.set_values({"device": read_setting(self.state, "device", "auto"),
                         "amp": read_setting(self.state, "amp", "off")})

    def save(self) -> None:
        s = self.state.settings
        s.setValue("train/model", self.form_model)
        for k, v in self.values().items():
            s.setValue(f"train/{k}", v)

    # -- state of the widgets ----------------------------------------------------------------------
    def _update_amp(self) -> None:
        cuda = cuda_available() and self.device.currentData() != "cpu"
        self.amp.setEnabled(cuda)
        self.amp.setToolTip("Computes in 16-bit where it is safe: faster and lighter on recent NVIDIA GPUs."
                            if cuda else "Mixed precision is only used on a CUDA GPU.")

    def _update_momentum(self) -> None:
        self.momentum.setEnabled(self.optimizer.currentData() == "sgd")

    def _update_schedule_help(self) -> None:
        key = self.schedule.currentData()
        text = SCHEDULE_TIPS.get(key, "")
        self.schedule_help.setText(text if key == "onecycle" else f"{SCHEDULE_NAMES.get(key, key)}: {text[:1].lower()}"
                                   f"{text[1:]}")
        self.schedule_help.setToolTip("How the learning rate (the size of each correction step) changes while "
                                      "training.")

    def follow_model(self, name: str) -> str:
        """The model became ``name``: take its suggested settings where the form still shows the previous
        model's suggestions, keep what the person typed. Returns what changed and why, in plain words
        ('' when nothing did)."""
        old = model_defaults(self.form_model) if self.form_model else None
        new = model_defaults(name)
        current = self.values()
        changes, kept, values = [], [], {}
        for k in MODEL_KEYS:
            if _same(current[k], new[k]):
                continue
            if old is not None and not _same(current[k], old[k]):
                kept.append(f"{NAMES[k]} {_show(current[k])}")
                continue
            values[k] = new[k]
            changes.append(f"{NAMES[k]} {_show(current[k])} → {_show(new[k])}")
        self.set_values(values)
        self.form_model = name
        parts = []
        if changes:
            parts.append(f"Settings changed to what {name} suggests: {', '.join(changes)}.")
        if kept:
            parts.append(f"Kept what you typed: {', '.join(kept)} (the button 'Model's suggested settings' puts "
                         f"back {name}'s).")
        return " ".join(parts)
    def update_summary(self) -> None:
        """Describe the data set and model the next run uses, or the run that is running (``running``)."""
        cfg = self.running
        if cfg is not None:
            from app.engine.runs import data_display_name

            opts = ", ".join(f"{k}={v}" for k, v in sorted(cfg.model_options.items()))
            model = f"<b>{cfg.model}</b>" + (f" ({opts})" if opts else "")
            where = f" (continuing {self.running_name})" if self.running_name else ""
            self.summary.setText(f"Now training{where}:<br>Data: <b>{data_display_name(cfg.to_dict())}</b><br>"
                                 f"Model: {model}, {cfg.epochs} epochs")
            return
        ds = self.state.dataset
        spec = self.state.dataset_spec or {}
        if ds is None:
            data = "<i>No data set loaded yet</i> — choose one in the Data tab."
        elif hasattr(ds, "encoder"):         # a table (CSV): rows and columns, not images
            data = (f"<b>table {Path(ds.source).name}</b>: {len(ds.train):,} training and {len(ds.test):,} test "
                    f"rows, {ds.num_features} input numbers, {ds.num_classes} classes of <b>{ds.target}</b>")
        else:
            kind = "grey" if ds.channels == 1 else "colour"
            data = (f"<b>{spec.get('data') or ds.name}</b>: {len(ds.train):,} training and {len(ds.test):,} test "
                    f"images, {ds.size[0]}×{ds.size[1]} {kind}, {ds.num_classes} classes")
        opts = ", ".join(f"{k}={v}" for k, v in sorted((self.state.model_options or {}).items()))
        model = f"<b>{self.state.model_name}</b>" + (f" ({opts})" if opts else "")
        cached = uses_cached_features(self.state.model_name, self.state.model_options)
        self.augment.setEnabled(not cached)
        self.augment.setToolTip(AUGMENT_CACHED_TIP if cached else AUGMENT_TIP)
        note = ("<br>Quick training: only the last layer learns, from features of the original pictures "
                "computed once ('Augment' is not used)." if cached else "")
        self.summary.setText(f"Data: {data}<br>Model: {model}{note}<br><span style='color:#777'>Change them in the "
                             f"Data and Model tabs.</span>")


AUGMENT_TIP = "Small random changes to the training images so the model generalises better."
AUGMENT_CACHED_TIP = ("Not used by this model: the pretrained network computes the features of each original "
                      "picture once and only the last layer learns from them, which takes seconds. To train on "
                      "shifted and flipped pictures too, choose 'Also adapt the last blocks' in the Model tab "
                      "(slower).")


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
        except (TypeError, ValueError):
            return False
    return a == b


def _show(v) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
