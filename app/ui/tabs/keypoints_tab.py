"""The Keypoints tab: a camera, video file or image folder with 68 facial keypoints drawn live.

Frames are read in the source's own thread (newest frame wins) and processed by the keypoint pipeline
in a worker ``QThread``; the newest result waits in a one-slot buffer and a queued signal tells the GUI
thread to show it. When the GUI is behind, results are replaced, never queued, so the window stays
responsive whatever the model's speed.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, QRectF, QSize, Qt, QThread, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QPushButton, QSizePolicy, QToolButton, QVBoxLayout, QWidget)

from app.engine.threads import intra_op_threads
from app.core.errors import UserError
from app.ui.state import AppState
from app.vision import FaceDetector, KeypointPipeline, LatestFrameReader, keypoint_model_choices, list_cameras
from app.vision.pipeline import live_torch_threads
from app.vision.sources import CameraSource, FrameSource, ImageFolderSource, VideoFileSource

BUSY_KEY = "keypoints"
STAGES = ("capture", "detect", "model", "draw")


# ---------------------------------------------------------------------------------------------- seams
def _load_predictor(key: str, device: str):
    """The keypoint model (shipped weights name or checkpoint path) on ``device``."""
    from app.engine.keypoints import load_keypoint_model

    return load_keypoint_model(key, device=device)


def _make_detector():
    return FaceDetector()


def _media_dir(kind: str) -> Path:
    from app.engine.runs import app_home

    d = app_home() / kind
    d.mkdir(parents=True, exist_ok=True)
    return d


def _stamp() -> str:
    return datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")[:-3]


def write_png(path: str | Path, image_bgr: np.ndarray) -> Path:
    """cv2.imwrite that also works for non-ASCII paths; raises UserError when it cannot write."""
    path = Path(path)
    ok, buf = cv2.imencode(".png", image_bgr)
    if not ok:
        raise UserError("The picture could not be encoded as PNG.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.tobytes())
    except OSError as exc:
        raise UserError(f"Could not write {path}: {exc.strerror or exc}.") from exc
    return path


def bgr_to_qimage(image: np.ndarray) -> QImage:
    a = np.ascontiguousarray(image)
    h, w = a.shape[:2]
    if a.ndim == 2:
        return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8).copy()
    return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_BGR888).copy()


# ---------------------------------------------------------------------------------------------- worker
class _Recorder:
    """An annotated video file (mp4v), opened at the first frame (when the size is known)."""

    def __init__(self, path: Path, fps: float):
        self.path = path
        self.fps = fps
        self.writer = None
        self.frames = 0
        self.error: str | None = None

    def write(self, frame: np.ndarray) -> None:
        if self.error:
            return
        if self.writer is None:
            h, w = frame.shape[:2]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self.writer.isOpened():
                self.error = f"Could not write the video {self.path}."
                self.writer = None
                return
            self.size = (w, h)
        if (frame.shape[1], frame.shape[0]) != self.size:        # an image folder with mixed sizes
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


class LiveWorker(QThread):
    """Loads the model, reads the source (in the reader's thread) and runs the pipeline on the newest frame.

    ``resultReady`` is emitted only when the GUI has taken the previous result; meanwhile newer results
    replace the waiting one. ``take()`` (GUI thread) returns the newest result and its statistics.
    """

    resultReady = Signal()
    status = Signal(str, str)          # state ("loading", "running", "ended", "error", "stopped"), message

    def __init__(self, source: FrameSource, model_key: str, device: str, smoothing: bool, mirror: bool,
                 lines: bool, parent: QObject | None = None, threads: int | None = None):
        super().__init__(parent)
        self.setObjectName("visiondesk-keypoints")
        self.threads = threads or live_torch_threads()
        self.source = source
        self.model_key = model_key
        self.device = device
        self.pipeline: KeypointPipeline | None = None
        self._options = {"smoothing": smoothing, "mirror": mirror, "lines": lines}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._latest = None
        self._pending = False
        self.dropped_results = 0
        self.reader: LatestFrameReader | None = None
        self._recorder: _Recorder | None = None
        self._record_request: tuple[str, Path | None] | None = None
        self._times: deque[float] = deque(maxlen=30)
        self._stage_sums: deque[dict] = deque(maxlen=30)
        self.frames = 0
        self.model_info = ""

    # -- GUI side
    def request_stop(self) -> None:
        self._stop.set()
        if self.reader is not None:
            self.reader.stop(timeout=0)

    def take(self):
        with self._lock:
            item, self._latest = self._latest, None
            self._pending = False
        return item

    def set_option(self, name: str, value: bool) -> None:
        self._options[name] = value
        p = self.pipeline
        if p is None:
            return
        if name == "smoothing":
            p.set_smoothing(value)
        elif name == "mirror":
            p.set_mirror(value)
        elif name == "lines":
            p.draw_lines = value

    def start_recording(self, path: Path) -> None:
        with self._lock:
            self._record_request = ("start", path)

    def stop_recording(self) -> None:
        with self._lock:
            self._record_request = ("stop", None)

    # -- worker thread
    def run(self) -> None:
        try:
            self._run()
        except UserError as exc:
            self.status.emit("error", str(exc))
        except Exception as exc:  # never a dead thread without a word
            self.status.emit("error", f"The live view stopped: {type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            if self.reader is not None:
                self.reader.stop(timeout=1.0)
            if self._recorder is not None:
                self._recorder.close()

    def _handle_recording(self) -> None:
        with self._lock:
            req, self._record_request = self._record_request, None
        if req is None:
            return
        if self._recorder is not None:
            self._recorder.close()
            self.status.emit("recorded", str(self._recorder.path))
            self._recorder = None
        if req[0] == "start":
            fps = self.source.fps if self.source.kind != "images" else 5.0
            self._recorder = _Recorder(Path(req[1]), fps)

    def _run(self) -> None:
        with intra_op_threads(self.threads):    # this thread's model runs only; other tabs keep their threads
            self._live()

    def _live(self) -> None:
        self.status.emit("loading", f"Loading the model {Path(self.model_key).name if '/' in self.model_key else self.model_key}…")
        predictor = _load_predictor(self.model_key, self.device)
        if self._stop.is_set():
            return
        o = self._options
        self.pipeline = KeypointPipeline(predictor, _make_detector(), smoothing=o["smoothing"], mirror=o["mirror"],
                                         draw_lines=o["lines"])
        # options changed while the model was loading
        self.pipeline.set_smoothing(self._options["smoothing"])
        self.pipeline.set_mirror(self._options["mirror"])
        self.pipeline.draw_lines = self._options["lines"]
        self.status.emit("opening", f"Opening {self.source.name}…")
        reader = self.reader = LatestFrameReader(self.source).start()
        last = -1
        announced = False
        while not self._stop.is_set():
            f = reader.get(timeout=0.2, newer_than=last)
            self._handle_recording()
            if f is None:
                state = reader.state
                if state == "error":
                    self.status.emit("error", reader.error or f"{self.source.name} stopped.")
                    return
                if state in ("ended", "stopped"):
                    if not self._stop.is_set():
                        self.status.emit("ended", f"{self.source.name} ended.")
                    return
                continue
            if not announced:
                self.status.emit("running", "")
                announced = True
            last = f.index
            res = self.pipeline.process(f.image, f.capture_ms, f.timestamp, f.new_scene, f.index)
            if self._recorder is not None:
                self._recorder.write(res.frame_annotated)
                if self._recorder.error:
                    self.status.emit("warning", self._recorder.error)
                    self._recorder = None
            now = time.perf_counter()
            self._times.append(now)
            self._stage_sums.append(res.timings_ms)
            self.frames += 1
            fps = (len(self._times) - 1) / (self._times[-1] - self._times[0]) if len(self._times) > 1 else 0.0
            stages = {k: float(np.mean([t[k] for t in self._stage_sums])) for k in STAGES}
            stats = {"fps": fps, "stages": stages, "faces": len(res.faces), "dropped": reader.dropped,
                     "frames": self.frames, "index": f.index, "recording": self._recorder is not None}
            with self._lock:
                if self._latest is not None:
                    self.dropped_results += 1
                self._latest = (res, stats)
                notify = not self._pending
                self._pending = True
            if notify:
                self.resultReady.emit()
        if self._recorder is not None:
            self._recorder.close()
            self.status.emit("recorded", str(self._recorder.path))
            self._recorder = None


# ---------------------------------------------------------------------------------------------- view
class FrameView(QWidget):
    """Shows the newest frame scaled to fit (aspect kept), or a hint when there is none."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._hint = "Pick a source and press Start."
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def set_hint(self, text: str) -> None:
        self._hint = text
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 28))
        if self._image is None or self._image.isNull():
            p.setPen(QColor(200, 200, 200))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._hint)
            return
        iw, ih = self._image.width(), self._image.height()
        s = min(self.width() / iw, self.height() / ih)
        w, h = iw * s, ih * s
        target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(target, self._image)


# ---------------------------------------------------------------------------------------------- train your own
class TrainPanel(QWidget):
    """A small "train your own" panel: a keypoint folder/file, a model, epochs -> a run; the sample grid of
    each epoch is shown, and the finished run's best.pt joins the model picker.

    Training goes through the engine's Trainer (``make_trainer`` with ``task="keypoints"``) in a
    ``TrainingRunner`` thread, exactly like the Train tab; nothing here knows what one step does.
    """

    trained = Signal(str, str)        # best.pt path, label

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        from app.ui.session import TrainingRunner

        self.state = state
        self.header = QToolButton()
        self.header.setText("Train your own model")
        self.header.setCheckable(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setArrowType(Qt.ArrowType.RightArrow)
        self.header.setAutoRaise(True)
        self.header.toggled.connect(self.expand)
        self.runner = TrainingRunner(self)
        self.runner.events.connect(self._on_events)
        self.runner.finished.connect(self._on_finished)
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
        try:
            from app.models import list_models

            for info in list_models("keypoints"):
                self.model_combo.addItem(info.name, info.name)
        except Exception:   # the zoo failed to import: the panel says so when training starts
            pass
        from PySide6.QtWidgets import QSpinBox

        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 500)
        self.epochs_spin.setValue(10)
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.toggle)
        self.progress_label = QLabel("")
        self.progress_label.setWordWrap(True)
        self.samples_label = QLabel()
        self.samples_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples_label.setMinimumHeight(0)
        self._data: str | None = str(state.settings.value("keypoints/train_data", "") or "") or None
        if self._data:
            self.data_label.setText(Path(self._data).name)
        self._body = QGroupBox()
        form = QFormLayout(self._body)
        drow = QHBoxLayout()
        drow.addWidget(self.data_label, 1)
        drow.addWidget(self.data_button)
        drow.addWidget(self.data_file_button)
        form.addRow("Data", drow)
        form.addRow("Model", self.model_combo)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow(self.train_button)
        form.addRow(self.progress_label)
        form.addRow(self.samples_label)
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
        self.header.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

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

    def is_running(self) -> bool:
        return self.runner.is_running()

    def toggle(self) -> None:
        if self.runner.is_running():
            self.runner.stop()
            self.train_button.setEnabled(False)
            self.progress_label.setText("Stopping after this batch (a checkpoint is saved)…")
        else:
            self.start()

    def start(self) -> bool:
        from app.engine.config import TrainConfig

        if not self._data:
            self.progress_label.setText("Choose the keypoint data first.")
            return False
        model = self.model_combo.currentData()
        if not model:
            self.progress_label.setText("No keypoint model is available in the model zoo.")
            return False
        try:
            from app.models import get_model_info

            defaults = {k: v for k, v in (get_model_info(model).defaults or {}).items()
                        if k in TrainConfig.__dataclass_fields__ and k != "epochs"}
            cfg = TrainConfig(task="keypoints", data=Path(self._data).name, data_root=self._data, model=model,
                              epochs=int(self.epochs_spin.value()), device="auto")
            cfg = cfg.replace(**defaults)
        except UserError as exc:
            self.progress_label.setText(str(exc))
            return False

        def build(callbacks, control):
            from app.engine.build import make_trainer

            return make_trainer(cfg, callbacks=callbacks, control=control)

        self.runner.start(build)
        self.train_button.setText("Stop training")
        self.progress_label.setText(f"Loading {Path(self._data).name}…")
        self.state.set_busy("keypoints-train", f"Training {model} on {Path(self._data).name}")
        return True

    @Slot(list)
    def _on_events(self, events: list) -> None:
        from app.engine import events as E

        for ev in events:
            if isinstance(ev, E.BatchEnd):
                self.progress_label.setText(f"Epoch {ev.epoch}: batch {ev.batch}/{ev.batches}, "
                                            f"loss {ev.metrics.get('loss', float('nan')):.4f}")
            elif isinstance(ev, E.EpochEnd):
                nme = ev.metrics.get("test_nme")
                self.progress_label.setText(f"Epoch {ev.epoch}/{ev.epochs}" +
                                            (f": test NME {100 * nme:.2f}%" if isinstance(nme, float) else "") +
                                            ("  (best so far)" if ev.is_best else ""))
            elif isinstance(ev, E.Samples):
                from PySide6.QtGui import QPixmap

                img = np.ascontiguousarray(ev.image)
                qimg = bgr_to_qimage(img[:, :, ::-1].copy() if img.ndim == 3 else img)
                pm = QPixmap.fromImage(qimg)
                self.samples_label.setPixmap(pm.scaledToWidth(min(340, pm.width()),
                                                              Qt.TransformationMode.SmoothTransformation))

    @Slot(object)
    def _on_finished(self, result) -> None:
        from app.engine.events import Failed

        self.train_button.setText("Train")
        self.train_button.setEnabled(True)
        self.state.set_busy("keypoints-train", "")
        if isinstance(result, Failed):
            self.progress_label.setText(f"Training failed: {result.message}")
            return
        best = Path(result.run_dir) / "best.pt" if result.run_dir else None
        self.progress_label.setText(f"Finished ({result.reason}) after epoch {result.epoch}." +
                                    (" Its best model is now in the model picker." if best and best.is_file() else ""))
        if best is not None and best.is_file():
            self.trained.emit(str(best), f"{Path(result.run_dir).name} (your training)")

    def shutdown(self) -> None:
        if self.runner.is_running():
            self.runner.shutdown()
            self.state.set_busy("keypoints-train", "")


# ---------------------------------------------------------------------------------------------- the tab
class KeypointsTab(QWidget):
    """Live facial keypoints on a camera, a video file or a folder of images."""

    camerasFound = Signal(list)

    def __init__(self, state: AppState, parent: QWidget | None = None, probe_cameras: bool = True):
        super().__init__(parent)
        self.state = state
        self.worker: LiveWorker | None = None
        self._last_frame: np.ndarray | None = None
        self._last_label_update = 0.0
        self._recording_path: Path | None = None
        self._custom_sources: dict[int, FrameSource] = {}
        self._stopping: list[LiveWorker] = []
        self._build()
        self.camerasFound.connect(self._on_cameras)
        self.refresh_models()
        self._restore()
        if probe_cameras:
            self.rescan_cameras()
        else:
            self._on_cameras([])

    # -- layout
    def _build(self) -> None:
        self.view = FrameView()
        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.setObjectName("keypointsMessage")
        left = QVBoxLayout()
        left.addWidget(self.view, 1)
        left.addWidget(self.message_label)

        # source
        self.source_combo = QComboBox()
        self.source_combo.setMinimumContentsLength(22)
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.activated.connect(self._on_source_activated)
        self.rescan_button = QToolButton()
        self.rescan_button.setText("Find cameras")
        self.rescan_button.setToolTip("Look for cameras again (e.g. after plugging one in)")
        self.rescan_button.clicked.connect(self.rescan_cameras)
        row = QHBoxLayout()
        row.addWidget(self.source_combo, 1)
        row.addWidget(self.rescan_button)
        src_box = QGroupBox("Source")
        sl = QVBoxLayout(src_box)
        sl.addLayout(row)
        self.video_button = QPushButton("Open video file…")
        self.video_button.clicked.connect(self.choose_video_file)
        self.folder_button = QPushButton("Open image folder…")
        self.folder_button.clicked.connect(self.choose_image_folder)
        brow = QHBoxLayout()
        brow.addWidget(self.video_button)
        brow.addWidget(self.folder_button)
        sl.addLayout(brow)

        # model
        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(22)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.refresh_models_button = QToolButton()
        self.refresh_models_button.setText("Refresh")
        self.refresh_models_button.setToolTip("List the shipped models and the best.pt of every keypoint run again")
        self.refresh_models_button.clicked.connect(self.refresh_models)
        mrow = QHBoxLayout()
        mrow.addWidget(self.model_combo, 1)
        mrow.addWidget(self.refresh_models_button)
        self.device_combo = QComboBox()
        self.device_combo.addItem("Automatic", "auto")
        self.device_combo.addItem("CPU", "cpu")
        from app.engine.devices import cuda_available, pick_device

        if cuda_available():
            self.device_combo.addItem("GPU (CUDA)", "cuda")
        self.device_label = QLabel(self._device_text(pick_device("auto")))
        self.device_combo.currentIndexChanged.connect(self._on_device_changed)
        model_box = QGroupBox("Model")
        ml = QFormLayout(model_box)
        ml.addRow("Model", mrow)
        ml.addRow("Device", self.device_combo)
        ml.addRow("", self.device_label)

        # options
        self.mirror_check = QCheckBox("Mirror (like a mirror: flip left-right)")
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

        # actions
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
        arow.addWidget(self.start_button)
        arow.addWidget(self.snapshot_button)
        arow.addWidget(self.record_button)

        # stats
        self.fps_label = QLabel("FPS: –")
        f = self.fps_label.font()
        f.setPointSizeF(f.pointSizeF() * 1.4)
        f.setBold(True)
        self.fps_label.setFont(f)
        self.stage_labels = {k: QLabel("–") for k in STAGES}
        self.faces_label = QLabel("–")
        stats_box = QGroupBox("Speed")
        stl = QFormLayout(stats_box)
        stl.addRow(self.fps_label)
        for k in STAGES:
            stl.addRow(f"{k.capitalize()} (ms)", self.stage_labels[k])
        stl.addRow("Faces", self.faces_label)

        self.train_panel = TrainPanel(self.state)
        self.train_panel.trained.connect(self._on_trained)

        right = QVBoxLayout()
        for w in (src_box, model_box, opt_box):
            right.addWidget(w)
        right.addLayout(arow)
        right.addWidget(stats_box)
        right.addWidget(self.train_panel)
        right.addStretch(1)
        panel = QWidget()
        panel.setLayout(right)
        panel.setMaximumWidth(380)

        outer = QHBoxLayout(self)
        outer.addLayout(left, 1)
        outer.addWidget(panel)

    # -- settings
    def _restore(self) -> None:
        s = self.state.settings
        self.mirror_check.setChecked(str(s.value("keypoints/mirror", "false")).lower() == "true")
        self.smooth_check.setChecked(str(s.value("keypoints/smoothing", "true")).lower() == "true")
        self.lines_check.setChecked(str(s.value("keypoints/lines", "true")).lower() == "true")
        last = str(s.value("keypoints/last_video", "") or "")
        if last and Path(last).is_file():
            self.set_video_file(last)
        dev = str(s.value("keypoints/device", "auto"))
        i = self.device_combo.findData(dev)
        if i >= 0:
            self.device_combo.setCurrentIndex(i)

    def _save(self, key: str, value) -> None:
        self.state.settings.setValue(f"keypoints/{key}", value)

    # -- sources
    def rescan_cameras(self) -> None:
        self.rescan_button.setEnabled(False)
        self.rescan_button.setText("Looking…")
        if self.source_combo.count() == 0:
            self.source_combo.addItem("Looking for cameras…", None)

        def probe():
            try:
                cams = list_cameras()
            except Exception:
                cams = []
            try:
                self.camerasFound.emit(cams)
            except RuntimeError:   # the tab was deleted meanwhile
                pass

        threading.Thread(target=probe, name="camera-scan", daemon=True).start()

    @Slot(list)
    def _on_cameras(self, cams: list) -> None:
        self.rescan_button.setEnabled(True)
        self.rescan_button.setText("Find cameras")
        current = self.source_combo.currentData()
        keep = [(self.source_combo.itemText(i), self.source_combo.itemData(i)) for i in range(self.source_combo.count())
                if self.source_combo.itemData(i) and self.source_combo.itemData(i)[0] != "camera"]
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        for c in cams:
            self.source_combo.addItem(c.label, ("camera", c.index))
        if not cams:
            self.source_combo.addItem("No camera found", None)
        for text, data in keep:
            self.source_combo.addItem(text, data)
        i = self.source_combo.findData(current) if current else -1
        if i < 0 and not cams and keep:
            i = self.source_combo.count() - 1
        self.source_combo.setCurrentIndex(max(i, 0))
        self.source_combo.blockSignals(False)
        if not cams and not keep:
            self._message("No camera was found. Open a video file or a folder of images instead.", "info")

    def _add_source(self, label: str, data) -> None:
        i = self.source_combo.findData(data)
        if i < 0:
            none = self.source_combo.findData(None)
            if none >= 0:
                self.source_combo.removeItem(none)
            self.source_combo.addItem(label, data)
            i = self.source_combo.count() - 1
        self.source_combo.setCurrentIndex(i)

    def set_video_file(self, path: str | Path) -> None:
        p = Path(path)
        self._add_source(f"Video: {p.name}", ("video", str(p)))
        self._save("last_video", str(p))

    def set_image_folder(self, path: str | Path) -> None:
        p = Path(path)
        self._add_source(f"Images: {p.name or p}", ("folder", str(p)))

    def set_source(self, source: FrameSource, label: str | None = None) -> None:
        """Use a ready-made source object (e.g. a camera with special settings)."""
        key = id(source)
        self._custom_sources[key] = source
        self._add_source(label or source.name, ("custom", key))

    def choose_video_file(self) -> None:
        start = str(self.state.settings.value("keypoints/last_video", "") or "")
        path, _ = QFileDialog.getOpenFileName(self, "Open a video file", start,
                                              "Videos (*.mp4 *.avi *.mov *.mkv *.m4v *.webm *.mpg *.wmv);;All files (*)")
        if path:
            self.set_video_file(path)

    def choose_image_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if path:
            self.set_image_folder(path)

    @Slot(int)
    def _on_source_activated(self, index: int) -> None:
        if self.is_running():
            self.stop()
            self.start()

    def _make_source(self) -> FrameSource:
        data = self.source_combo.currentData()
        if not data:
            raise UserError("No source to show: no camera was found. Open a video file or a folder of images.")
        kind, value = data
        if kind == "camera":
            return CameraSource(int(value))
        if kind == "video":
            return VideoFileSource(value, loop=True)
        if kind == "folder":
            return ImageFolderSource(value, fps=2.0, loop=True)
        return self._custom_sources[value]

    # -- models
    def refresh_models(self) -> None:
        current = self.model_combo.currentData()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for c in keypoint_model_choices():
            self.model_combo.addItem(c.label, c.key)
            self.model_combo.setItemData(self.model_combo.count() - 1, c.key, Qt.ItemDataRole.ToolTipRole)
        if self.model_combo.count() == 0:
            self.model_combo.addItem("No keypoint model yet (train one)", None)
        i = self.model_combo.findData(current) if current else -1
        self.model_combo.setCurrentIndex(max(i, 0))      # index 0: the better shipped model
        self.model_combo.blockSignals(False)

    def add_model(self, key: str, label: str | None = None) -> None:
        """Offer a checkpoint (or shipped name) in the picker and select it."""
        i = self.model_combo.findData(key)
        if i < 0:
            self.model_combo.addItem(label or Path(key).parent.name or key, key)
            i = self.model_combo.count() - 1
        self.model_combo.setCurrentIndex(i)

    @Slot(str, str)
    def _on_trained(self, best: str, label: str) -> None:
        self.refresh_models()
        self.add_model(best, label)

    @Slot(int)
    def _on_model_changed(self, index: int) -> None:
        if self.is_running():
            self.stop()
            self.start()

    @staticmethod
    def _device_text(device) -> str:
        from app.engine.devices import describe_device

        if device.type == "cpu":
            n = live_torch_threads()
            return f"CPU ({n} thread{'s' if n > 1 else ''} for the live view)"
        return describe_device(device)

    @Slot(int)
    def _on_device_changed(self, index: int) -> None:
        from app.engine.devices import pick_device

        dev = self.device_combo.currentData()
        self._save("device", dev)
        try:
            self.device_label.setText(self._device_text(pick_device(dev)))
        except UserError as exc:
            self.device_label.setText(str(exc))
        if self.is_running():
            self.stop()
            self.start()

    # -- run
    def is_running(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

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
        model = self.model_combo.currentData()
        if not model:
            self._message("There is no keypoint model yet: train one (visiondesk keypoints train) or restore the "
                          "shipped weights in weights/.", "error")
            return False
        try:
            source = self._make_source()
        except UserError as exc:
            self._message(str(exc), "error")
            return False
        self._stop_worker()
        self._message("", "info")
        self.worker = LiveWorker(source, model, self.device_combo.currentData() or "auto",
                                 self.smooth_check.isChecked(), self.mirror_check.isChecked(),
                                 self.lines_check.isChecked(), parent=self)
        self.worker.resultReady.connect(self._on_result, Qt.ConnectionType.QueuedConnection)
        self.worker.status.connect(self._on_status, Qt.ConnectionType.QueuedConnection)
        self.worker.finished.connect(self._on_worker_finished, Qt.ConnectionType.QueuedConnection)
        self.start_button.setText("Stop")
        self.record_button.setEnabled(True)
        self.view.set_hint(f"Starting {source.name}…")
        self.state.set_busy(BUSY_KEY, f"Keypoints: live view of {source.name}")
        self.worker.start()
        return True

    def stop(self) -> None:
        if self.record_button.isChecked():
            self.record_button.setChecked(False)
        self._stop_worker()
        self._set_idle()

    def _stop_worker(self, wait_ms: int = 5000) -> None:
        w = self.worker
        if w is None:
            return
        self.worker = None
        w.request_stop()
        try:
            w.resultReady.disconnect(self._on_result)
        except (RuntimeError, TypeError):
            pass
        if w.wait(wait_ms):
            w.deleteLater()
        else:                  # still busy (e.g. loading a large model): let it end on its own
            self._stopping.append(w)
            w.finished.connect(lambda w=w: (self._stopping.remove(w), w.deleteLater()))

    def _set_idle(self) -> None:
        self.start_button.setText("Start")
        self.record_button.setEnabled(False)
        self.state.set_busy(BUSY_KEY, "")

    @Slot()
    def _on_worker_finished(self) -> None:
        if self.worker is not None and self.sender() is self.worker:
            self._stop_worker(1000)
            if self.record_button.isChecked():
                self.record_button.blockSignals(True)
                self.record_button.setChecked(False)
                self.record_button.blockSignals(False)
            self._set_idle()

    @Slot(str, str)
    def _on_status(self, state: str, message: str) -> None:
        if self.sender() is not self.worker and self.worker is not None:
            return
        if state == "error":
            self._message(message, "error")
            self.view.set_hint(message)
        elif state == "warning":
            self._message(message, "error")
        elif state == "recorded":
            self._message(f"Video saved: {message}", "info")
        elif state in ("loading", "opening"):
            self.view.set_hint(message)
            self._message(message, "info")
        elif state == "running":
            if self.message_label.property("kind") != "error":
                self._message("", "info")
        elif state == "ended":
            self._message(message, "info")

    @Slot()
    def _on_result(self) -> None:
        w = self.worker
        if w is None:
            return
        item = w.take()
        if item is None:
            return
        res, stats = item
        self._last_frame = res.frame_annotated
        self.view.set_image(bgr_to_qimage(res.frame_annotated))
        self.snapshot_button.setEnabled(True)
        now = time.perf_counter()
        if now - self._last_label_update >= 0.2 or self._last_label_update == 0.0:
            self._last_label_update = now
            self.fps_label.setText(f"FPS: {stats['fps']:.1f}")
            for k in STAGES:
                self.stage_labels[k].setText(f"{stats['stages'][k]:.1f}")
            self.faces_label.setText(str(stats["faces"]) if stats["faces"] else "0 (no face in view)")

    # -- options
    def _set_option(self, name: str, value: bool) -> None:
        self._save(name, "true" if value else "false")
        if self.worker is not None:
            self.worker.set_option(name, value)

    # -- snapshot / record
    @Slot()
    def _snapshot_clicked(self) -> None:
        try:
            path = self.snapshot()
        except UserError as exc:
            self._message(str(exc), "error")
            return
        self._message(f"Snapshot saved: {path}", "info")

    def snapshot(self, path: str | Path | None = None) -> Path:
        """Save the annotated frame on screen as PNG (default: the snapshots folder)."""
        if self._last_frame is None:
            raise UserError("There is no picture yet: press Start first.")
        path = Path(path) if path else _media_dir("snapshots") / f"keypoints_{_stamp()}.png"
        return write_png(path, self._last_frame)

    @Slot(bool)
    def _record_toggled(self, on: bool) -> None:
        if on:
            self.start_recording()
        else:
            self.stop_recording()

    def start_recording(self, path: str | Path | None = None) -> Path | None:
        if self.worker is None:
            self._message("Press Start before recording.", "error")
            self.record_button.blockSignals(True)
            self.record_button.setChecked(False)
            self.record_button.blockSignals(False)
            return None
        path = Path(path) if path else _media_dir("recordings") / f"keypoints_{_stamp()}.mp4"
        self._recording_path = path
        self.worker.start_recording(path)
        self.record_button.blockSignals(True)
        self.record_button.setChecked(True)
        self.record_button.setText("Stop recording")
        self.record_button.blockSignals(False)
        self._message(f"Recording to {path}", "info")
        return path

    def stop_recording(self) -> None:
        if self.worker is not None:
            self.worker.stop_recording()
        self.record_button.blockSignals(True)
        self.record_button.setChecked(False)
        self.record_button.setText("Record")
        self.record_button.blockSignals(False)

    # -- messages
    def _message(self, text: str, kind: str = "info") -> None:
        self.message_label.setText(text)
        self.message_label.setProperty("kind", kind if text else "")
        self.message_label.setStyleSheet("color: #c0392b; font-weight: bold;" if kind == "error" and text else "")

    def shutdown(self) -> None:
        """Stop the live view and the recording (called when the window closes)."""
        if self.record_button.isChecked():
            self.stop_recording()
        self._stop_worker()
        for w in list(self._stopping):
            w.wait(5000)
        self.train_panel.shutdown()
        self._set_idle()
