"""The Data tab: choose a data set (built in, downloaded or an image folder), load it, look at it.

Loading runs off the GUI thread (``workers.Jobs(serial=True)``: one load after another) through ``app.data.load_dataset`` with progress and
cancel callbacks; the worker never touches a widget. A loaded data set goes to ``AppState`` with
``state.set_dataset``; when a load fails, the message is shown in the tab and the data set loaded
before stays in use. The choices are kept in ``state.settings`` and restored at the next start.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.data import DATASETS, TABLES, Cancelled, DatasetNotFound, ImageDataset, load_dataset
from app.data.folder import WrongLevel
from app.data.table import TableDataset
from app.core.errors import OfflineError, UserError
from app.core.paths import default_data_root
from app.models.suggest import own_pictures_side
from app.ui.state import AppState
from app.ui.tabs.dataset_maker.link import DatasetMakerLink
from app.ui.widgets.data_class_chart import ClassCountChart
from app.ui.widgets.data_thumbnails import ThumbnailGrid
from app.ui.widgets.messages import MessageArea
from app.data.table import TargetProblem, load_table
from app.ui.widgets.table_preview import CSV_FILTER, TablePreview, table_messages
from app.ui.workers import Jobs, Worker, describe_error

SAMPLE = "fashion-mnist-sample"
BUILTIN = ("mnist", "fashion-mnist", "cifar10")
FOLDER = "folder"
TABLE = "csv"

# (key, what the person sees in the list)
SOURCES: list[tuple[str, str]] = [
    (SAMPLE, "Fashion-MNIST sample (built in, works offline)"),
    ("mnist", "MNIST: handwritten digits"),
    ("fashion-mnist", "Fashion-MNIST: clothes"),
    ("cifar10", "CIFAR-10: small colour photos"),
    (FOLDER, "My own image folder"),
    (TABLE, "My own table (CSV file)"),
]
TITLES = {SAMPLE: "Fashion-MNIST sample", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST",
          "cifar10": "CIFAR-10", FOLDER: "Image folder", TABLE: "Table"}
SIZES: list[int | None] = [None, 28, 32, 48, 64, 96, 128, 160, 224]
FEW_IMAGES = 5
NEXT_STEPS = ("What next: this data set is ready to learn from (or choose your own pictures above). Pick a model "
              "in the Model tab, then press Start in the Train tab.")   # fewer training images than this in a class earns a warning

_K_NAME, _K_ROOT, _K_FOLDER, _K_SIZE = "data/name", "data/root", "data/folder", "data/image_size"
_K_CSV, _K_TARGET = "data/csv", "data/csv_target"


def _note_level(note: str) -> str:
    """Data set notes are plain sentences; the ones about something left out or changed are warnings."""
    lowered = note.lower()
    # ("resized to ..." is not among them: photos of many sizes are always made one size, as expected)
    if any(w in lowered for w in ("left out", "could not be used", "no test images", "skipped")):
        return "warn"
    return "info"


class DataTab(DatasetMakerLink, QWidget):
    """Choose, load and inspect the data set every other tab uses."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.settings = state.settings
        self._jobs = Jobs(self, serial=True)
        self._job_id: int | None = None
        self._job_count = 0
        self._worker: Worker | None = None
        self._job_spec: dict = {}
        self._job_download = False
        self._restoring = False
        self._restore_note = ""
        self.loaded_spec: dict = {}
        # no data set chosen before: the first launch, when a newcomer needs to know what comes next
        self._first_launch = self.settings.value(_K_NAME, None) is None
        self.setAcceptDrops(True)
        self._build_ui()
        self._restore()

    # ------------------------------------------------------------------------------- layout --
    def _build_ui(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.setSpacing(8)

        choose = QGroupBox("Choose the data")
        grid = QGridLayout(choose)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        grid.setColumnStretch(1, 1)

        grid.addWidget(QLabel("Data set:"), 0, 0)
        self.source_combo = QComboBox()
        for key, text in SOURCES:
            self.source_combo.addItem(text, key)
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        top = QHBoxLayout()
        top.addWidget(self.source_combo)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: #666666;")
        self.description.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        top.addWidget(self.description, 1)
        grid.addLayout(top, 0, 1, 1, 2)

        self.path_label = QLabel("Data folder:")
        grid.addWidget(self.path_label, 1, 0)
        path_row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setClearButtonEnabled(True)
        self.path_edit.returnPressed.connect(self.load)
        path_row.addWidget(self.path_edit, 1)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        path_row.addWidget(self.browse_button)
        self.size_label = QLabel("Image size:")
        path_row.addSpacing(8)
        path_row.addWidget(self.size_label)
        self.size_combo = QComboBox()
        for size in SIZES:
            self.size_combo.addItem("Keep original size" if size is None else f"{size} × {size} pixels", size)
        side = own_pictures_side()
        self.size_combo.setToolTip("Every image is resized (keeping its centre) to this size. 'Keep original "
                                   "size' uses the images' own size when they all share one (up to 256 pixels), "
                                   f"else {side} × {side}, the size the suggested model works best at.")
        self.size_combo.currentIndexChanged.connect(self._on_size_changed)
        path_row.addWidget(self.size_combo)
        path_row.addSpacing(8)
        self.load_button = QPushButton("Load")
        self.load_button.setDefault(True)
        self.load_button.clicked.connect(self.load)
        path_row.addWidget(self.load_button)
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Download this data set from the internet into the data folder.")
        self.download_button.clicked.connect(self.download)
        path_row.addWidget(self.download_button)
        self.path_row = QWidget()
        self.path_row.setLayout(path_row)
        path_row.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.path_row, 1, 1, 1, 2)
        self.hint = QLabel()
        self.hint.setStyleSheet("color: #666666;")
        grid.addWidget(self.hint, 2, 1, 1, 2)

        # Progress of a running load, with its Cancel button (hidden when idle).
        self.progress_row = QWidget()
        prow = QHBoxLayout(self.progress_row)
        prow.setContentsMargins(0, 0, 0, 0)
        self.progress_label = QLabel()
        prow.addWidget(self.progress_label)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        prow.addWidget(self.progress, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        prow.addWidget(self.cancel_button)
        grid.addWidget(self.progress_row, 3, 0, 1, 3)
        self.progress_row.hide()
        self._build_maker_row(grid, 4)          # issue 18: make a data set in the app
        outer.addWidget(choose)

        self.messages = MessageArea()
        outer.addWidget(self.messages)

        # What is loaded: facts and the bar chart on the left, sample images on the right.
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        left = QWidget()
        lcol = QVBoxLayout(left)
        lcol.setContentsMargins(0, 0, 0, 0)
        self.summary_box = QGroupBox("Loaded data set")
        form = QFormLayout(self.summary_box)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(12)
        self.facts: dict[str, QLabel] = {}
        for key, label in (("name", "Data set"), ("source", "From"), ("train", "Training images"),
                           ("test", "Test images"), ("size", "Image size"), ("channels", "Colours"),
                           ("classes", "Classes")):
            value = QLabel("—")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if key == "classes":       # the class names wrap rather than being cut
                value.setWordWrap(True)
            else:
                value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.facts[key] = value
            form.addRow(label + ":", value)
        self.summary_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        lcol.addWidget(self.summary_box)
        chart_box = QGroupBox("Images per class")
        ccol = QVBoxLayout(chart_box)
        self.chart = ClassCountChart()
        ccol.addWidget(self.chart)
        lcol.addWidget(chart_box, 1)
        split.addWidget(left)

        thumbs_box = QGroupBox("Sample images")
        tcol = QVBoxLayout(thumbs_box)
        trow = QHBoxLayout()
        trow.addWidget(QLabel("Show:"))
        self.split_combo = QComboBox()
        self.split_combo.addItem("training images", "train")
        self.split_combo.addItem("test images", "test")
        self.split_combo.currentIndexChanged.connect(self._show_thumbnails)
        trow.addWidget(self.split_combo)
        trow.addStretch(1)
        self.other_button = QPushButton("Show other images")
        self.other_button.setEnabled(False)
        trow.addWidget(self.other_button)
        tcol.addLayout(trow)
        self.thumbnails = ThumbnailGrid(6, 8)
        self.other_button.clicked.connect(self.thumbnails.new_page)
        tcol.addWidget(self.thumbnails, 1)
        split.addWidget(thumbs_box)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 5)
        split.setSizes([520, 650])
        # a table (CSV) is shown as its columns and first rows instead of images
        self.views = QStackedWidget()
        self.views.addWidget(split)
        self.preview = TablePreview()
        self.preview.targetChosen.connect(self._on_target_chosen)
        self.views.addWidget(self.preview)
        outer.addWidget(self.views, 1)

    # ------------------------------------------------------------------------------ choices --
    def current_source(self) -> str:
        return str(self.source_combo.currentData())

    def chosen_folder(self) -> str:
        """The image folder typed or picked above ("" when another source is chosen)."""
        return self.path_edit.text().strip() if self.current_source() == FOLDER else ""

    def current_size(self) -> int | None:
        return self.size_combo.currentData()

    def _set_source(self, key: str) -> None:
        """Select ``key`` in the list without loading."""
        i = self.source_combo.findData(key)
        self.source_combo.blockSignals(True)
        self.source_combo.setCurrentIndex(max(i, 0))
        self.source_combo.blockSignals(False)
        self._update_controls()

    def _set_size(self, size: int | None) -> None:
        """Select ``size`` without loading (a size not in the list, e.g. from a past run, is added)."""
        self.size_combo.blockSignals(True)
        i = self.size_combo.findData(size)
        if i < 0 and size is not None:
            self.size_combo.addItem(f"{size} × {size} pixels", size)
            i = self.size_combo.count() - 1
        self.size_combo.setCurrentIndex(max(i, 0))
        self.size_combo.blockSignals(False)

    def _update_controls(self) -> None:
        key = self.current_source()
        busy = self._job_id is not None
        self.description.setText(DATASETS.get(key, TABLES.get(key, "")))
        self.path_row.setVisible(key != SAMPLE)
        folder = key == FOLDER
        self.path_label.setVisible(key != SAMPLE)
        self.hint.setVisible(key not in (SAMPLE, TABLE))     # a table's description says it all
        self.path_label.setText("Image folder:" if folder else "CSV file:" if key == TABLE else "Data folder:")
        self.size_label.setVisible(folder)
        self.size_combo.setVisible(folder)
        self.download_button.setVisible(key in BUILTIN)
        # The line edit shows the folder of the current kind of source.
        self.path_edit.blockSignals(True)
        if key == TABLE:
            self.path_edit.setText(str(self.settings.value(_K_CSV, "") or ""))
            self.path_edit.setPlaceholderText("A CSV file: one row per example, one column to predict")
            self.hint.setText("")
        elif folder:
            self.path_edit.setText(str(self.settings.value(_K_FOLDER, "") or ""))
            self.path_edit.setPlaceholderText("A folder with one sub-folder of images per class")
            self.hint.setText("Tip: you can also drag a folder from your file manager and drop it onto this tab.")
        else:
            self.path_edit.setText(str(self.settings.value(_K_ROOT, "") or default_data_root()))
            self.path_edit.setPlaceholderText(str(default_data_root()))
            self.hint.setText(f"{TITLES.get(key, key)} is read from (or downloaded into) this folder."
                              if key in BUILTIN else "")
        self.path_edit.blockSignals(False)
        for w in (self.source_combo, self.path_edit, self.browse_button, self.size_combo, self.load_button,
                  self.download_button):
            w.setEnabled(not busy)

    @Slot(int)
    def _on_source_changed(self, _index: int) -> None:
        self._update_controls()
        key = self.current_source()
        if key == TABLE and not self.path_edit.text().strip():
            self.messages.show_message("Choose a CSV file with Browse…: one row per example, a header row "
                                       "with the column names, and a column to predict.", "info")
            return
        if key == FOLDER and not self.path_edit.text().strip():
            self.messages.show_message("Choose a folder of images with Browse…, or drop one onto this "
                                       "tab. Put each class's images in its own sub-folder (e.g. cats/ and dogs/).", "info")
            return
        self.load()

    @Slot(int)
    def _on_size_changed(self, _index: int) -> None:
        if self.current_source() == FOLDER and self.path_edit.text().strip():
            self.load()

    def _browse(self) -> None:
        key = self.current_source()
        start = self.path_edit.text().strip() or str(Path.home())
        if key == TABLE:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a table (CSV file)", start, CSV_FILTER)
            if path:
                self.open_table(path)
        elif key == FOLDER:
            path = QFileDialog.getExistingDirectory(self, "Choose an image folder (one sub-folder per class)", start)
            if path:
                self.open_folder(path)
        else:
            path = QFileDialog.getExistingDirectory(self, f"Choose the folder for {TITLES.get(key, key)}", start)
            if path:
                self.path_edit.setText(path)
                self.settings.setValue(_K_ROOT, path)
                self.load()

    # ------------------------------------------------------------------------------- public --
    def open_folder(self, path) -> None:
        """Select the image folder ``path`` and load it (File > Open image folder, drag and drop)."""
        if self._job_id is not None:
            self.messages.show_message("A data set is still loading; wait for it or press Cancel first.", "warn")
            return
        self.settings.setValue(_K_FOLDER, str(path))
        self._set_source(FOLDER)
        self.path_edit.setText(str(path))
        self.load()

    def open_table(self, path, target: str | None = None) -> None:
        """Select the CSV file ``path`` and load it (``target``: the column to predict; None: the saved
        choice for this file, else the suggested one)."""
        if self._job_id is not None:
            self.messages.show_message("A data set is still loading; wait for it or press Cancel first.", "warn")
            return
        if str(path) != str(self.settings.value(_K_CSV, "") or ""):
            self.settings.setValue(_K_TARGET, "")      # another file: its own suggestion
        self.settings.setValue(_K_CSV, str(path))
        if target is not None:
            self.settings.setValue(_K_TARGET, target)
        self._set_source(TABLE)
        self.path_edit.setText(str(path))
        self.load()

    def _on_target_chosen(self, target: str) -> None:
        path = (self.loaded_spec.get("data_root") if self.loaded_spec.get("data") == TABLE else None) \
            or self.path_edit.text().strip()
        self.open_table(path, target)

    def load(self) -> None:
        """Load what the controls describe (in the background)."""
        self._start(download=False)

    def download(self) -> None:
        """Download the chosen built-in data set (if missing), then load it."""
        self._start(download=True)

    def cancel(self) -> None:
        if self._job_id is not None:
            if self._worker is not None:
                self._worker.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling…")

    def is_busy(self) -> bool:
        return self._jobs.is_busy()

    def shutdown(self) -> None:
        if getattr(self, "maker_dialog", None) is not None:
            self.maker_dialog.close()
        if self._worker is not None:
            self._worker.cancel()
        self._jobs.shutdown()
        self.state.set_busy("data", "")

    # ------------------------------------------------------------------------------ loading --
    def _spec_from_controls(self) -> dict | None:
        key = self.current_source()
        text = self.path_edit.text().strip()
        if key == SAMPLE:
            return {"data": SAMPLE, "data_root": None, "image_size": None}
        if key == TABLE:
            if not text:
                self.messages.show_message("Choose a CSV file first (Browse…).", "warn")
                return None
            if text != str(self.settings.value(_K_CSV, "") or ""):
                self.settings.setValue(_K_TARGET, "")
            return {"data": TABLE, "data_root": str(Path(text).expanduser()), "image_size": None,
                    "target": str(self.settings.value(_K_TARGET, "") or "") or None}
        if key == FOLDER:
            if not text:
                self.messages.show_message("Choose a folder of images first (Browse…, or drop a "
                                           "folder onto this tab).", "warn")
                return None
            return {"data": FOLDER, "data_root": str(Path(text).expanduser()), "image_size": self.current_size()}
        root = str(Path(text).expanduser()) if text else str(default_data_root())
        return {"data": key, "data_root": root, "image_size": None}

    def _start(self, download: bool, spec: dict | None = None) -> None:
        if self._job_id is not None:
            return
        spec = spec or self._spec_from_controls()
        if spec is None:
            return
        if download and spec["data"] not in BUILTIN:
            download = False
        holder: dict[str, Worker] = {}

        def cancelled() -> bool:
            worker = holder.get("worker")
            return worker is not None and worker.ctx is not None and worker.ctx.cancelled

        def job(report):
            if spec["data"] == TABLE:
                return load_table(spec["data_root"], spec.get("target"))
            return load_dataset(spec["data"], spec["data_root"], size=spec["image_size"], download=download,
                                progress=report, cancel=cancelled, fallback_size=own_pictures_side())

        self._job_spec, self._job_download = dict(spec), download
        what = f"{'Downloading' if download else 'Loading'} {self._title(spec)}"
        self.progress_label.setText(what + "…")
        self.progress.setRange(0, 0)       # busy until the first progress report
        self.cancel_button.setEnabled(True)
        self.progress_row.show()
        self._job_count += 1
        job_id = self._job_id = self._job_count

        def done(result, error):
            if error is not None:
                self._on_failed(job_id, error)
            else:
                self._on_loaded(job_id, result)

        self._worker = holder["worker"] = self._jobs.run(
            job, done, progress=True, on_progress=lambda d, t: self._on_progress(job_id, d, t))
        self.state.set_busy("data", what)
        self._update_controls()

    def _on_progress(self, job_id: int, done: int, total: int) -> None:
        if job_id != self._job_id or (self._worker is not None and self._worker.ctx is not None
                                      and self._worker.ctx.cancelled):
            return
        if total > 1:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"{done:,} of {total:,}")

    def _end_job(self) -> dict:
        spec = self._job_spec
        self._job_id = None
        self._worker = None
        self.progress_row.hide()
        self.state.set_busy("data", "")
        self._update_controls()
        return spec

    def _on_loaded(self, job_id: int, ds: ImageDataset) -> None:
        if job_id != self._job_id:
            return
        spec = self._end_job()
        fallback_note = self._restore_note if self._restoring else ""
        self._restoring = False
        self._restore_note = ""
        self.loaded_spec = spec
        self.settings.setValue(_K_NAME, spec["data"])
        if spec["data"] == FOLDER:
            self.settings.setValue(_K_FOLDER, spec["data_root"])
            self.settings.setValue(_K_SIZE, spec["image_size"] or 0)
        elif spec["data"] in BUILTIN:
            self.settings.setValue(_K_ROOT, spec["data_root"])
        if isinstance(ds, TableDataset):
            self._on_table_loaded(ds, spec, fallback_note)
            return
        self.views.setCurrentIndex(0)
        self.state.set_dataset(ds, spec)
        self._show_dataset(ds, spec)
        self.messages.clear()
        if fallback_note:
            self.messages.add(fallback_note, "warn")
        infos = [n for n in ds.notes if _note_level(n) == "info"]
        warnings = [n for n in ds.notes if _note_level(n) == "warn"]
        headline = (f"Loaded {self._title(spec)}: {len(ds.train):,} training and {len(ds.test):,} test images "
                    f"in {ds.num_classes} classes.")
        self.messages.add("\n".join([headline, *infos]), "ok")
        warnings = [n for n in warnings if not (ds.skipped and "could not be used" in n)]
        counts = np.bincount(ds.train.labels.numpy(), minlength=ds.num_classes)
        few = [c for c, n in zip(ds.classes, counts) if n < FEW_IMAGES]
        if few:
            shown = ", ".join(few[:8]) + (f" and {len(few) - 8} more" if len(few) > 8 else "")
            warnings.append(f"Very few training images (fewer than {FEW_IMAGES}) for: {shown}. "
                            f"The model cannot learn these classes well; add more images.")
        if ds.skipped:
            n = len(ds.skipped)
            warnings.append(f"{n} file{'s' if n > 1 else ''} could not be read and {'were' if n > 1 else 'was'} "
                            f"skipped (the list is below).")
        if warnings:
            self.messages.add("\n".join(warnings), "warn")
        if self._first_launch:
            self._first_launch = False
            self.messages.add(NEXT_STEPS, "info")
        if getattr(self, "_maker_note", ""):        # issue 18: the model chosen for a data set from the maker
            self.messages.add(self._maker_note, "info")
            self._maker_note = ""
        if ds.skipped:
            n = len(ds.skipped)
            self.messages.set_details(f"the {n} skipped file{'s' if n > 1 else ''}", list(ds.skipped))

    def _on_failed(self, job_id: int, exc: BaseException) -> None:
        if job_id != self._job_id:
            return
        spec = self._end_job()
        title = self._title(spec)
        details = ""
        if isinstance(exc, Cancelled):
            level, text = "info", f"Loading {title} was cancelled."
        elif isinstance(exc, OfflineError):
            level, text = "error", str(exc)
        elif isinstance(exc, DatasetNotFound):
            level, text = "warn", str(exc)
        elif isinstance(exc, WrongLevel):      # issue 18: one level off; offer the right folder
            self.messages.clear()
            self.messages.add(str(exc), "warn", fix=(f"Use “{exc.suggestion.name}”",
                                                     lambda p=exc.suggestion: self.open_folder(p)))
            return
        elif isinstance(exc, UserError):
            level, text = "error", str(exc)
        elif isinstance(exc, MemoryError):
            level, text = "error", (f"Not enough memory to load {title}; choose a smaller image size or a "
                                    f"smaller folder.")
        else:
            level, text = "error", (f"Something unexpected went wrong while loading {title}. 'Copy details' "
                                    f"has the technical report for a bug report.")
            details = describe_error(exc)[1]
        if self._restoring:
            self._restoring = False
            if spec.get("data") != SAMPLE:
                # The data set used last time cannot be loaded now: fall back to the built-in sample.
                self._restore_note = (f"The data set you used last time could not be loaded, so the built-in "
                                      f"Fashion-MNIST sample is used instead. The reason: {text}")
                self._restoring = True
                self._set_source(SAMPLE)
                self._start(download=False, spec={"data": SAMPLE, "data_root": None, "image_size": None})
                return
            if self._restore_note:
                text = f"{self._restore_note} {text}"
        if spec.get("data") == TABLE:
            self._table_failed(exc, spec)
        if self.state.dataset is not None and self.loaded_spec:
            text += f" Still using {self._title(self.loaded_spec)}, the data set loaded before."
        self.messages.clear()
        self.messages.add(text, level, details)

    # ------------------------------------------------------------------------------ display --
    @staticmethod
    def _title(spec: dict) -> str:
        key = spec.get("data", "")
        if key == FOLDER and spec.get("data_root"):
            return f"the folder “{Path(spec['data_root']).name or spec['data_root']}”"
        if key == TABLE and spec.get("data_root"):
            return f"the table “{Path(spec['data_root']).name}”"
        return TITLES.get(key, key)

    def _show_dataset(self, ds: ImageDataset, spec: dict) -> None:
        key = spec.get("data", "")
        self.summary_box.setTitle("Loaded data set")
        name = TITLES.get(key, key)
        if key == FOLDER:
            name = f"{Path(spec['data_root']).name} (image folder)"
        self.facts["name"].setText(name)
        source = "built into VisionDesk" if key == SAMPLE else str(ds.source or spec.get("data_root") or "")
        self.facts["source"].setText(source)
        self.facts["source"].setToolTip(source)
        self.facts["train"].setText(f"{len(ds.train):,}")
        self.facts["test"].setText(f"{len(ds.test):,}")
        h, w = ds.size
        self.facts["size"].setText(f"{w} × {h} pixels")
        self.facts["channels"].setText("grey (1 channel)" if ds.channels == 1 else f"colour ({ds.channels} channels)")
        names = ", ".join(ds.classes[:6]) + (", …" if ds.num_classes > 6 else "")
        self.facts["classes"].setText(f"{ds.num_classes}: {names}")
        self.facts["classes"].setToolTip(", ".join(ds.classes))
        train = np.bincount(ds.train.labels.numpy(), minlength=ds.num_classes)
        test = np.bincount(ds.test.labels.numpy(), minlength=ds.num_classes)
        self.chart.set_counts(ds.classes, train, test)
        self._show_thumbnails()

    @Slot()
    def _show_thumbnails(self, *_args) -> None:
        ds = self.state.dataset
        if ds is None:
            self.thumbnails.set_images(None, None, [])
            self.other_button.setEnabled(False)
            return
        split = ds.test if self.split_combo.currentData() == "test" and len(ds.test) else ds.train
        self.thumbnails.set_images(split.images, split.labels, ds.classes)
        self.other_button.setEnabled(len(split) > 0)

    # -------------------------------------------------------------------------------- tables --
    def _on_table_loaded(self, ds: TableDataset, spec: dict, fallback_note: str) -> None:
        spec = {**spec, "target": ds.target}
        self.loaded_spec = spec
        self.settings.setValue(_K_CSV, spec["data_root"])
        self.settings.setValue(_K_TARGET, ds.target)
        self.state.set_dataset(ds, spec)
        self.preview.set_dataset(ds)
        self.views.setCurrentWidget(self.preview)
        self.messages.clear()
        if fallback_note:
            self.messages.add(fallback_note, "warn")
        for text, level in table_messages(ds):
            self.messages.add(text, level)

    def _table_failed(self, exc: BaseException, spec: dict) -> None:
        """A table did not load: the preview shows what is in use, or the file's columns to choose another target."""
        loaded = self.loaded_spec if isinstance(self.state.dataset, TableDataset) else {}
        if loaded and loaded.get("data_root") == spec.get("data_root"):
            self.preview.set_dataset(self.state.dataset)       # back to the column in use
            self.settings.setValue(_K_TARGET, loaded.get("target") or "")
        elif isinstance(exc, TargetProblem):
            self.preview.show_columns(exc.header, exc.rows, spec.get("target") or exc.suggestion, exc.suggestion,
                                      spec.get("data_root") or "")
            self.views.setCurrentWidget(self.preview)

    # ------------------------------------------------------------------------------ restore --
    def _restore(self) -> None:
        """Select the choices of the last session and load that data set (the sample the first time)."""
        self._restore_note = ""
        name = str(self.settings.value(_K_NAME, SAMPLE) or SAMPLE)
        if self.source_combo.findData(name) < 0:
            name = SAMPLE
        try:
            size = int(self.settings.value(_K_SIZE, 0) or 0) or None
        except (TypeError, ValueError):
            size = None
        self._set_size(size if size is None or 4 <= size <= 1024 else None)
        self._set_source(name)
        spec = self._spec_from_controls() if name != FOLDER or self.path_edit.text().strip() else None
        if spec is None:
            self._set_source(SAMPLE)
            spec = {"data": SAMPLE, "data_root": None, "image_size": None}
        self.messages.clear()
        self._restoring = True
        self._start(download=False, spec=spec)

    # ------------------------------------------------------------------------- drag & drop --
    def dragEnterEvent(self, event) -> None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if any(u.isLocalFile() for u in urls) and self._job_id is None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        folders = [p for p in paths if p.is_dir()]
        tables = [p for p in paths if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz", ".tsv"))]
        if tables and not folders:             # a CSV file dropped: load it as a table
            event.acceptProposedAction()
            self.open_table(tables[0])
            return
        if not folders:
            self.messages.show_message("Drop a folder, not single files: the folder that holds one "
                                       "sub-folder of images per class (e.g. cats/ and dogs/), or a table "
                                       "as a .csv file.", "warn")
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_folder(folders[0])
