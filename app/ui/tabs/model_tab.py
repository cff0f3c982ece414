"""The Model tab: pick a model from the zoo, set its options, see its layers for the current data.

The layer table comes from ``app.models.summary.summarize`` on a freshly built model; building a
large model takes seconds, so it runs in a background job (``app.ui.workers.Jobs``) and stale requests are
dropped. Models that do not fit the loaded images (too small, too large, wrong colours) are shown
with the reason and cannot be selected. The choice goes to ``AppState.set_model`` and is kept in
the settings.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.data.base import ImageDataset
from app.core.errors import UserError
from app.models.registry import CLASSIC_DEFAULT, fit_problem
from app.models import (ModelInfo, build_model, default_classifier, list_models,
                        summarize)
from app.models.summary import Summary
from app.ui.state import AppState
from app.ui.widgets.messages import MessageArea
from app.ui.workers import Jobs, describe_error
from app.ui.widgets.model_layers import LayerTable
from app.ui.widgets.model_list import ModelList
from app.data.table import TableDataset
from app.engine.tabular import TABLE_MODELS
from app.models.layers import ACTIVATIONS, LOSSES, OPTION_CHOICES
from app.ui.widgets.layer_calculator import LayerCalculator
from app.ui.tabs.model_weights import PretrainedWeights

TASK = "classify"
TRANSFER_OPTIONS = ("pretrained", "freeze_backbone", "weights_file")
# option name -> (label, explanation)
OPTION_TEXT: dict[str, tuple[str, str]] = {
    "dropout": ("Dropout", "The share of units switched off at random while training. It fights "
                           "over-fitting (learning the training images by heart); 0 turns it off."),
    "conv_dropout": ("Dropout after convolutions", "Like dropout, but after the convolution blocks."),
    "hidden": ("Units in the dense layer", "Size of the last hidden layer. More units can learn more, but "
                                           "make the model larger and slower."),
    "batch_norm": ("Batch normalisation", "Normalise the values after each convolution: training is faster "
                                          "and more reliable."),
    "upscale_to": ("Enlarge small images to", "ImageNet models see best at larger sizes. Smaller images are "
                                              "enlarged to this many pixels before the model (0 = off). Larger "
                                              "is slower."),
    "pretrained": ("Start from ImageNet weights", "Begin with what the model learnt on 1.2 million ImageNet "
                                                  "photos (transfer learning) instead of random numbers."),
    "input_size": ("Picture size the model sees", "Pictures are enlarged or shrunk to this many pixels before the "
                                                  "pretrained layers. Larger sees more detail but is slower; "
                                                  "automatic picks a good size for your pictures."),
    "adapt_last_blocks": ("Also adapt the last blocks", "0 trains only the last layer (fastest: image features "
                                                        "are computed once). 1 or more also trains the last layers "
                                                        "of the pretrained network, with augmentation: a few points "
                                                        "more, but every epoch runs the whole network (much slower)."),
    "freeze_backbone": ("Freeze the pretrained layers", "Train only the last layer: fast, and works with few "
                                                        "images. Needs the ImageNet weights."),
}
# layer choices of the classic models (mlp, classic-cnn, lenet5, cnn4): drop-downs, value -> words shown
OPTION_TEXT.update({
    "norm": ("Normalisation", "Normalise the values after each convolution or dense layer: batch (over the "
                              "batch), layer or instance (over each example), group (over groups of channels)."),
    "activation": ("Activation", "The function after each layer that lets the network learn more than straight "
                                 "lines."),
    "loss": ("Loss", "How the error is measured. Cross-entropy on the raw scores and a LogSoftmax layer with "
                     "the negative log-likelihood (NLL) give the same numbers; the lessons write it both ways."),
})
CHOICE_TEXT: dict[str, dict[str, str]] = {
    "norm": {"none": "none", "batch": "batch normalisation", "layer": "layer normalisation",
             "instance": "instance normalisation", "group": "group normalisation"},
    "activation": {k: v[0] for k, v in ACTIVATIONS.items()},
    "loss": {k: v.replace("log-softmax", "LogSoftmax") for k, v in LOSSES.items()},
}
TABLE_PROBLEM = "is made for pictures; a table (CSV file) trains " + ", ".join(TABLE_MODELS) + "."
_K_OPTIONS = "model/options/"
_BUSY_DELAY_MS = 150
_DEBOUNCE_MS = 200


class _Stale(Exception):
    """A summary request that a newer one replaced before it started."""


def _dataset_title(ds: ImageDataset, spec: dict) -> str:
    names = {"fashion-mnist-sample": "Fashion-MNIST sample", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST",
             "cifar10": "CIFAR-10"}
    if ds.name == "folder":
        return f"the folder “{Path(spec.get('data_root') or ds.source).name}”"
    return names.get(ds.name, ds.name)


class ModelTab(PretrainedWeights, QWidget):
    """Choose the model the Train tab trains, with its options; shows its layers for the current data."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.settings = state.settings
        self.infos: dict[str, ModelInfo] = {i.name: i for i in list_models(TASK)}
        self.current_name: str = ""
        self.options: dict[str, Any] = {}
        self.current_summary: Summary | None = None
        self.summary_error: str = ""
        self._cache: dict[tuple, Summary] = {}
        self._wanted: tuple | None = None
        self._summary_pending = False
        self._downloading = False
        self._before_auto: str | None = None     # the model chosen before a folder switched to the default
        self._chosen_for_folder = False
        self._option_widgets: dict[str, QWidget] = {}
        self._jobs = Jobs(self, serial=True)
        self._debounce = QTimer(self, singleShot=True, interval=_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._request_summary)
        self._busy_timer = QTimer(self, singleShot=True, interval=_BUSY_DELAY_MS)
        self._busy_timer.timeout.connect(self._show_working)
        self._build_ui()
        self.model_list.set_models([(i.name, i.description) for i in self.infos.values()])
        state.datasetChanged.connect(self._on_dataset)
        state.modelChanged.connect(self._on_state_model)
        name = state.model_name if state.model_name in self.infos else next(iter(self.infos))
        self._update_data_label()
        self._update_problems()
        self._choose(name, self._saved_options(name), announce=True)
        self._follow_table()

    # ------------------------------------------------------------------------------- layout --
    def _build_ui(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 10)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        outer.addWidget(split)

        zoo = QGroupBox("Models")
        zcol = QVBoxLayout(zoo)
        intro = QLabel("Pick the model to train. Simple models train fast; larger ones can learn more.")
        intro.setWordWrap(True)
        intro.setStyleSheet("color: #666666;")
        zcol.addWidget(intro)
        self.model_list = ModelList()
        self.model_list.modelChosen.connect(self._on_list_choice)
        self.model_list.problemClicked.connect(self._on_problem_clicked)
        zcol.addWidget(self.model_list, 1)
        zoo.setMinimumWidth(300)
        split.addWidget(zoo)

        right = QWidget()
        rcol = QVBoxLayout(right)
        rcol.setContentsMargins(6, 0, 0, 0)
        rcol.setSpacing(8)
        self.title = QLabel()
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.title.setFont(font)
        head = QHBoxLayout()
        head.addWidget(self.title)
        self.use_label = QLabel()
        head.addWidget(self.use_label)
        head.addStretch(1)
        rcol.addLayout(head)
        self.description = QLabel()
        self.description.setWordWrap(True)
        rcol.addWidget(self.description)
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        self.data_label.setStyleSheet("color: #444444;")
        rcol.addWidget(self.data_label)

        boxes = QHBoxLayout()
        self.options_box = QGroupBox("Settings")
        self.options_form = QFormLayout(self.options_box)
        self.options_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.options_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        boxes.addWidget(self.options_box, 1)
        self.transfer_box = QGroupBox("Transfer learning")
        tcol = QVBoxLayout(self.transfer_box)
        self.pretrained_check = QCheckBox(OPTION_TEXT["pretrained"][0])
        self.pretrained_check.setToolTip(OPTION_TEXT["pretrained"][1])
        self.pretrained_check.toggled.connect(lambda on: self._set_option("pretrained", bool(on)))
        tcol.addWidget(self.pretrained_check)
        wrow = QHBoxLayout()
        wrow.setContentsMargins(22, 0, 0, 0)
        self.weights_label = QLabel()
        self.weights_label.setWordWrap(True)
        wrow.addWidget(self.weights_label, 1)
        self.download_button = QPushButton("Download weights")
        self.download_button.setToolTip("Download the ImageNet weights (needs an internet connection).")
        self.download_button.clicked.connect(self.download_weights)
        wrow.addWidget(self.download_button)
        tcol.addLayout(wrow)
        frow = QHBoxLayout()
        frow.setContentsMargins(22, 0, 0, 0)
        self.own_file_button = QPushButton("Use a weights file I have…")
        self.own_file_button.setToolTip("Behind a firewall: choose torchvision's ImageNet .pth file for this model "
                                        "(read safely: no code in it is run).")
        self.own_file_button.clicked.connect(self.choose_weights_file)
        frow.addWidget(self.own_file_button)
        frow.addStretch(1)
        tcol.addLayout(frow)
        self.download_progress = QProgressBar()
        self.download_progress.setRange(0, 0)
        self.download_progress.setMaximumHeight(12)
        self.download_progress.setTextVisible(False)
        self.download_progress.hide()
        tcol.addWidget(self.download_progress)
        self.freeze_check = QCheckBox(OPTION_TEXT["freeze_backbone"][0])
        self.freeze_check.setToolTip(OPTION_TEXT["freeze_backbone"][1])
        self.freeze_check.toggled.connect(lambda on: self._set_option("freeze_backbone", bool(on)))
        tcol.addWidget(self.freeze_check)
        tcol.addStretch(1)
        boxes.addWidget(self.transfer_box, 1)
        rcol.addLayout(boxes)

        self.messages = MessageArea()
        rcol.addWidget(self.messages)

        layers = QGroupBox()      # titled by its tab
        lcol = QVBoxLayout(layers)
        self.totals = QLabel()
        self.totals.setWordWrap(True)
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lcol.addWidget(self.totals)
        self.table = LayerTable()
        lcol.addWidget(self.table, 1)
        self.lower_tabs = QTabWidget()
        self.lower_tabs.addTab(layers, "Layers")
        self.calculator = LayerCalculator()
        self.lower_tabs.addTab(self.calculator, "Layer calculator")
        rcol.addWidget(self.lower_tabs, 1)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 5)
        split.setSizes([360, 860])

    # ------------------------------------------------------------------------------ options --
    def _saved_options(self, name: str) -> dict[str, Any]:
        raw = self.settings.value(_K_OPTIONS + name, "")
        try:
            saved = json.loads(raw) if raw else {}
        except (TypeError, ValueError):
            saved = {}
        if name == self.state.model_name and self.state.model_options:
            saved = {**saved, **self.state.model_options}
        return saved if isinstance(saved, dict) else {}

    def _clean_options(self, name: str, options: dict[str, Any]) -> dict[str, Any]:
        """The model's defaults overridden by the known ``options`` that have the right type."""
        defaults = self.infos[name].options
        out = dict(defaults)
        for key, value in (options or {}).items():
            if key not in defaults:
                continue
            kind = type(defaults[key])
            if kind is bool:
                if isinstance(value, bool):
                    out[key] = value
            elif kind in (int, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = kind(value)
            elif kind is str and isinstance(value, str):
                out[key] = value
        if "pretrained" in out and out["pretrained"] and not self._weights_available(name, out.get("weights_file", "")):
            out["pretrained"] = False
        if "freeze_backbone" in out and not out.get("pretrained", False):
            out["freeze_backbone"] = False
        return out

    def _build_option_widgets(self) -> None:
        while self.options_form.rowCount():
            self.options_form.removeRow(0)
        self._option_widgets = {}
        info = self.infos[self.current_name]
        general = [k for k in info.options if k not in TRANSFER_OPTIONS]
        for key in general:
            value = self.options[key]
            label, tip = OPTION_TEXT.get(key, (key.replace("_", " ").capitalize(), ""))
            widget = self._option_widget(key, value)
            widget.setToolTip(tip)
            text = QLabel(label + ":")
            text.setToolTip(tip)
            self.options_form.addRow(text, widget)
            self._option_widgets[key] = widget
        if not general:
            note = QLabel("This model has no settings to choose.")
            note.setStyleSheet("color: #666666;")
            self.options_form.addRow(note)
        self.options_box.setVisible(True)
        has_transfer = "pretrained" in info.options
        self.transfer_box.setVisible(has_transfer)
        if has_transfer:
            self._update_transfer()

    def _option_widget(self, key: str, value: Any) -> QWidget:
        if key in OPTION_CHOICES and isinstance(value, str):      # a layer choice: a drop-down
            w = QComboBox()
            for choice in OPTION_CHOICES[key]:
                w.addItem(CHOICE_TEXT.get(key, {}).get(choice, choice), choice)
            w.setCurrentIndex(max(0, w.findData(value)))
            w.currentIndexChanged.connect(lambda _i, k=key, c=w: self._set_option(k, str(c.currentData())))
            w.setMinimumWidth(120)
            return w
        if isinstance(value, bool):
            w = QCheckBox()
            w.setChecked(value)
            w.toggled.connect(lambda on, k=key: self._set_option(k, bool(on)))
        elif isinstance(value, int):
            w = QSpinBox()
            if key in ("upscale_to", "input_size"):
                w.setRange(0, 512)
                w.setSingleStep(16 if key == "upscale_to" else 32)
                w.setSuffix(" pixels")
                w.setSpecialValueText("off (keep the size)" if key == "upscale_to" else "automatic")
            elif key == "adapt_last_blocks":
                w.setRange(0, 8)
                w.setSpecialValueText("none")
            else:
                w.setRange(1, 16384)
                w.setSingleStep(64 if value >= 64 else 1)
            w.setValue(value)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v, k=key: self._set_option(k, int(v)))
        elif isinstance(value, float):
            w = QDoubleSpinBox()
            if "dropout" in key:
                w.setRange(0.0, 0.95)
                w.setSingleStep(0.05)
                w.setDecimals(2)
            else:
                w.setRange(0.0, 1e6)
                w.setDecimals(4)
            w.setValue(value)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v, k=key: self._set_option(k, float(v)))
        else:
            w = QLineEdit(str(value))
            w.editingFinished.connect(lambda k=key, e=w: self._set_option(k, e.text()))
        w.setMinimumWidth(120)
        return w

    def _set_option(self, key: str, value: Any) -> None:
        if not self.current_name or self.options.get(key) == value:
            return
        self.options[key] = value
        if key == "pretrained" and not value:
            self.options["freeze_backbone"] = False
        self.options = self._clean_options(self.current_name, self.options)
        if "pretrained" in self.options:
            self._update_transfer()
        self._announce()
        self._debounce.start()

    # ------------------------------------------------------------------------------ choices --
    def select_model(self, name: str, options: dict[str, Any] | None = None) -> bool:
        """Choose ``name`` (as if clicked); False when it is unknown or does not fit the data."""
        if name not in self.infos:
            return False
        problem = self.model_list.problem(name)
        if problem:
            self._on_problem_clicked(name, problem)
            return False
        self._choose(name, options if options is not None else self._saved_options(name), announce=True)
        return True

    @Slot(str)
    def _on_list_choice(self, name: str) -> None:
        ds = self.state.dataset
        if ds is not None and ds.name == "folder":
            self._chosen_for_folder = True       # the person's own choice: loading a folder keeps it
        self._before_auto = None
        if name != self.current_name:
            self._choose(name, self._saved_options(name), announce=True)

    @Slot(str, str)
    def _on_problem_clicked(self, name: str, problem: str) -> None:
        self.messages.show_message(f"{name} cannot be used with the loaded images: {problem}", "error")
        self._show_current_problem(add=True)

    @Slot(str, dict)
    def _on_state_model(self, name: str, options: dict) -> None:
        """Someone else chose the model (e.g. a past run was reopened)."""
        if name not in self.infos:
            return
        cleaned = self._clean_options(name, options)
        if name == self.current_name and cleaned == self.options:
            return
        self._choose(name, cleaned, announce=False)

    def _choose(self, name: str, options: dict[str, Any], announce: bool) -> None:
        info = self.infos[name]
        self.current_name = name
        self.options = self._clean_options(name, options)
        self.model_list.select(name)
        self.title.setText(name)
        self.description.setText(info.description)
        self._build_option_widgets()
        self.messages.clear()
        self._show_current_problem()
        if announce and not self.model_list.problem(name):
            self._announce()
        self._update_use_label()
        self._request_summary()

    def _announce(self) -> None:
        """Tell the rest of the app (and the settings) which model and options are chosen.

        The state gets only the options changed from the defaults, so a run's config and the Train
        tab's summary stay short; the settings keep all of them."""
        if self.model_list.problem(self.current_name):
            return
        self.settings.setValue(_K_OPTIONS + self.current_name, json.dumps(self.options))
        changed = self.changed_options()
        if self.state.model_name != self.current_name or self.state.model_options != changed:
            self.state.set_model(self.current_name, changed)

    def changed_options(self) -> dict[str, Any]:
        """The options that differ from the model's defaults (what the run config records)."""
        defaults = self.infos[self.current_name].options
        return {k: v for k, v in self.options.items() if defaults.get(k) != v}

    def _update_use_label(self) -> None:
        if self.model_list.problem(self.current_name):
            self.use_label.setText("does not fit the loaded images")
            self.use_label.setStyleSheet("color: #a8322b;")
        elif self.state.model_name == self.current_name:
            self.use_label.setText("✓ the Train tab trains this model")
            self.use_label.setStyleSheet("color: #2e7d32;")
        else:
            self.use_label.setText("")

    def _show_current_problem(self, add: bool = False) -> None:
        problem = self.model_list.problem(self.current_name)
        if problem:
            text = (f"The chosen model, {self.current_name}, does not fit the loaded images: {problem} "
                    f"Pick a model that is not greyed out.")
            if add:
                self.messages.add(text, "warn")
            else:
                self.messages.show_message(text, "error")

    # --------------------------------------------------------------------------------- data --
    @Slot(object)
    def _on_dataset(self, _ds) -> None:
        self._update_data_label()
        self._update_problems()
        switched = self._follow_data_default()
        self.model_list.select(self.current_name)
        self.messages.clear()
        if switched:
            self.messages.show_message(switched, "info")
        self._show_current_problem()
        self._update_use_label()
        self._request_summary()
        self._follow_table()

    def _follow_table(self) -> None:
        """A table was loaded while a picture model is chosen: choose logistic regression (and say so)."""
        ds = self.state.dataset
        self.calculator.set_shape_source(None if ds is None else (ds.num_features,) if isinstance(ds, TableDataset)
                                         else tuple(ds.input_shape))
        if isinstance(ds, TableDataset) and self.current_name not in TABLE_MODELS:
            before = self.current_name
            self._choose("logistic", self._saved_options("logistic"), announce=True)
            self.messages.show_message(f"A table is loaded, so the model is now logistic regression ({before} is "
                                       f"made for pictures). mlp trains on tables too.", "info")

    def _follow_data_default(self) -> str:
        """Image folders start on the pretrained default (``default_classifier``) when the model is still
        the classic default (a model the person picked stays); the lessons' data sets go back to the
        model chosen before. Returns what changed, in words ("" when nothing did)."""
        ds = self.state.dataset
        if ds is None:
            return ""
        wanted = default_classifier(ds.name)
        if ds.name == "folder":
            if (self._chosen_for_folder or self.current_name != CLASSIC_DEFAULT or wanted not in self.infos
                    or self.model_list.problem(wanted)):
                return ""
            self._before_auto = self._before_auto or self.current_name
            self._choose(wanted, self._saved_options(wanted), announce=True)
            return (f"For your own pictures the Train tab uses {wanted}: a network pretrained on ImageNet that "
                    f"comes with VisionDesk, so a good model takes minutes. Pick another model here any time.")
        back = self._before_auto
        if back and back in self.infos and self.current_name == default_classifier("folder") \
                and not self.model_list.problem(back):
            self._before_auto = None
            self._choose(back, self._saved_options(back), announce=True)
            return f"Back to {back} for {ds.name}."
        return ""

    def _update_data_label(self) -> None:
        ds = self.state.dataset
        if ds is None:
            self.data_label.setText("No data set is loaded yet (see the Data tab).")
            return
        if isinstance(ds, TableDataset):
            self.data_label.setText(f"Input: {ds.num_features} numbers per row (a table) · {ds.num_classes} classes "
                                    f"of {ds.target} · from the table “{Path(ds.source).name}” (Data tab)")
            return
        c, h, w = ds.input_shape
        colour = "grey" if c == 1 else "colour"
        self.data_label.setText(f"Input: {c} × {h} × {w} ({colour}, {w} × {h} pixels) · "
                                f"{ds.num_classes} classes · from {_dataset_title(ds, self.state.dataset_spec)} "
                                f"(Data tab)")

    def _update_problems(self) -> None:
        ds = self.state.dataset
        if ds is None:
            self.model_list.set_problems({})
            return
        if isinstance(ds, TableDataset):
            self.model_list.set_problems({n: None if n in TABLE_MODELS else f"{n} {TABLE_PROBLEM}" for n in self.infos})
            return
        c, h, w = ds.input_shape
        self.model_list.set_problems({n: fit_problem(i, c, (h, w)) for n, i in self.infos.items()})

    # ----------------------------------------------------------------------------- summary --
    def _key(self) -> tuple | None:
        ds = self.state.dataset
        if ds is None or not self.current_name:
            return None
        return (self.current_name, tuple(sorted(self.options.items())), ds.input_shape, ds.num_classes)

    @Slot()
    def _request_summary(self) -> None:
        self._debounce.stop()
        key = self._key()
        self._wanted = key
        self.summary_error = ""
        if key is None:
            self._show_summary(None, "Load a data set in the Data tab to see this model's layers.")
            return
        if self.model_list.problem(self.current_name):
            self._show_summary(None, "No layers to show: this model does not fit the loaded images.")
            return
        if key in self._cache:
            self._show_summary(self._cache[key])
            return
        name, options, shape, classes = key[0], dict(key[1]), key[2], key[3]

        def job():
            if self._wanted != key:       # a newer request came in while this one waited
                raise _Stale()
            try:
                model = build_model(name, shape[0], shape[1:], classes, **options)
                return key, summarize(model, shape), None
            except Exception as exc:  # reported with its key, so a stale failure is ignored
                return key, None, exc

        self._summary_pending = True
        self._jobs.run(job, self._on_summary_done)
        self._busy_timer.start()

    @Slot()
    def _show_working(self) -> None:
        if self._summary_pending:
            self.totals.setText(f"Working out the layers of {self.current_name}…")
            self.table.setEnabled(False)

    def _show_summary(self, summary: Summary | None, empty_text: str = "") -> None:
        self._busy_timer.stop()
        self.current_summary = summary
        self.table.setEnabled(True)
        self.table.set_summary(summary)
        if summary is None:
            self.totals.setText(empty_text)
            return
        total, trainable = summary.total_params, summary.trainable_params
        if trainable == total:
            params = f"<b>{total:,}</b> parameters, all trainable"
        else:
            params = (f"<b>{total:,}</b> parameters, <b>{trainable:,}</b> trainable "
                      f"(the other {total - trainable:,} are frozen)")
        out = summary.output_shape
        outputs = out[-1] if out and not isinstance(out[0], tuple) else "several"
        self.totals.setText(f"{params} · size <b>{summary.size_mb:,.2f} MB</b> · "
                            f"{len(summary.rows)} layers · {outputs} outputs (one score per class)")

    def _on_summary_done(self, result, error) -> None:
        self._summary_pending = False
        if error is not None:        # only _Stale: build errors come back as results
            return
        key, summary, exc = result
        if summary is not None:
            self._cache[key] = summary
        if key != self._wanted:
            return
        if summary is not None:
            self._show_summary(summary)
            return
        if isinstance(exc, UserError):
            text = f"{self.current_name} cannot be used with these images and settings: {exc}"
        elif isinstance(exc, MemoryError):
            text = f"Not enough memory to build {self.current_name} for these images; choose smaller images."
        else:
            text = (f"Something unexpected went wrong while building {self.current_name}. Try another model "
                    f"or image size; 'Copy details' gives the technical report.")
        self.summary_error = text
        details = "" if isinstance(exc, UserError) else describe_error(exc)[1]
        self.messages.show_message(text, "error", details)
        self._show_summary(None, "No layers to show (see the message above).")

    # ------------------------------------------------------------------------------ public --
    def is_busy(self) -> bool:
        """True while something worth waiting for runs (a weights download); a layer table being worked
        out is not: closing the window just drops it."""
        return self._downloading

    def working(self) -> bool:
        """True while any background job of the tab (a layer table, a download) is still running."""
        return self._jobs.is_busy()

    def shutdown(self) -> None:
        self._debounce.stop()
        self._busy_timer.stop()
        self._wanted = None          # queued summaries give up at once
        self._jobs.shutdown()
        self.state.set_busy("model", "")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.current_name and "pretrained" in self.infos[self.current_name].options:
            self._update_transfer()   # the weights may have been downloaded meanwhile
