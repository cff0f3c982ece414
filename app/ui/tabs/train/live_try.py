"""Try it, live (issue 18): the model of the run shown, on a webcam or a video file, every frame.

The loop is ``vision.classify.ClassifyLive`` inside ``widgets.live_camera.LiveCamera`` (a ``workers.Worker``
with ``latest_only``: the window shows the newest frame and never queues). This page shows the top classes as
bars, frames per second, and "not sure" when the top class is below a threshold the person moves. When the
model is wrong, one click adds the frame on screen to the right class of a data set made in the app (or of the
run's own image folder), ready for the next training.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSlider, QSplitter,
                               QVBoxLayout, QWidget)

from app.core.errors import UserError
from app.ui.state import AppState
from app.ui.widgets.live_camera import LiveCamera
from app.ui.widgets.messages import MessageArea
from app.ui.widgets.probabilities import ProbabilityBars

TOP_K = 5
LABEL_EVERY_S = 0.25          # the numbers under the bars change at most 4 times a second (readable)


def _labelled_combo(layout: QVBoxLayout, label: str) -> QComboBox:
    """A row "label [combo box]" added to ``layout``; the box keeps room for about 8 characters."""
    row = QHBoxLayout()
    row.addWidget(QLabel(label))
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)
    row.addWidget(combo, 1)
    layout.addLayout(row)
    return combo


class LiveTryPanel(QWidget):
    """``checkpoint()`` gives the model file to try (None: no model yet); ``classifiers.get(path)`` loads it."""

    def __init__(self, state: AppState, message: MessageArea, classifiers, checkpoint: Callable[[], Path | None],
                 model_dir: Callable[[], Path | None], parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.message = message
        self.classifiers = classifiers
        self._checkpoint = checkpoint
        self._model_dir = model_dir
        self.threshold = int(state.settings.value("train/live_threshold", 90) or 90) / 100.0
        self.last_rows: list[tuple[str, float]] = []
        self.updates = 0
        self._label_time = 0.0
        self._build()

    # ================================================================== layout
    def _build(self) -> None:
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        self.camera = LiveCamera(self.state, loader=self._loader,
                                 empty_text="Press Start: the model looks at every frame of the camera or video "
                                            "and shows what it sees on the right.")
        self.camera.result.connect(self._on_result)
        self.camera.stopped.connect(self._on_stopped)
        split.addWidget(self.camera)

        right = QWidget()
        col = QVBoxLayout(right)
        col.setContentsMargins(6, 0, 0, 0)
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        self.model_label.setObjectName("hint")
        col.addWidget(self.model_label)
        self.verdict = QLabel("The model's answer for each frame appears here.")
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        self.verdict.setMinimumHeight(44)
        col.addWidget(self.verdict)
        self.bars = ProbabilityBars()
        self.bars.empty_text = "The most likely classes, updated every frame."
        col.addWidget(self.bars)
        self.speed = QLabel("")
        self.speed.setObjectName("hint")
        col.addWidget(self.speed)
        trow = QHBoxLayout()
        trow.addWidget(QLabel("Not sure below:"))
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(30, 99)
        self.threshold_slider.setValue(round(self.threshold * 100))
        self.threshold_slider.setToolTip("When the top class gets less than this, the model is shown as not sure "
                                         "(a model always shares 100% between its classes, even for things it "
                                         "never saw).")
        self.threshold_slider.valueChanged.connect(self.set_threshold)
        self.threshold_label = QLabel(f"{round(self.threshold * 100)}%")
        self.threshold_label.setMinimumWidth(self.threshold_label.fontMetrics().horizontalAdvance("100%") + 4)
        trow.addWidget(self.threshold_slider, 1)
        trow.addWidget(self.threshold_label)
        col.addLayout(trow)

        fix = QGroupBox("Wrong answer? Teach it")
        fl = QVBoxLayout(fix)
        hint = QLabel("Add the picture on screen to the right class of your data set, then train again.")
        hint.setWordWrap(True)
        hint.setObjectName("hint")
        fl.addWidget(hint)
        self.set_combo = _labelled_combo(fl, "Data set:")
        self.set_combo.currentIndexChanged.connect(self._fill_classes)
        self.class_combo = _labelled_combo(fl, "Right class:")
        self.add_button = QPushButton("Add this picture to the class")
        self.add_button.setToolTip("Save the frame on screen as a picture of the chosen class.")
        self.add_button.clicked.connect(self.add_frame)
        fl.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignRight)
        col.addWidget(fix)
        col.addStretch(1)
        self.back_button = QPushButton("Back to single pictures")
        col.addWidget(self.back_button, 0, Qt.AlignmentFlag.AlignRight)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([560, 400])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

    # ================================================================== the model
    def _loader(self):
        path = self._checkpoint()
        if path is None:
            raise UserError("There is no trained model to try yet: press Start in the settings on the left, or "
                            "choose a past run and 'Use its model in Try it'.")
        classifiers = self.classifiers
        return lambda: classifiers.get(path)

    def refresh_sets(self) -> None:
        """The data sets a frame can go to: the run's own image folder first, then those made in the app."""
        from app.data.userset import UserSet

        current = self.set_combo.currentData()
        options: list[tuple[str, str]] = []
        run = self._model_dir()
        self.model_label.setText(f"Model: the best checkpoint of {run.name}." if run is not None else
                                 "No model yet: train one, or choose a past run and 'Use its model in Try it'.")
        if run is not None:
            try:
                from app.engine.config import TrainConfig

                cfg = TrainConfig.load(run / "config.json")
                if cfg.data == "folder" and cfg.data_root and Path(cfg.data_root).is_dir():
                    options.append((f"{Path(cfg.data_root).name} (this model's data)", str(Path(cfg.data_root))))
            except (UserError, OSError):
                pass
        for p in UserSet.existing():
            if str(p) not in {o[1] for o in options}:
                options.append((p.name, str(p)))
        self.set_combo.blockSignals(True)
        self.set_combo.clear()
        for text, path in options:
            self.set_combo.addItem(text, path)
        if not options:
            self.set_combo.addItem("none yet: make one in the Data tab (New data set…)", None)
        i = self.set_combo.findData(current)
        self.set_combo.setCurrentIndex(max(i, 0))
        self.set_combo.blockSignals(False)
        self._fill_classes()

    def _fill_classes(self, *_args) -> None:
        from app.data.userset import UserSet

        self.class_combo.clear()
        path = self.set_combo.currentData()
        if path:
            try:
                for c in UserSet(path).classes():
                    self.class_combo.addItem(c, c)
            except UserError:
                pass
        self.add_button.setEnabled(self.class_combo.count() > 0)

    # ================================================================== live
    def start(self) -> bool:
        self.refresh_sets()
        return self.camera.start()

    def stop(self) -> None:
        self.camera.stop()

    def set_threshold(self, percent: int) -> None:
        self.threshold = percent / 100.0
        self.threshold_label.setText(f"{percent}%")
        self.state.settings.setValue("train/live_threshold", percent)
        if self.last_rows:
            self._show_verdict(self.last_rows)

    def _on_result(self, res) -> None:
        import time

        rows = res.top(TOP_K)
        if not rows:
            return
        self.last_rows = rows
        self.updates += 1
        self.bars.set_rows(rows, highlight=rows[0][0] if rows[0][1] >= self.threshold else None)
        self._show_verdict(rows)
        now = time.perf_counter()
        if now - self._label_time >= LABEL_EVERY_S:
            self._label_time = now
            self.speed.setText(f"{res.fps:.1f} frames per second · model {res.model_ms:.1f} ms per frame"
                               + (f" · {res.dropped} frame{'s' if res.dropped != 1 else ''} skipped to stay live"
                                  if res.dropped else ""))

    def _show_verdict(self, rows) -> None:
        top, p = rows[0]
        if p >= self.threshold:
            self.verdict.setText(f"<span style='font-size:16pt'><b>{top}</b></span> &nbsp;{100 * p:.1f}% sure")
        else:
            self.verdict.setText(f"<span style='font-size:16pt'><b>Not sure</b></span> &nbsp;best guess {top}, "
                                 f"{100 * p:.1f}% (below {round(100 * self.threshold)}%)")

    @property
    def not_sure(self) -> bool:
        return bool(self.last_rows) and self.last_rows[0][1] < self.threshold

    def _on_stopped(self, text: str, level: str) -> None:
        if level == "error" and text:
            self.message.show_message(text, "error")

    def add_frame(self) -> Path | None:
        """Save the frame on screen as a picture of the chosen class of the chosen data set."""
        from app.data.userset import UserSet

        last = self.camera.last
        path, name = self.set_combo.currentData(), self.class_combo.currentData()
        if last is None:
            self.message.show_message("There is no picture yet: press Start first.", "warn")
            return None
        if not path or not name:
            self.message.show_message("Choose a data set and the right class first (make a data set in the Data tab "
                                      "with New data set…).", "warn")
            return None
        try:
            saved = UserSet(path).add_picture(name, np.ascontiguousarray(last.frame))
        except UserError as exc:
            self.message.show_message(str(exc), "error")
            return None
        guess = f" (the model said {self.last_rows[0][0]})" if self.last_rows else ""
        self.message.show_message(f"Added the picture to “{name}” in {Path(path).name}{guess}. Train again to teach "
                                  f"the model.", "ok")
        return saved

    def shutdown(self) -> None:
        self.camera.shutdown()
