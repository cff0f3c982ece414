"""The Keypoints tab: a camera, video file or image folder with 68 facial keypoints drawn live.

The live loop is ``app.vision.live.LiveSession``, run inside a ``workers.Worker`` with ``latest_only``:
the newest result waits in a one-slot buffer and a queued signal tells the GUI thread to show it, so
when the GUI is behind, results are replaced, never queued. The tab only arranges the boxes
(``SourcePicker``, ``ModelPicker``, options, ``SpeedBox``, ``TrainPanel``) and turns the session's
results and states into pictures and messages.
"""
from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QFrame, QGroupBox, QHBoxLayout, QPushButton, QScrollArea, QSizePolicy,
                               QVBoxLayout, QWidget)

from app.core.errors import UserError
from app.data.images import save_png
from app.ui.state import AppState
from app.ui.tabs.keypoints.model_picker import ModelPicker
from app.ui.tabs.keypoints.source_picker import SourcePicker
from app.ui.tabs.keypoints.train_panel import TrainPanel
from app.ui.tabs.keypoints.widgets import FrameView, SpeedBox, bgr_to_qimage
from app.ui.widgets.messages import MessageArea
from app.ui.workers import Worker, describe_error, live_loop_worker, release_live_worker, stop_live_loop
from app.vision import FaceDetector, keypoint_model_choices
from app.vision.live import LiveSession

BUSY_KEY = "keypoints"
NO_MODEL_YET = ("There is no keypoint model yet: train one below (Train your own model) or with "
                "'visiondesk keypoints train', or put the shipped weights back in the weights folder.")


# ---------------------------------------------------------------------------------------------- seams
def _load_predictor(key: str, device: str):
    """The keypoint model (shipped weights name or checkpoint path) on ``device``."""
    from app.engine.keypoints import load_keypoint_model

    return load_keypoint_model(key, device=device)


def _make_detector():
    return FaceDetector()


def _media_dir(kind: str) -> Path:
    from app.engine.runs import app_home

    return app_home() / kind


def _stamp() -> str:
    return datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")[:-3]


def live_worker(session: LiveSession, parent=None) -> Worker:
    """A started ``Worker`` running ``session``: ``ready``/``take()`` give the newest (result, stats) only
    (older ones are replaced, never queued); ``value`` carries every state change ("status", state, text)."""
    return live_loop_worker(session, "visiondesk-keypoints", parent)


def unexpected_problem(exc: BaseException, doing: str) -> tuple[str, str]:
    """(plain message with what to do next, technical details) for an exception while ``doing``."""
    summary, details, user = describe_error(exc)
    if user:
        return summary, details
    return (f"The live view stopped because of an unexpected problem while {doing}. Press Start to try again; "
            f"if it happens again, pick another model or source, and use Copy details for a bug report."), details


# ---------------------------------------------------------------------------------------------- the tab
class KeypointsTab(QWidget):
    """Live facial keypoints on a camera, a video file or a folder of images."""

    def __init__(self, state: AppState, parent: QWidget | None = None, probe_cameras: bool = True):
        super().__init__(parent)
        self.state = state
        self.session: LiveSession | None = None
        self.worker: Worker | None = None
        self._stopping: list[Worker] = []
        self._last_frame: np.ndarray | None = None
        self._last_label_update = 0.0
        self._status_state = ""
        self._build()
        self.refresh_models()
        self._restore()
        if probe_cameras:
            self.sources.rescan()
        else:
            self.sources.set_cameras([])

    # -- layout
    def _build(self) -> None:
        self.view = FrameView()
        self.message = MessageArea()
        left = QVBoxLayout()
        left.addWidget(self.view, 1)
        left.addWidget(self.message)

        self.sources = SourcePicker(self.state)
        self.sources.chosen.connect(self._restart_if_running)
        self.sources.message.connect(self.message.show_message)
        self.models = ModelPicker(self.state)
        self.models.model_changed.connect(self._restart_if_running)
        self.models.device_changed.connect(self._restart_if_running)
        self.models.refresh_button.clicked.connect(self.refresh_models)

        self.mirror_check = QCheckBox("Mirror (flip left-right, like a mirror)")
        self.smooth_check = QCheckBox("Smooth the points (less jitter)")
        self.smooth_check.setChecked(True)
        self.lines_check = QCheckBox("Draw the face contour lines")
        self.lines_check.setChecked(True)
        self.mirror_check.toggled.connect(lambda v: self._set_option("mirror", v))
        self.smooth_check.toggled.connect(lambda v: self._set_option("smoothing", v))
        self.lines_check.toggled.connect(lambda v: self._set_option("lines", v))
        opt_box = QGroupBox("Options")
        ol = QVBoxLayout(opt_box)
        for w in (self.mirror_check, self.smooth_check, self.lines_check):
            ol.addWidget(w)

        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.toggle)
        self.snapshot_button = QPushButton("Snapshot")
        self.snapshot_button.setToolTip("Save the picture on screen (with the points) as a PNG")
        self.snapshot_button.clicked.connect(self._snapshot_clicked)
        self.record_button = QPushButton("Record")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Save what is shown (with the points) as a video file")
        self.record_button.toggled.connect(self._record_toggled)
        self.snapshot_button.setEnabled(False)
        self.record_button.setEnabled(False)
        arow = QHBoxLayout()
        for b in (self.start_button, self.snapshot_button, self.record_button):
            arow.addWidget(b)

        self.speed = SpeedBox()
        self.train_panel = TrainPanel(self.state)
        self.train_panel.trained.connect(self._on_trained)

        right = QVBoxLayout()
        for w in (self.sources, self.models, opt_box):
            right.addWidget(w)
        right.addLayout(arow)
        right.addWidget(self.speed)
        right.addWidget(self.train_panel)
        right.addStretch(1)
        panel = QWidget()
        panel.setLayout(right)
        # the controls scroll when the window is too low for them (the training panel unfolded): squeezed,
        # rows would overlap and buttons shrink to slivers
        self.controls = QScrollArea()
        self.controls.setWidget(panel)
        self.controls.setWidgetResizable(True)
        self.controls.setFrameShape(QFrame.Shape.NoFrame)
        self.controls.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.controls.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self._fit_controls_width()

        outer = QHBoxLayout(self)
        outer.addLayout(left, 1)
        outer.addWidget(self.controls)

        # the names the tests and the main window use
        self.source_combo = self.sources.combo
        self.model_combo = self.models.combo
        self.device_combo = self.models.device_combo
        self.fps_label = self.speed.fps_label
        self.stage_labels = self.speed.stage_labels
        self.faces_label = self.speed.faces_label

    def _fit_controls_width(self) -> None:
        """As wide as the widest box needs (the model names in full), plus room for the scroll bar."""
        panel = self.controls.widget()
        for box in (self.models, panel):
            box.layout().invalidate()
            box.layout().activate()
        bar = self.controls.verticalScrollBar().sizeHint().width()
        self.controls.setFixedWidth(max(panel.minimumSizeHint().width(), 340) + bar + 2)

    def _restore(self) -> None:
        s = self.state.settings
        self.mirror_check.setChecked(str(s.value("keypoints/mirror", "false")).lower() == "true")
        self.smooth_check.setChecked(str(s.value("keypoints/smoothing", "true")).lower() == "true")
        self.lines_check.setChecked(str(s.value("keypoints/lines", "true")).lower() == "true")
        self.sources.restore()
        self.models.restore()

    # -- sources and models (kept on the tab: other code calls them here)
    def set_video_file(self, path: str | Path) -> None:
        self.sources.set_video_file(path)

    def set_image_folder(self, path: str | Path) -> None:
        self.sources.set_image_folder(path)

    def set_source(self, source, label: str | None = None) -> None:
        self.sources.set_source(source, label)

    def rescan_cameras(self) -> None:
        self.sources.rescan()

    def refresh_models(self) -> None:
        self.models.set_choices(keypoint_model_choices())
        self._fit_controls_width()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        # the first time the tab is looked at on a computer, time the shipped models there (a second or
        # two in the background) so the picker can open with the one that is quick enough for live video
        QTimer.singleShot(1500, self._time_models)

    def _time_models(self) -> None:
        if self.isVisible() and not self.is_running():
            self.models.time_models_once(self.refresh_models)

    def add_model(self, key: str, label: str | None = None) -> None:
        self.models.add_model(key, label)
        self._fit_controls_width()

    def _on_trained(self, best: str, label: str) -> None:
        self.refresh_models()
        self.add_model(best, label)

    def _restart_if_running(self) -> None:
        if self.is_running():
            self.stop()
            self.start()

    # -- run
    def is_running(self) -> bool:
        return self.worker is not None

    def is_busy(self) -> bool:
        return self.is_running() or self.train_panel.is_running()

    def toggle(self) -> None:
        if self.is_running():
            self.stop()
        else:
            self.start()

    def start(self) -> bool:
        """Start the live view on the chosen source and model; False (and a message) when impossible."""
        if self.is_running():
            return True
        model = self.models.model()
        if not model:
            self.message.show_message(NO_MODEL_YET, "error")
            return False
        try:
            source = self.sources.make_source()
        except UserError as exc:
            self.message.show_message(str(exc), "error")
            return False
        self.message.clear()
        self._status_state = ""
        self.session = LiveSession(source, model, device=self.models.device(),
                                   smoothing=self.smooth_check.isChecked(), mirror=self.mirror_check.isChecked(),
                                   lines=self.lines_check.isChecked(), realtime=True,
                                   load_predictor=_load_predictor, make_detector=_make_detector)
        self.worker = w = live_worker(self.session, parent=self)
        w.ready.connect(lambda: self._on_result(w))
        w.value.connect(lambda item: self._on_status(w, item))
        w.finished.connect(lambda result, error: self._on_finished(w, result, error))
        self.start_button.setText("Stop")
        self.record_button.setEnabled(True)
        self.view.set_hint(f"Starting {source.name}…")
        self.state.set_busy(BUSY_KEY, f"Keypoints: live view of {source.name}")
        return True

    def stop(self) -> None:
        if self.record_button.isChecked():
            self.record_button.setChecked(False)
        self._stop_worker()
        self._set_idle()

    def _stop_worker(self, wait_ms: int = 5000) -> None:
        w, s = self.worker, self.session
        if w is None:
            return
        self.worker = self.session = None
        stop_live_loop(w, s, self._stopping, wait_ms)

    def _set_idle(self) -> None:
        self.start_button.setText("Start")
        self.record_button.setEnabled(False)
        self.state.set_busy(BUSY_KEY, "")

    def _on_finished(self, worker: Worker, result, error) -> None:
        release_live_worker(worker, self._stopping)
        if worker is not self.worker:
            return
        self.worker = self.session = None
        if error is not None:
            text, details = unexpected_problem(error, "showing the keypoints")
            if isinstance(error, UserError):        # the person can act on it: the words are enough
                details = ""
            else:
                from app.ui.notify import app_logger

                app_logger().error("live view failed\n%s", details)
            self.message.show_message(text, "error", details=details)
            self.view.set_hint(text)
        if self.record_button.isChecked():
            self.record_button.blockSignals(True)
            self.record_button.setChecked(False)
            self.record_button.setText("Record")
            self.record_button.blockSignals(False)
        self._set_idle()

    def _on_status(self, worker: Worker, item) -> None:
        if worker is not self.worker:
            return
        _, state, text = item
        self._status_state = state
        if state == "warning":
            self.message.show_message(text, "warn")
        elif state == "recorded":
            self.message.show_message(f"Video saved: {text}", "ok")
        elif state == "note":
            self.message.show_message(text, "info")
        elif state in ("loading", "opening"):
            self.view.set_hint(text)
            self.message.show_message(text, "info")
        elif state == "running":
            if self.message.level not in ("error", "warn"):
                self.message.clear()
        elif state == "ended":
            self.message.show_message(text, "info")

    def _on_result(self, worker: Worker) -> None:
        item = worker.take()
        if item is None or worker is not self.worker:
            return
        res, stats = item
        self._last_frame = res.frame_annotated
        self.view.set_image(bgr_to_qimage(res.frame_annotated))
        self.snapshot_button.setEnabled(True)
        now = time.perf_counter()
        if now - self._last_label_update >= 0.2 or self._last_label_update == 0.0:
            self._last_label_update = now
            self.speed.show_stats(stats)

    # -- options
    def _set_option(self, name: str, value: bool) -> None:
        self.state.settings.setValue(f"keypoints/{name}", "true" if value else "false")
        if self.session is not None:
            self.session.set_option(name, value)

    # -- snapshot / record
    def _snapshot_clicked(self) -> None:
        try:
            path = self.snapshot()
        except UserError as exc:
            self.message.show_message(str(exc), "error")
            return
        self.message.show_message(f"Snapshot saved: {path}", "ok")

    def snapshot(self, path: str | Path | None = None) -> Path:
        """Save the annotated frame on screen as PNG (default: the snapshots folder)."""
        if self._last_frame is None:
            raise UserError("There is no picture yet: press Start first.")
        path = Path(path) if path else _media_dir("snapshots") / f"keypoints_{_stamp()}.png"
        return save_png(self._last_frame, path, bgr=True)

    def _record_toggled(self, on: bool) -> None:
        if on:
            self.start_recording()
        else:
            self.stop_recording()

    def _set_record_button(self, on: bool) -> None:
        self.record_button.blockSignals(True)
        self.record_button.setChecked(on)
        self.record_button.setText("Stop recording" if on else "Record")
        self.record_button.blockSignals(False)

    def start_recording(self, path: str | Path | None = None) -> Path | None:
        if self.session is None:
            self.message.show_message("Press Start before recording.", "warn")
            self._set_record_button(False)
            return None
        path = Path(path) if path else _media_dir("recordings") / f"keypoints_{_stamp()}.mp4"
        self.session.start_recording(path)
        self._set_record_button(True)
        self.message.show_message(f"Recording to {path}", "info")
        return path

    def stop_recording(self) -> None:
        if self.session is not None:
            self.session.stop_recording()
        self._set_record_button(False)

    def shutdown(self) -> None:
        """Stop the live view, the recording, the camera search and any training (the window closes)."""
        if self.record_button.isChecked():
            self.stop_recording()
        self._stop_worker()
        for w in list(self._stopping):
            w.wait(5000)
        self.sources.shutdown()
        self.models.shutdown()
        self.train_panel.shutdown()
        self._set_idle()
