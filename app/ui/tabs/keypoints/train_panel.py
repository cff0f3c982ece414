""""Train your own model" (Keypoints tab): a keypoint data file or folder, a model, epochs -> a run.

Training goes through the engine's Trainer (``make_trainer`` with ``task="keypoints"``) in a
``TrainingSession``, exactly like the Train tab; nothing here knows what one step does. The sample grid
of each epoch is shown, and the finished run's best.pt joins the model picker (``trained``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from app.core.errors import UserError
from app.engine.events import EpochEnd, Failed, Samples
from app.ui.session import TrainingSession
from app.ui.state import AppState
from app.ui.tabs.keypoints.widgets import FoldHeader, bgr_to_qimage
from app.ui.widgets.messages import MessageArea
from app.vision import NME_HELP, error_words

BUSY_KEY = "keypoints-train"


class TrainPanel(QWidget):
    """See the module docstring. ``trained(best.pt path, label)`` after a run that saved a best model."""

    trained = Signal(str, str)

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.header = FoldHeader("Train your own model")
        self.header.toggled.connect(self.expand)
        self.data_label = QLabel("No data chosen")
        self.data_label.setWordWrap(True)
        self.data_button = QPushButton("Folder…")
        self.data_button.setToolTip("A folder with train.npz/test.npz, a CSV with its images, or the Kaggle "
                                    "facial-keypoints training.csv")
        self.data_button.clicked.connect(self.choose_data_folder)
        self.data_file_button = QPushButton("File…")
        self.data_file_button.setToolTip("A keypoint .npz file or a CSV file")
        self.data_file_button.clicked.connect(self.choose_data)
        self.model_combo = QComboBox()
        from app.models import list_models

        for info in list_models("keypoints"):
            self.model_combo.addItem(info.name, info.name)
            self.model_combo.setItemData(self.model_combo.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 500)
        self.epochs_spin.setValue(10)
        self.epochs_spin.setToolTip("How many times the training goes through all the faces")
        self.train_button = QPushButton("Train")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch; a checkpoint is saved")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.speed_label = QLabel("")
        self.speed_label.setWordWrap(True)
        self.message = MessageArea()
        self.samples_label = QLabel()
        self.samples_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples_label.setToolTip("Test faces after the last epoch: green = the true points, red = the model's")
        self._data: str | None = str(state.settings.value("keypoints/train_data", "") or "") or None
        if self._data:
            self.data_label.setText(Path(self._data).name)

        self.session = TrainingSession(self, state=state, busy_key=BUSY_KEY)
        self.session.bind(start=self.train_button, stop=self.stop_button, progress=self.progress,
                          speed=self.speed_label, message=self.message,
                          lock=[self.data_button, self.data_file_button, self.model_combo, self.epochs_spin])
        self.session.start_requested = self.start
        self.session.on(EpochEnd, self._on_epoch).on(Samples, self._on_samples).on_done(self._on_done)

        self._body = QGroupBox()
        body = QVBoxLayout(self._body)
        form = QFormLayout()
        body.addLayout(form)
        drow = QHBoxLayout()
        drow.addWidget(self.data_label, 1)
        drow.addWidget(self.data_button)
        drow.addWidget(self.data_file_button)
        form.addRow("Data", drow)
        form.addRow("Model", self.model_combo)
        form.addRow("Epochs", self.epochs_spin)
        brow = QHBoxLayout()
        brow.addWidget(self.train_button)
        brow.addWidget(self.stop_button)
        body.addLayout(brow)
        for w in (self.progress, self.speed_label, self.message, self.samples_label):
            body.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.header)
        lay.addWidget(self._body)
        self._body.setVisible(False)

    @Slot(bool)
    def expand(self, on: bool = True) -> None:
        """Show (or fold away) the training controls."""
        if self.header.isChecked() != on:
            self.header.setChecked(on)       # comes back here through toggled
            return
        self._body.setVisible(on)

    # -- data
    def set_data(self, path: str | Path) -> None:
        self._data = str(path)
        self.data_label.setText(Path(path).name)
        self.state.settings.setValue("keypoints/train_data", str(path))

    def choose_data_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder with keypoint data", self._data or "")
        if path:
            self.set_data(path)

    def choose_data(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Keypoint data (.npz or .csv)", self._data or "",
                                              "Keypoint data (*.npz *.csv);;All files (*)")
        if path:
            self.set_data(path)

    # -- training
    def is_running(self) -> bool:
        return self.session.is_running()

    def start(self) -> bool:
        from app.engine.config import TrainConfig
        from app.models import get_model_info

        if not self._data:
            self.message.show_message("Choose the keypoint data first: a folder (Folder…) or a file (File…).", "warn")
            return False
        model = self.model_combo.currentData()
        if not model:
            self.message.show_message("No keypoint model is available in the model zoo.", "error")
            return False
        try:
            defaults = {k: v for k, v in (get_model_info(model).defaults or {}).items()
                        if k in TrainConfig.__dataclass_fields__ and k != "epochs"}
            cfg = TrainConfig(task="keypoints", data=Path(self._data).name, data_root=self._data, model=model,
                              epochs=int(self.epochs_spin.value()), device="auto").replace(**defaults)
        except UserError as exc:
            self.message.show_message(str(exc), "error")
            return False

        def build(callbacks, control):
            from app.engine.build import make_trainer

            return make_trainer(cfg, callbacks=callbacks, control=control)

        return self.session.start(build, title=f"training {model} on {Path(self._data).name}",
                                  epochs=cfg.epochs)

    def _on_epoch(self, ev: EpochEnd) -> None:
        nme = ev.metrics.get("test_nme")
        text = f"Epoch {ev.epoch} of {ev.epochs}"
        if isinstance(nme, float):
            text += f": {error_words(nme)} on the test faces"
        self.message.show_message(text + ("  (best so far)" if ev.is_best else ""), "info")
        self.message.current.setToolTip(NME_HELP)

    def _on_samples(self, ev: Samples) -> None:
        img = np.ascontiguousarray(ev.image)
        qimg = bgr_to_qimage(img[:, :, ::-1].copy() if img.ndim == 3 else img)
        pm = QPixmap.fromImage(qimg)
        self.samples_label.setPixmap(pm.scaledToWidth(min(320, pm.width()), Qt.TransformationMode.SmoothTransformation))

    def _on_done(self, result) -> None:
        if isinstance(result, Failed):
            self.message.show_message(f"Training failed: {result.message}", "error", details=result.details)
            return
        best = Path(result.run_dir) / "best.pt" if result.run_dir else None
        has_best = best is not None and best.is_file()
        how = "Stopped" if result.reason == "stopped" else "Finished"
        self.message.show_message(f"{how} after epoch {result.epoch}." +
                                  (" Its best model is now in the model picker above." if has_best else ""), "ok")
        if has_best:
            self.trained.emit(str(best), f"{Path(result.run_dir).name} (your training)")

    def shutdown(self) -> None:
        if self.session.is_running():
            self.session.shutdown()
