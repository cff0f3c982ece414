"""The data-set maker: name classes and fill them with pictures from the webcam, files, drag and drop or the clipboard.

It edits an ordinary folder of class sub-folders through ``app.data.userset.UserSet`` (every change is on disk at
once; the folder is what ``visiondesk train --data folder`` reads). The camera runs in ``LiveCamera`` (the
``vision.classify`` loop in a worker thread); pictures it captures are saved by that loop's thread, so a camera
that fails mid-recording leaves every picture taken before on disk. Opened from the Data tab
(``DatasetMakerDialog``); "Use this data set" hands the folder back to it.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QIcon, QImageReader, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFileDialog, QGroupBox, QHBoxLayout, QInputDialog, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QPushButton, QSpinBox, QSplitter, QVBoxLayout,
                               QWidget)

from app.core.errors import UserError
from app.data.userset import UserSet
from app.ui.state import AppState
from app.ui.widgets.drop_image import IMAGE_FILTER
from app.ui.widgets.images import NO_PICTURE_TO_PASTE, clipboard_pictures
from app.ui.widgets.live_camera import LiveCamera
from app.ui.widgets.messages import MessageArea

THUMB = 88
MAX_THUMBS = 400           # newest pictures shown per class (the count says how many there are)


def thumbnail(path: Path, side: int = THUMB) -> QIcon:
    """A small icon of a picture file, decoded at reduced size (JPEG decodes at 1/2, 1/4, 1/8 scale)."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > side:
        reader.setScaledSize(size.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio))
    img = reader.read()
    return QIcon(QPixmap.fromImage(img)) if not img.isNull() else QIcon()


class PictureList(QListWidget):
    """Thumbnails of one class; accepts dropped picture files (``files_dropped``)."""

    files_dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 12, THUMB + 12))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setUniformItemSizes(True)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt)
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 (Qt)
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt)
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
        else:
            event.ignore()


class DatasetMaker(QWidget):
    """Edit one ``UserSet``. ``use_requested(folder)`` when the person wants to train on it."""

    use_requested = Signal(str)

    def __init__(self, state: AppState, userset: UserSet, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.set = userset
        self._captured: list[tuple[str, Path]] = []      # filled by the camera loop's thread
        self._captured_lock = threading.Lock()
        self._recording_class: str | None = None
        self._build()
        self.refresh_classes()

    # ================================================================== layout
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        head = QHBoxLayout()
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        head.addWidget(self.title, 1)
        self.folder_button = QPushButton("Open its folder")
        self.folder_button.setToolTip("Show the data set's folder in the file manager: one sub-folder per class.")
        self.folder_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.set.root))))
        head.addWidget(self.folder_button)
        self.use_button = QPushButton("Use this data set")
        self.use_button.setToolTip("Load this data set in the Data tab, ready to train on.")
        self.use_button.clicked.connect(self.use)
        head.addWidget(self.use_button)
        outer.addLayout(head)
        self.message = MessageArea()
        outer.addWidget(self.message)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        # -- classes
        classes = QGroupBox("Classes")
        cl = QVBoxLayout(classes)
        self.class_list = QListWidget()
        self.class_list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.class_list.setToolTip("Drag a class up or down to change the order.")
        self.class_list.currentRowChanged.connect(lambda _r: self.show_pictures())
        self.class_list.model().rowsMoved.connect(self._on_rows_moved)
        cl.addWidget(self.class_list, 1)
        add_row = QHBoxLayout()
        self.class_name = QLineEdit()
        self.class_name.setPlaceholderText("New class name")
        self.class_name.returnPressed.connect(self.add_class_clicked)
        self.add_class_button = QPushButton("Add class")
        self.add_class_button.clicked.connect(self.add_class_clicked)
        add_row.addWidget(self.class_name, 1)
        add_row.addWidget(self.add_class_button)
        cl.addLayout(add_row)
        crow = QHBoxLayout()
        self.rename_button = QPushButton("Rename…")
        self.rename_button.clicked.connect(self.rename_clicked)
        self.delete_class_button = QPushButton("Delete")
        self.delete_class_button.setToolTip("Delete the class and its pictures (Undo puts them back).")
        self.delete_class_button.clicked.connect(self.delete_class_clicked)
        self.up_button = QPushButton("▲")
        self.up_button.setToolTip("Move the class up")
        self.up_button.clicked.connect(lambda: self.move_current(-1))
        self.down_button = QPushButton("▼")
        self.down_button.setToolTip("Move the class down")
        self.down_button.clicked.connect(lambda: self.move_current(1))
        for b in (self.rename_button, self.delete_class_button, self.up_button, self.down_button):
            crow.addWidget(b)
        cl.addLayout(crow)
        split.addWidget(classes)

        # -- pictures of the chosen class
        pics = QGroupBox("Pictures")
        self.pictures_box = pics
        pl = QVBoxLayout(pics)
        self.count_label = QLabel("")
        pl.addWidget(self.count_label)
        self.picture_list = PictureList()
        self.picture_list.files_dropped.connect(self.add_files)
        pl.addWidget(self.picture_list, 1)
        prow = QHBoxLayout()
        self.add_files_button = QPushButton("Add files…")
        self.add_files_button.setToolTip("Add picture files to this class (you can also drop them here, or paste "
                                         "a picture with Ctrl+V).")
        self.add_files_button.clicked.connect(self.choose_files)
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip("Add the picture on the clipboard to this class (Ctrl+V).")
        self.paste_button.clicked.connect(self.paste)
        self.delete_pictures_button = QPushButton("Delete selected")
        self.delete_pictures_button.clicked.connect(self.delete_selected)
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.clicked.connect(self.undo)
        prow2 = QHBoxLayout()
        for b in (self.add_files_button, self.paste_button):
            prow.addWidget(b)
        for b in (self.delete_pictures_button, self.undo_button):
            prow2.addWidget(b)
        prow.addStretch(1)
        prow2.addStretch(1)
        pl.addLayout(prow)
        pl.addLayout(prow2)
        split.addWidget(pics)
        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste)
        QShortcut(QKeySequence.StandardKey.Delete, self.picture_list, activated=self.delete_selected,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence.StandardKey.Undo, self, activated=self.undo)

        # -- camera
        cam = QGroupBox("Webcam")
        wl = QVBoxLayout(cam)
        self.camera = LiveCamera(self.state, empty_text="Press Start to see the camera here, then hold "
                                                        "'Hold to record' to take pictures of the chosen class.",
                                 folders=False)
        self.camera.stopped.connect(self._on_camera_stopped)
        self.camera.warning.connect(lambda text: self.message.show_message(text, "warn"))
        self.camera.result.connect(lambda _r: self._take_captured())
        wl.addWidget(self.camera, 1)
        rec = QHBoxLayout()
        self.record_button = QPushButton("Hold to record")
        self.record_button.setToolTip("Keep the button pressed: pictures are taken at the rate on the right.")
        self.record_button.pressed.connect(self.start_recording)
        self.record_button.released.connect(self.stop_recording)
        self.rate = QSpinBox()
        self.rate.setRange(1, 30)
        self.rate.setValue(int(self.state.settings.value("maker/rate", 5) or 5))
        self.rate.setSuffix(" per second")
        self.rate.valueChanged.connect(lambda v: self.state.settings.setValue("maker/rate", v))
        self.shot_button = QPushButton("Take one picture")
        self.shot_button.clicked.connect(self.take_one)
        rec.addWidget(self.record_button)
        rec.addWidget(self.rate)
        rec.addStretch(1)
        wl.addLayout(rec)
        rec2 = QHBoxLayout()
        rec2.addWidget(self.shot_button)
        rec2.addStretch(1)
        wl.addLayout(rec2)
        split.addWidget(cam)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 4)
        split.setStretchFactor(2, 4)
        split.setSizes([230, 420, 420])
        outer.addWidget(split, 1)

    # ================================================================== classes
    def current_class(self) -> str | None:
        item = self.class_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def refresh_classes(self, select: str | None = None) -> None:
        select = select or self.current_class()
        counts = self.set.counts()
        self.class_list.blockSignals(True)
        self.class_list.clear()
        for name, n in counts.items():
            item = QListWidgetItem(f"{name}  ({n})")
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.class_list.addItem(item)
        self.class_list.blockSignals(False)
        names = list(counts)
        row = names.index(select) if select in names else (0 if names else -1)
        self.class_list.setCurrentRow(row)
        total = sum(counts.values())
        self.title.setText(f"<b>{self.set.name}</b> — {len(names)} class{'es' if len(names) != 1 else ''}, "
                           f"{total} picture{'s' if total != 1 else ''}")
        self.title.setToolTip(str(self.set.root))
        has = row >= 0
        for w in (self.rename_button, self.delete_class_button, self.up_button, self.down_button,
                  self.add_files_button, self.paste_button, self.record_button, self.shot_button):
            w.setEnabled(has)
        self.undo_button.setEnabled(self.set.can_undo())
        self.use_button.setEnabled(len(names) >= 2 and total > 0)
        self.show_pictures()

    def _do(self, action, *args):
        """Run a ``UserSet`` change; a problem is shown in plain words (None is returned then)."""
        try:
            return action(*args)
        except UserError as exc:
            self.message.show_message(str(exc), "error")
            return None

    def add_class_clicked(self) -> None:
        name = self._do(self.set.add_class, self.class_name.text())
        if name is None:
            return
        self.class_name.clear()
        self.message.show_message(f"Added the class “{name}”. Now add pictures of it: hold 'Hold to record' in "
                                  f"front of the camera, or add files.", "ok")
        self.refresh_classes(select=name)

    def rename_clicked(self) -> None:
        old = self.current_class()
        if old is None:
            return
        new, ok = QInputDialog.getText(self, "Rename the class", f"New name for “{old}”:", text=old)
        if ok:
            self.rename_class(old, new)

    def rename_class(self, old: str, new: str) -> None:
        name = self._do(self.set.rename_class, old, new)
        if name is None:
            return
        note = self._retrain_note()
        self.message.show_message(f"Renamed “{old}” to “{name}”." + note, "warn" if note else "ok")
        self.refresh_classes(select=name)

    def delete_class_clicked(self) -> None:
        name = self.current_class()
        if name is None:
            return
        done = self._do(self.set.delete_class, name)
        if done is None:
            return
        note = self._retrain_note()
        self.message.show_message(f"Deleted the class “{name}” and its pictures. 'Undo delete' (Ctrl+Z) puts "
                                  f"them back." + note, "warn" if note else "info")
        self.refresh_classes()

    def move_current(self, step: int) -> None:
        name = self.current_class()
        if name is None:
            return
        self._do(self.set.move_class, name, self.class_list.currentRow() + step)
        self.refresh_classes(select=name)

    def _on_rows_moved(self, *_args) -> None:
        order = [self.class_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.class_list.count())]
        for i, name in enumerate(order):
            self._do(self.set.move_class, name, i)

    def _retrain_note(self) -> str:
        from app.engine.runs import runs_trained_on

        runs = runs_trained_on(self.set.root)
        if not runs:
            return ""
        n = len(runs)
        return (f" {n} model{'s were' if n > 1 else ' was'} trained on this data set before the change "
                f"(the latest: {runs[0].name}); train again so the model knows the classes as they are now.")

    # ================================================================== pictures
    def show_pictures(self) -> None:
        self.picture_list.clear()
        name = self.current_class()
        if name is None:
            self.pictures_box.setTitle("Pictures")
            self.count_label.setText("Add a class on the left first (e.g. “thumbs up”, “thumbs down”).")
            return
        pictures = self._do(self.set.pictures, name) or []
        self.pictures_box.setTitle(f"Pictures of “{name}”")
        for p in pictures[-MAX_THUMBS:]:
            self._add_thumb(p)
        self._update_count(len(pictures))

    def _update_count(self, n: int) -> None:
        shown = f" (the newest {MAX_THUMBS} are shown)" if n > MAX_THUMBS else ""
        self.count_label.setText(f"{n} picture{'s' if n != 1 else ''}{shown}." if n else
                                 "No pictures yet: use the webcam on the right, Add files…, drop files here, "
                                 "or paste a picture.")

    def _add_thumb(self, path: Path) -> None:
        item = QListWidgetItem(thumbnail(path), "")
        item.setData(Qt.ItemDataRole.UserRole, str(path))
        item.setToolTip(path.name)
        self.picture_list.addItem(item)

    def _after_adding(self, name: str, added: list[Path], skipped: list[str], how: str) -> None:
        if name == self.current_class():
            for p in added:
                self._add_thumb(p)
            self.picture_list.scrollToBottom()
        self._refresh_counts()
        if skipped:
            self.message.show_message(f"Added {len(added)} picture{'s' if len(added) != 1 else ''} {how}; "
                                      f"{len(skipped)} file{'s were' if len(skipped) != 1 else ' was'} not a "
                                      f"picture and left out.", "warn")
            self.message.set_details("the files left out", skipped)
        elif added:
            self.message.show_message(f"Added {len(added)} picture{'s' if len(added) != 1 else ''} of “{name}” "
                                      f"{how}.", "ok")

    def _refresh_counts(self) -> None:
        counts = self.set.counts()
        for i in range(self.class_list.count()):
            item = self.class_list.item(i)
            name = item.data(Qt.ItemDataRole.UserRole)
            item.setText(f"{name}  ({counts.get(name, 0)})")
        if self.current_class() in counts:
            self._update_count(counts[self.current_class()])
        total = sum(counts.values())
        self.title.setText(f"<b>{self.set.name}</b> — {len(counts)} class{'es' if len(counts) != 1 else ''}, "
                           f"{total} picture{'s' if total != 1 else ''}")
        self.use_button.setEnabled(len(counts) >= 2 and total > 0)

    def choose_files(self) -> None:
        start = str(self.state.settings.value("maker/files_dir", str(Path.home())) or Path.home())
        paths, _ = QFileDialog.getOpenFileNames(self, "Add pictures to the class", start, IMAGE_FILTER)
        if paths:
            self.state.settings.setValue("maker/files_dir", str(Path(paths[0]).parent))
            self.add_files(paths)

    def add_files(self, paths: list) -> None:
        name = self.current_class()
        if name is None:
            self.message.show_message("Add a class first, then its pictures.", "warn")
            return
        result = self._do(self.set.add_files, name, [Path(p) for p in paths])
        if result is not None:
            self._after_adding(name, *result, how="from files")

    def paste(self) -> None:
        name = self.current_class()
        if name is None:
            self.message.show_message("Add a class first, then paste its pictures.", "warn")
            return
        files, picture = clipboard_pictures()
        if files:
            self.add_files(files)
            return
        if picture is None:
            self.message.show_message(NO_PICTURE_TO_PASTE, "warn")
            return
        path = self._do(self.set.add_picture, name, picture)
        if path is not None:
            self._after_adding(name, [path], [], "from the clipboard")

    def selected_pictures(self) -> list[Path]:
        return [Path(i.data(Qt.ItemDataRole.UserRole)) for i in self.picture_list.selectedItems()]

    def delete_selected(self) -> None:
        name, chosen = self.current_class(), self.selected_pictures()
        if name is None or not chosen:
            self.message.show_message("Select the pictures to delete first (click, Ctrl+click, Shift+click).",
                                      "info")
            return
        if self._do(self.set.delete_pictures, name, chosen) is None:
            return
        self.message.show_message(f"Deleted {len(chosen)} picture{'s' if len(chosen) != 1 else ''}. 'Undo delete' "
                                  f"(Ctrl+Z) puts {'them' if len(chosen) != 1 else 'it'} back.", "info")
        self.refresh_classes(select=name)

    def undo(self) -> None:
        if not self.set.can_undo():
            self.message.show_message("There is nothing to undo.", "info")
            return
        what = self._do(self.set.undo)
        if what is not None:
            self.message.show_message(f"Put back {what}.", "ok")
            self.refresh_classes()

    # ================================================================== camera
    def _sink_for(self, name: str):
        def save(rgb: np.ndarray) -> None:          # the camera loop's thread
            path = self.set.add_picture(name, rgb)
            with self._captured_lock:
                self._captured.append((name, path))
        return save

    NO_CLASS = "Add a class first: the pictures go to the class chosen on the left."

    def _on_camera(self, action) -> bool:
        """``action(live)`` on the running loop, or on a new one before its first frame (Start first)."""
        if self.camera.is_running():
            action(self.camera.live)
            return True
        return self.camera.start(prepare=action)

    def start_recording(self) -> None:
        name, rate = self.current_class(), self.rate.value()
        if name is None:
            self.message.show_message(self.NO_CLASS, "warn")
            return
        if self._on_camera(lambda live: live.capture(self._sink_for(name), rate)):
            self._recording_class = name
            self.record_button.setText("Recording… (release to stop)")

    def stop_recording(self) -> None:
        if self.camera.live is not None:
            self.camera.live.stop_capture()
        self.record_button.setText("Hold to record")
        self._take_captured()
        self._recording_class = None

    def take_one(self) -> None:
        name = self.current_class()
        if name is None:
            self.message.show_message(self.NO_CLASS, "warn")
            return
        self._on_camera(lambda live: live.snap(self._sink_for(name)))

    def _take_captured(self) -> None:
        with self._captured_lock:
            new, self._captured = self._captured, []
        if not new:
            return
        shown = self.current_class()
        for name, path in new:
            if name == shown:
                self._add_thumb(path)
        self.picture_list.scrollToBottom()
        self._refresh_counts()

    def _on_camera_stopped(self, text: str, level: str) -> None:
        self._take_captured()
        if self.record_button.isDown() or self._recording_class:
            self.record_button.setDown(False)
            self.record_button.setText("Hold to record")
            self._recording_class = None
        if level == "error":
            kept = sum(self.set.counts().values())
            self.message.show_message(f"{text} The pictures already taken are kept ({kept} in this data set). "
                                      f"Open a video file or plug the camera in, then press Start.", "error")

    def use(self) -> None:
        self.stop_camera()
        self.use_requested.emit(str(self.set.root))

    def stop_camera(self) -> None:
        if self.camera.is_running():
            self.camera.stop()
        self._take_captured()

    def shutdown(self) -> None:
        self.stop_camera()
        self.camera.shutdown()


class DatasetMakerDialog(QDialog):
    """The maker in its own window (not modal: the person can look at the other tabs meanwhile)."""

    def __init__(self, state: AppState, userset: UserSet, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Data set maker — {userset.name}")
        self.maker = DatasetMaker(state, userset, self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.maker)
        self.maker.use_requested.connect(lambda _p: self.accept())
        self.resize(1180, 720)

    def done(self, result: int) -> None:  # noqa: D401 (Qt) closing in any way stops the camera first
        self.maker.shutdown()
        super().done(result)
