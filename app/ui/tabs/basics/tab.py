"""The Basics tab: watch gradient descent work, from a line to a spiral.

Three experiments (``app.engine.basics``), each a task of the shared Trainer run through
a ``TrainingSession`` (worker thread; no training loop here):

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

import html
import re
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame, QGroupBox,
                               QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QSpinBox,
                               QStackedWidget, QVBoxLayout, QWidget)

from app.core.errors import UserError
from app.engine import basics as B
from app.engine.events import BatchEnd, EpochEnd, Failed, Finished
from app.ui.session import TrainingSession
from app.ui.state import AppState
from app.ui.tabs.basics.pages import LinePage, SinePage, SpiralPage, _Page
from app.ui.tabs.basics.plots import GREY_TEXT
from app.ui.tabs.basics.texts import CODE, EXPLAIN, LR_PRESETS, SPEEDS, optimizer_code
from app.ui.widgets.messages import MessageArea
from app.ui.widgets.throttle import RedrawThrottle


class BasicsTab(QWidget):
    """Gradient descent, seen: fit a line, fit a sine, classify a spiral."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.session = TrainingSession(self, state=state, busy_key="basics", unit="step")
        self.session.messages.update(preparing="", stopping="")
        self.session.on(BatchEnd, self._on_batches, batched=True)
        self.session.on(EpochEnd, self._on_epoch)
        self.session.on_done(self._on_finished)
        self.experiment = "line"
        self.last_result: Finished | Failed | None = None
        self._running_settings: B.BasicsSettings | None = None
        self._reset_when_done = False
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
        # the course's line lesson: summed squared error, uniform noise, and its exact setting in one click
        self.noise_kind_combo = QComboBox()
        self.noise_kind_combo.addItem("normal", "normal")
        self.noise_kind_combo.addItem("uniform", "uniform")
        self.noise_kind_combo.setToolTip("Normal: noise × a bell curve around 0 (the noise is its spread). "
                                         "Uniform: noise × a number between 0 and 1, as the course's np.random.rand.")
        noise_row = QHBoxLayout()
        noise_row.setContentsMargins(0, 0, 0, 0)
        noise_row.addWidget(self.noise_spin)
        noise_row.addWidget(self.noise_kind_combo, 1)
        lf.addRow("Noise:", noise_row)
        self.loss_combo = QComboBox()
        for key, text in B.LOSSES.items():
            self.loss_combo.addItem(text, key)
        self.loss_combo.setToolTip("Mean: the average squared error. Summed (as the course's lesson): the total "
                                   "over all 10,000 points, so every gradient is 10,000 times larger.")
        lf.addRow("Loss:", self.loss_combo)
        self.preset_button = QPushButton("The course's exact setting")
        self.preset_button.setToolTip(B.PRESETS["line-lesson"][0])
        self.preset_button.clicked.connect(lambda: self.apply_preset("line-lesson"))
        self.preset_nan_button = QPushButton("… with learning rate 1e-6")
        self.preset_nan_button.setToolTip("The course's setting with a learning rate 100 times larger: see the "
                                          "loss become NaN, and why.")
        self.preset_nan_button.clicked.connect(lambda: self.apply_preset("line-lesson", lr=1e-6))
        lf.addRow("Course:", self.preset_button)
        lf.addRow("", self.preset_nan_button)
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

        self.message = MessageArea()
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
        rl.addWidget(self.message)
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
        for w in (self.arms_combo, self.activation_combo, self.noise_kind_combo, self.loss_combo):
            w.currentIndexChanged.connect(self._on_setting)
        self.lr_combo.currentTextChanged.connect(self._on_lr_text)
        self._controls = [self.settings_box, train_box, *self.experiment_buttons.values()]
        self._set_running(False)

    # ------------------------------------------------------------------ state of the controls
    @property
    def page(self) -> _Page:
        return self.pages[self.experiment]

    def is_busy(self) -> bool:
        return self.session.is_running()

    def shutdown(self) -> None:
        self._reset_when_done = False
        self.session.shutdown()

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
            if self.loss_combo.currentData() == "sum":      # the course's summed squared error
                code = code.replace(".mean()", ".sum()").replace("F.mse_loss(model(x), y)",
                                                                 'F.mse_loss(model(x), y, reduction="sum")')
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
            noise_kind=self.noise_kind_combo.currentData(), loss=self.loss_combo.currentData(),
            degree=self.degree_spin.value(), arms=self.arms_combo.currentData(),
            hidden_layers=self.hidden_spin.value(), width=self.width_spin.value(),
            activation=self.activation_combo.currentData()).validate()

    def _show_message(self, text: str, level: str = "info", fix: tuple[str, Any] | None = None) -> None:
        """A message under the buttons; ``text`` is rich text (the tab's own words may use <b>)."""
        self.message.show_message(text, level, fix=fix)

    def apply_preset(self, name: str, lr: float | None = None) -> None:
        """Set the controls to a preset of ``app.engine.basics.PRESETS`` (``lr``: another learning rate), as
        fast as possible, and say what it shows."""
        if self.is_busy():
            return
        s = B.preset(name)
        if lr is not None:
            s = s.replace(lr=lr)
        self._select(s.experiment)
        self._loading = True
        try:
            self.method_combo.setCurrentIndex(self.method_combo.findData(s.method))
            self.standardise_check.setChecked(s.standardise)
            self.noise_spin.setValue(s.noise)
            self.noise_kind_combo.setCurrentIndex(self.noise_kind_combo.findData(s.noise_kind))
            self.loss_combo.setCurrentIndex(self.loss_combo.findData(s.loss))
            self.optimizer_combo.setCurrentIndex(self.optimizer_combo.findData(s.optimizer))
            self.lr_combo.setCurrentText(B._num(s.lr))
            self.steps_spin.setValue(int(s.steps))
            self.seed_spin.setValue(int(s.seed))
            self.speed_combo.setCurrentIndex(self.speed_combo.findData(0.0))    # 50,000 steps: flat out
        finally:
            self._loading = False
        self._update_optimizer_enabled()
        self.reset()
        what = B.PRESETS[name][0]
        if lr is not None:
            what = (f"The course's setting with a learning rate of {B._num(lr)} instead of {B._num(B.preset(name).lr)}. "
                    f"Press <b>Start</b>: the loss soon becomes NaN (“not a number”), and the "
                    f"message says why.")
        else:
            what += " Press <b>Start</b>: it takes a few seconds."
        self._show_message(what)

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
        self.session.start(lambda callbacks, control: B.make_basics_trainer(settings, callbacks=callbacks,
                                                                            control=control),
                           title=f"basics: {B.EXPERIMENTS[settings.experiment].lower()}", epochs=settings.steps)
        self._set_running(True)
        self._show_message(f"Running {settings.steps} steps… Watch the loss curve fall. Stop ends the run early.")

    @Slot()
    def stop(self) -> None:
        self.session.stop()

    @Slot()
    def reset(self) -> None:
        """Back to the start: clear the plots and draw the data (stops a run first)."""
        if self.is_busy():
            self._reset_when_done = True
            self.session.stop()
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
    def _on_batches(self, events: list[BatchEnd]) -> None:
        self.page.add_steps([ev.step for ev in events], [ev.metrics for ev in events])
        self.throttle.mark()

    def _on_epoch(self, ev: EpochEnd) -> None:
        self.page.snapshot(ev.details)
        self.throttle.mark()

    def _on_finished(self, result) -> None:
        self.last_result = result
        self._set_running(False)
        self.throttle.flush()
        self._redraw()
        if self._reset_when_done:
            self._reset_when_done = False
            self.reset()
            return
        s = self._running_settings or self.settings()
        done = int(self.page.steps.view[-1]) if len(self.page.steps) else 0
        v = B.verdict(s, result, steps_done=done)
        fixes = {"standardise": self._fix_standardise, "smaller-lr": self._fix_smaller_lr}
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(v.text, quote=False))
        self._show_message(text, v.level, (B.Verdict.FIX_LABELS[v.fix], fixes[v.fix]) if v.fix else None)

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
