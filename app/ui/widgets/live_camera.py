"""A camera (or video file) view with Start / Stop, on ``vision.classify.ClassifyLive`` in a ``workers.Worker``.

Used by the data-set maker (preview and capture) and by the Train tab's live Try it (with a classifier). The loop
runs in the worker's thread; only the newest result reaches the GUI (``latest_only``), state changes all arrive.
Signals (GUI thread): ``result(LiveClassification)`` for each frame shown, ``started()``, and
``stopped(text, level)`` once the loop has ended (``text`` says why when it was not the person's Stop: the
camera is missing, busy or was unplugged; the video ended).
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.core.errors import UserError
from app.ui.state import AppState
from app.ui.widgets.image_view import ImageView
from app.ui.workers import Worker, describe_error, live_loop_worker, release_live_worker, stop_live_loop
from app.vision.classify import ClassifyLive, LiveClassification


def classify_worker(live: ClassifyLive, parent=None) -> Worker:
    """A started ``Worker`` running ``live``: ``ready``/``take()`` give the newest result only; ``value``
    carries every state change ("status", state, text)."""
    return live_loop_worker(live, "visiondesk-live-classify", parent)


class LiveCamera(QWidget):
    """Source picker, picture, Start/Stop and a status line. ``loader()`` (optional) is asked at each Start, in the
    GUI thread: it returns the function that loads the classifier in the loop's thread (or raises ``UserError``
    when there is no model to use)."""

    result = Signal(object)
    started = Signal()
    stopped = Signal(str, str)
    warning = Signal(str)

    def __init__(self, state: AppState, loader: Callable[[], Any] | None = None, parent: QWidget | None = None,
                 empty_text: str = "Press Start to see the camera (or a video file) here.", folders: bool = True):
        super().__init__(parent)
        from app.ui.tabs.keypoints.source_picker import SourcePicker

        self.state = state
        self._loader = loader or (lambda: None)
        self.live: ClassifyLive | None = None
        self.worker: Worker | None = None
        self._stopping: list[Worker] = []
        self.last: LiveClassification | None = None
        self.frames_shown = 0
        self.picker = SourcePicker(state)
        self.picker.setTitle("Camera or video")
        self.picker.folder_button.setVisible(folders)     # a folder of pictures as a slow "camera" (Try it only)
        self.picker.message.connect(lambda text, level: self.status.setText(text))
        self.view = ImageView(empty_text, min_side=160)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Start or stop the camera (or the video file chosen above).")
        self.start_button.clicked.connect(self.toggle)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.picker)
        lay.addWidget(self.view, 1)
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.status, 1)
        lay.addLayout(row)
        self._scanned = False

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        if not self._scanned:              # look for cameras once, when first shown (in the background)
            self._scanned = True
            if self.picker.combo.count() == 0:
                self.picker.rescan()

    # -- life cycle ---------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.worker is not None

    def toggle(self) -> None:
        if self.is_running():
            self.stop()
        else:
            self.start()

    def start(self, prepare: Callable[[ClassifyLive], None] | None = None) -> bool:
        """Start on the chosen source; False with the reason in the status line when it cannot. ``prepare(live)``
        runs before the loop starts (e.g. a capture that must include the very first frames)."""
        if self.is_running():
            return True
        try:
            source = self.picker.make_source()
            load = self._loader()
        except UserError as exc:
            self.status.setText(str(exc))
            self.stopped.emit(str(exc), "error")
            return False
        self.live = live = ClassifyLive(source, load_classifier=load)
        if prepare is not None:
            prepare(live)
        self.frames_shown = 0
        self.worker = w = classify_worker(live, parent=self)
        w.ready.connect(lambda: self._on_result(w))
        w.value.connect(lambda item: self._on_status(w, item))
        w.finished.connect(lambda result, error: self._on_finished(w, result, error))
        self.start_button.setText("Stop")
        self.status.setText(f"Starting {source.name}…")
        self.started.emit()
        return True

    def stop(self, wait_ms: int = 5000) -> None:
        """Stop the loop and release the camera or file (waits for the loop thread to end)."""
        w, live = self.worker, self.live
        if w is None:
            return
        self.worker = None
        stop_live_loop(w, live, self._stopping, wait_ms)
        self.start_button.setText("Start")
        self.status.setText("Stopped.")
        self.stopped.emit("", "info")

    # -- from the loop --------------------------------------------------------------------------------
    def _on_result(self, worker: Worker) -> None:
        item = worker.take()
        if item is None or worker is not self.worker:
            return
        self.last = item
        self.frames_shown += 1
        self.view.set_image(item.preview)
        self.result.emit(item)

    def _on_status(self, worker: Worker, item) -> None:
        if worker is not self.worker:
            return
        _, state, text = item
        if state in ("loading", "opening", "warning", "ended", "note"):
            self.status.setText(text)
        elif state == "running":
            self.status.setText(f"{self.live.source.name}: live.")
        if state == "warning":
            self.warning.emit(text)

    def _on_finished(self, worker: Worker, result, error) -> None:
        release_live_worker(worker, self._stopping)
        if worker is not self.worker:
            return
        self.worker = None
        if error is not None:
            summary, details, user = describe_error(error)
            text = summary if user else f"The live view stopped because of an unexpected problem: {summary}"
            self.status.setText(text)
            self.start_button.setText("Start")
            self.stopped.emit(text, "error")
            return
        text = f"{self.live.source.name} ended." if self.live else ""
        self.status.setText(text)
        self.start_button.setText("Start")
        self.stopped.emit(text, "info")

    def shutdown(self) -> None:
        self.stop(wait_ms=3000)
        self.picker.shutdown()
