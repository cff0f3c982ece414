"""The Source box of the Keypoints tab: cameras (found in the background), a video file or an image folder."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QPushButton, QToolButton, QVBoxLayout,
                               QWidget)

from app.core.errors import UserError
from app.ui.state import AppState
from app.ui.workers import Jobs
from app.vision import list_cameras
from app.vision.sources import CameraSource, FrameSource, ImageFolderSource, VideoFileSource

NO_SOURCE = "No source to show: no camera was found. Open a video file or a folder of images."


class SourcePicker(QGroupBox):
    """``combo`` holds ("camera", index), ("video", path), ("folder", path) or ("custom", key); ``make_source()``
    opens the chosen one. ``chosen`` is emitted when the person picks another entry; ``message(text, level)``
    when there is something to say (no camera found)."""

    chosen = Signal()
    message = Signal(str, str)

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__("Source", parent)
        self.state = state
        self.jobs = Jobs(self)
        self._custom: dict[int, FrameSource] = {}
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(18)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.activated.connect(lambda _i: self.chosen.emit())
        self.rescan_button = QToolButton()
        self.rescan_button.setText("Find cameras")
        self.rescan_button.setToolTip("Look for cameras again (e.g. after plugging one in)")
        self.rescan_button.clicked.connect(self.rescan)
        self.video_button = QPushButton("Open video file…")
        self.video_button.clicked.connect(self.choose_video_file)
        self.folder_button = QPushButton("Open image folder…")
        self.folder_button.clicked.connect(self.choose_image_folder)
        row = QHBoxLayout()
        row.addWidget(self.combo, 1)
        row.addWidget(self.rescan_button)
        brow = QHBoxLayout()
        brow.addWidget(self.video_button)
        brow.addWidget(self.folder_button)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addLayout(brow)

    # -- cameras
    def rescan(self) -> None:
        """Look for cameras in the background; the list is updated when the search ends."""
        if self.jobs.is_busy():
            return
        self.rescan_button.setEnabled(False)
        self.rescan_button.setText("Looking…")
        if self.combo.count() == 0:
            self.combo.addItem("Looking for cameras…", None)
        self.jobs.run(list_cameras, lambda cams, error: self.set_cameras([] if error else list(cams or [])))

    def set_cameras(self, cams: list) -> None:
        self.rescan_button.setEnabled(True)
        self.rescan_button.setText("Find cameras")
        current = self.combo.currentData()
        keep = [(self.combo.itemText(i), self.combo.itemData(i)) for i in range(self.combo.count())
                if self.combo.itemData(i) and self.combo.itemData(i)[0] != "camera"]
        self.combo.blockSignals(True)
        self.combo.clear()
        for c in cams:
            self.combo.addItem(c.label, ("camera", c.index))
        if not cams:
            self.combo.addItem("No camera found", None)
        for text, data in keep:
            self.combo.addItem(text, data)
        i = self.combo.findData(current) if current else -1
        if i < 0 and not cams and keep:
            i = self.combo.count() - 1
        self.combo.setCurrentIndex(max(i, 0))
        self.combo.blockSignals(False)
        if not cams and not keep:
            self.message.emit("No camera was found. Open a video file or a folder of images instead.", "info")

    # -- files
    def _add(self, label: str, data) -> None:
        i = self.combo.findData(data)
        if i < 0:
            none = self.combo.findData(None)
            if none >= 0:
                self.combo.removeItem(none)
            self.combo.addItem(label, data)
            i = self.combo.count() - 1
        self.combo.setCurrentIndex(i)

    def set_video_file(self, path: str | Path) -> None:
        p = Path(path)
        self._add(f"Video: {p.name}", ("video", str(p)))
        self.state.settings.setValue("keypoints/last_video", str(p))

    def set_image_folder(self, path: str | Path) -> None:
        p = Path(path)
        self._add(f"Images: {p.name or p}", ("folder", str(p)))

    def set_source(self, source: FrameSource, label: str | None = None) -> None:
        """Use a ready-made source object (e.g. a camera with special settings)."""
        key = id(source)
        self._custom[key] = source
        self._add(label or source.name, ("custom", key))

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

    def restore(self) -> None:
        last = str(self.state.settings.value("keypoints/last_video", "") or "")
        if last and Path(last).is_file():
            self.set_video_file(last)

    def make_source(self) -> FrameSource:
        data = self.combo.currentData()
        if not data:
            raise UserError(NO_SOURCE)
        kind, value = data
        if kind == "camera":
            return CameraSource(int(value))
        if kind == "video":
            return VideoFileSource(value, loop=True)
        if kind == "folder":
            return ImageFolderSource(value, fps=2.0, loop=True)
        return self._custom[value]

    def shutdown(self) -> None:
        self.jobs.shutdown(5000)
