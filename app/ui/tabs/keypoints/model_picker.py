"""The Model box of the Keypoints tab: which keypoint model (shipped or trained) and on which device."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.core.errors import UserError
from app.ui.state import AppState
from app.ui.widgets.combo import ElidedComboBox
from app.ui.workers import Jobs
from app.vision import NME_HELP, ModelChoice, live_default
from app.vision.speed import MODEL_BUDGET_MS, speed_words
from app.vision.pipeline import live_torch_threads

NO_MODEL = "No keypoint model yet (train one)"
MAX_WIDTH = 500


def device_text(device) -> str:
    from app.engine.devices import describe_device

    if device.type == "cpu":
        n = live_torch_threads()
        return f"CPU ({n} thread{'s' if n > 1 else ''} for the live view)"
    return describe_device(device)


class ModelPicker(QGroupBox):
    """``combo`` (data: the model key for ``load_keypoint_model``) and ``device_combo``. ``model_changed``
    and ``device_changed`` are emitted when the person picks another one."""

    model_changed = Signal()
    device_changed = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__("Model", parent)
        from app.engine.devices import cuda_available, pick_device

        self.state = state
        self.combo = ElidedComboBox()
        # the label says what the error figure means: the whole text shows where there is room (never
        # "NME 4.2"); in a narrow window it is shortened in the middle with '…' and whole in the tooltip
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setToolTip(NME_HELP)
        self.combo.currentIndexChanged.connect(lambda _i: self.model_changed.emit())
        self.combo.currentIndexChanged.connect(lambda _i: self._show_speed())
        # the model's time per face here, measured once (app.vision.speed), under the picker
        self.speed_label = QLabel("")
        self.speed_label.setObjectName("hint")
        self.speed_label.setWordWrap(True)
        self.speed_label.setToolTip(f"The live view opens with the most accurate shipped model that takes at "
                                    f"most {MODEL_BUDGET_MS:.0f} ms per face on this computer.")
        # a model the person picked stays picked; until then the picker follows the speed-aware default
        self.picked_by_person = False
        self.combo.activated.connect(lambda _i: setattr(self, "picked_by_person", True))
        self.jobs = Jobs(self)
        self._choices: list[ModelChoice] = []
        self._timing_tried = False
        self.refresh_button = QToolButton()
        self.refresh_button.setText("Refresh")
        self.refresh_button.setToolTip("List the shipped models and the best.pt of every keypoint run again")
        self.device_combo = QComboBox()
        self.device_combo.addItem("Automatic", "auto")
        self.device_combo.addItem("CPU", "cpu")
        if cuda_available():
            self.device_combo.addItem("GPU (CUDA)", "cuda")
        self.device_label = QLabel(device_text(pick_device("auto")))
        self.device_label.setWordWrap(True)
        self.device_combo.currentIndexChanged.connect(self._on_device)
        drow = QHBoxLayout()
        drow.addWidget(QLabel("Device"))
        drow.addWidget(self.device_combo, 1)
        drow.addWidget(self.refresh_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.combo)
        lay.addWidget(self.speed_label)
        lay.addLayout(drow)
        lay.addWidget(self.device_label)

    def set_choices(self, choices: list[ModelChoice]) -> None:
        """Fill the picker. The person's own pick is kept while it is offered; otherwise the live default is
        selected: the most accurate shipped model quick enough on this computer (``app.vision.speed``)."""
        current = self.combo.currentData()
        self._choices = list(choices)
        self.combo.blockSignals(True)
        self.combo.clear()
        for c in choices:
            self.combo.addItem(c.label, c.key)
            tip = f"{c.key}\n\n{NME_HELP}" if c.rank_nme is not None else c.key
            if c.new_nme is not None:
                tip += (f"\n\nOn faces of people it never saw: {100 * c.new_nme:.1f}%"
                        + (f"; on the test faces: {100 * c.nme:.1f}%" if c.nme is not None else "") + ".")
            elif c.kind == "shipped" and c.nme is not None:
                tip += ("\n\nMeasured on test faces of people it also trained on, which flatters it: on a new "
                        "face (yours) expect a higher error.")
            if c.ms is not None:
                tip += (f"\n\nTime per face on this computer: {c.ms:.1f} ms (the live view opens with the most "
                        f"accurate shipped model that takes at most {MODEL_BUDGET_MS:.0f} ms).")
            self.combo.setItemData(self.combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        if self.combo.count() == 0:
            self.combo.addItem(NO_MODEL, None)
        keep = self.combo.findData(current) if current and self.picked_by_person else -1
        default = live_default(choices)
        i = keep if keep >= 0 else self.combo.findData(default) if default else -1
        self.combo.setCurrentIndex(max(i, 0))
        self.combo.blockSignals(False)
        if self.combo.currentData() != current:
            self.model_changed.emit()
        self._show_speed()
        self._fit()

    def _show_speed(self) -> None:
        ms = next((c.ms for c in self._choices if c.key == self.combo.currentData()), None)
        words = speed_words(ms)
        self.speed_label.setText(f"Speed: {words}." if words else "")
        self.speed_label.setVisible(bool(words))

    def time_models_once(self, on_done) -> bool:
        """Time the shipped models not yet timed on this computer, in the background (a second or two,
        once per computer); ``on_done()`` runs on the GUI thread afterwards. False when nothing to time."""
        from app.vision.speed import measure_shipped

        missing = [c.key for c in self._choices if c.kind == "shipped" and c.ms is None]
        if not missing or self.jobs.is_busy() or self._timing_tried:
            return False
        self._timing_tried = True       # a model that cannot be loaded is not loaded again at every visit
        self.jobs.run(lambda: measure_shipped(missing), lambda _result, _error: on_done())
        return True

    def shutdown(self) -> None:
        self.jobs.shutdown(10000)

    def _fit(self) -> None:
        """Wide enough for the longest name in full (up to MAX_WIDTH; the tab makes room for it)."""
        self.combo.setMinimumWidth(min(self.combo.sizeHint().width(), MAX_WIDTH))

    def add_model(self, key: str, label: str | None = None) -> None:
        """Offer a checkpoint (or shipped name) in the picker and select it."""
        i = self.combo.findData(key)
        if i < 0:
            self.combo.addItem(label or Path(key).parent.name or key, key)
            i = self.combo.count() - 1
        self.picked_by_person = True           # a model the person trained or opened stays selected
        self.combo.setCurrentIndex(i)
        self._fit()

    def model(self) -> str | None:
        return self.combo.currentData()

    def device(self) -> str:
        return self.device_combo.currentData() or "auto"

    def restore(self) -> None:
        i = self.device_combo.findData(str(self.state.settings.value("keypoints/device", "auto")))
        if i >= 0:
            self.device_combo.setCurrentIndex(i)

    def _on_device(self, _index: int) -> None:
        from app.engine.devices import pick_device

        dev = self.device()
        self.state.settings.setValue("keypoints/device", dev)
        try:
            self.device_label.setText(device_text(pick_device(dev)))
        except UserError as exc:
            self.device_label.setText(str(exc))
        self.device_changed.emit()
