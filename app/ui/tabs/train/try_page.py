"""The Train tab's 'Try it' page: classify a picture file, a dropped picture or a random test image with
the model of the run being shown (its best.pt), off the GUI thread."""
from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.core.errors import UserError
from app.ui.state import AppState
from app.ui.widgets.drop_image import IMAGE_FILTER, DropImage
from app.ui.widgets.images import to_hwc, to_pixmap
from app.ui.widgets.messages import MessageArea
from app.ui.widgets.probabilities import ProbabilityBars
from app.ui.workers import Jobs, describe_error


#: below this probability for its top class, Try it says the model is not sure instead of naming a class
SURE = 0.90
SURE_RULE = (f"A model always shares 100% between the classes it knows, even for a picture that shows none of "
             f"them (a face shown to a clothes model). So when its top class gets less than {SURE:.0%}, VisionDesk "
             f"says the model is not sure rather than naming that class; the bars still show what it guessed.")


class ClassifierCache:
    """``load_classifier`` keyed by file and modification time; safe to call from job threads."""

    def __init__(self):
        self._cache: tuple[tuple, object] | None = None
        self._lock = threading.Lock()

    def get(self, path: Path):
        from app.engine.predict import load_classifier

        key = (str(path), path.stat().st_mtime_ns)
        with self._lock:
            if self._cache and self._cache[0] == key:
                return self._cache[1]
        clf = load_classifier(path)
        with self._lock:
            self._cache = (key, clf)
        return clf


def show_error(message: MessageArea, error: BaseException) -> None:
    """A job's error in the tab: a person's mistake in plain words, a bug with its details to copy."""
    summary, details, user = describe_error(error)
    if user:
        message.show_message(summary, "error")
    else:
        message.show_message(f"Something went wrong: {summary}", "error", details)


class TryItPage(QWidget):
    def __init__(self, state: AppState, jobs: Jobs, message: MessageArea, classifiers: ClassifierCache,
                 dataset: Callable[[], object], parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.jobs = jobs
        self.message = message
        self.classifiers = classifiers
        self._dataset = dataset
        self.model_dir: Path | None = None        # the run folder whose model is tried
        self.last_probabilities: np.ndarray | None = None
        self.shown: Callable[[], None] = lambda: None   # the tab brings this page to the front

        self.single_page = QWidget()          # issue 18: single pictures, or the live page (see the end)
        lay = QHBoxLayout(self.single_page)
        lay.setContentsMargins(6, 10, 6, 6)
        col = QVBoxLayout()
        self.image = DropImage()
        self.image.dropped.connect(self.try_file)
        col.addWidget(self.image, 1)
        self.open_button = QPushButton("Open a picture…")
        self.open_button.clicked.connect(self.choose_image)
        self.random_button = QPushButton("Random test image")
        self.random_button.clicked.connect(self.random_test_image)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.random_button)
        col.addLayout(row)
        lay.addLayout(col, 2)
        col2 = QVBoxLayout()
        self.model_label = QLabel("Train a model (or pick a past run) to try it on pictures.")
        self.model_label.setWordWrap(True)
        self.truth = QLabel("")
        self.truth.setWordWrap(True)
        self.truth.setToolTip(SURE_RULE)
        self.bars = ProbabilityBars()
        self.bars.empty_text = ("The five most likely classes and how sure the model is\n"
                                "appear here for the picture on the left.")
        self.note = QLabel("")
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        col2.addWidget(self.model_label)
        col2.addSpacing(6)
        col2.addWidget(self.truth)
        col2.addWidget(self.bars)
        col2.addWidget(self.note)
        col2.addStretch(1)
        lay.addLayout(col2, 3)
        # a table model is tried on a typed row instead of a picture (row_form.py)
        from app.ui.tabs.train.row_form import RowForm

        self.row_form = RowForm(jobs, message, self.bars, self.truth, self.note, dataset)
        self.row_form.hide()
        lay.insertWidget(0, self.row_form, 2)
        self._add_live_mode(col)

    # -- issue 18: live mode (camera or video file), in its own module ----------------------------
    def _add_live_mode(self, col: QVBoxLayout) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtGui import QKeySequence, QShortcut
        from PySide6.QtWidgets import QStackedWidget

        from app.ui.tabs.train.live_try import LiveTryPanel

        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip("Classify the picture on the clipboard (Ctrl+V).")
        self.paste_button.clicked.connect(self.try_clipboard)
        QShortcut(QKeySequence.StandardKey.Paste, self.single_page, activated=self.try_clipboard,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.single_page.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.live_button = QPushButton("Live: camera or video…")
        self.live_button.setToolTip("Point a webcam (or play a video file) at things and watch the model's answer "
                                    "change with every frame.")
        row2 = QHBoxLayout()
        row2.addWidget(self.paste_button)
        row2.addWidget(self.live_button)
        col.addLayout(row2)
        self.live = LiveTryPanel(self.state, self.message, self.classifiers, self.checkpoint, lambda: self.model_dir)
        self.modes = QStackedWidget()
        self.modes.addWidget(self.single_page)
        self.modes.addWidget(self.live)
        self.live_button.clicked.connect(self.show_live)
        self.live.back_button.clicked.connect(self.show_single)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.modes)

    def try_clipboard(self) -> None:
        """Classify the picture on the clipboard (a copied image, or a copied picture file)."""
        from app.ui.widgets.images import NO_PICTURE_TO_PASTE, clipboard_pictures

        files, picture = clipboard_pictures()
        if files:
            self.try_file(files[0])
        elif picture is None:
            self.message.show_message(NO_PICTURE_TO_PASTE, "warn")
        else:
            self._predict(lambda clf: (picture, None), "the pasted picture")

    def show_live(self) -> None:
        self.live.refresh_sets()
        self.modes.setCurrentWidget(self.live)

    def show_single(self) -> None:
        self.live.stop()
        self.modes.setCurrentWidget(self.single_page)

    # -- which model -------------------------------------------------------------------------------
    def set_model(self, run_dir: Path | None, best: dict | None = None) -> None:
        """Try the model of ``run_dir`` (``best``: its best metrics row, for the label)."""
        self.model_dir = Path(run_dir) if run_dir else None
        table = self.row_form.set_run(self.model_dir)       # a table model: the form replaces the picture
        self.row_form.setVisible(table)
        for w in (self.image, self.open_button, self.random_button, self.paste_button, self.live_button):
            w.setVisible(not table)
        if self.model_dir is None:
            self.model_label.setText("Train a model (or pick a past run) to try it on pictures.")
            return
        extra = ""
        acc = (best or {}).get("test_acc")
        if isinstance(acc, float):
            extra = f" (epoch {int(best.get('epoch', 0))}, {100 * acc:.1f}% on the test images)"
        self.model_label.setText(f"Model: the best checkpoint of <b>{self.model_dir.name}</b>{extra}.")

    def checkpoint(self) -> Path | None:
        """The run's best.pt (its last.pt is the training state to continue from, not a model to try)."""
        if self.model_dir is None or not (self.model_dir / "best.pt").is_file():
            return None
        return self.model_dir / "best.pt"

    # -- pictures ----------------------------------------------------------------------------------
    def choose_image(self) -> None:
        from app.ui.tabs.train.settings_page import read_setting

        path, _ = QFileDialog.getOpenFileName(self, "Choose a picture to classify",
                                              str(read_setting(self.state, "try_dir", str(Path.home()))),
                                              IMAGE_FILTER)
        if path:
            self.state.settings.setValue("train/try_dir", str(Path(path).parent))
            self.try_file(path)

    def try_file(self, path: str) -> None:
        from app.data.images import open_image

        try:
            image = open_image(path)
        except UserError as exc:
            self.message.show_message(str(exc), "error")
            return
        self._predict(lambda clf: (image, None), f"{Path(path).name}")

    def random_test_image(self) -> None:
        ds = self._dataset()
        if ds is None or len(ds.test) == 0:
            self.message.show_message("Load a data set in the Data tab to try test images.", "warn")
            return
        i = random.randrange(len(ds.test))

        def pick(clf):
            if list(ds.classes) != list(clf.classes):
                raise UserError("This model was trained on other classes than the loaded data set; load its data "
                                "set in the Data tab, or open a picture file instead.")
            return to_hwc(ds.test.images[i]), ds.classes[int(ds.test.labels[i])]

        self._predict(pick, f"test image #{i}")

    def _predict(self, pick: Callable, title: str) -> None:
        if self.row_form.active:
            self.message.show_message("This model reads rows of a table, not pictures: type a row in the form.",
                                      "warn")
            return
        path = self.checkpoint()
        if path is None:
            self.message.show_message("There is no trained model yet: press Start, or choose a past run and 'Use "
                                      "its model in Try it'.", "warn")
            return
        self.shown()
        classifiers = self.classifiers

        def job():
            clf = classifiers.get(path)
            image, truth = pick(clf)
            probs = clf.probabilities(clf.prepare(image))[0].numpy().astype(np.float64)
            return image, truth, probs, clf.classes

        def done(result, error):
            if error is not None:
                show_error(self.message, error)
                return
            self._show(title, *result)

        self.jobs.run(job, done)

    def _show(self, title: str, image, truth, probs: np.ndarray, classes: list[str]) -> None:
        self.last_probabilities = probs
        self.image.setPixmap(to_pixmap(image, 200))
        order = np.argsort(-probs)[:5]
        rows = [(classes[i], float(probs[i])) for i in order]
        self.bars.set_rows(rows, highlight=truth)
        top, p = rows[0]
        if p >= SURE:
            answer = f"the model says <b>{top}</b> ({100 * p:.1f}% sure)"
        else:
            answer = (f"the model is <b>not sure</b>: its best guess, {top}, gets only {100 * p:.1f}% "
                      f"(it names a class from {SURE:.0%}). The picture may show none of the classes it knows.")
        verdict = ""
        if truth is not None:
            verdict = " — right" if top == truth and p >= SURE else " — wrong" if top != truth else ""
            verdict = f" The true class is <b>{truth}</b>{verdict}."
        self.truth.setText(f"<b>{title}</b>: {answer}{'' if answer.endswith('.') else '.'}{verdict}")
        rest = max(0.0, 1.0 - sum(p for _, p in rows))
        self.note.setText(f"The probabilities of all {len(classes)} classes add up to {100 * probs.sum():.0f}%; "
                          f"the other classes share {100 * rest:.1f}%.")
