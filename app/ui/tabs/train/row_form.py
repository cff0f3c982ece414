"""Try it for a table model: one field per input column (a number box, or a drop-down of the values a
category column had), Predict, and the class probabilities in the page's bars.

The columns come from the model's own description (its best.pt holds the ``TableEncoder``), so the form
asks exactly for what the model was trained on, even when another data set is loaded. Loading the
model and predicting run off the GUI thread through ``app.engine.tabular`` (``load_table_model``,
``predict_row``); a number column given text gets the engine's plain message.
"""
from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea,
                               QVBoxLayout, QWidget)

from app.data.table import TableDataset
from app.engine.tabular import TableModel, is_table_run, load_table_model, predict_row
from app.ui.widgets.messages import MessageArea
from app.ui.widgets.probabilities import ProbabilityBars
from app.ui.workers import Jobs


class TableModelCache:
    """``load_table_model`` keyed by file and modification time (best.pt changes while a run trains)."""

    def __init__(self):
        self._cache: tuple[tuple, TableModel] | None = None
        self._lock = threading.Lock()

    def get(self, path: Path) -> TableModel:
        key = (str(path), path.stat().st_mtime_ns)
        with self._lock:
            if self._cache and self._cache[0] == key:
                return self._cache[1]
        model = load_table_model(path)
        with self._lock:
            self._cache = (key, model)
        return model


class RowForm(QWidget):
    """The form of one table row; shows its prediction in the Try it page's bars and labels."""

    def __init__(self, jobs: Jobs, message: MessageArea, bars: ProbabilityBars, verdict: QLabel, note: QLabel,
                 dataset: Callable[[], object], parent: QWidget | None = None):
        super().__init__(parent)
        self.jobs, self.message, self.bars, self.verdict, self.note = jobs, message, bars, verdict, note
        self._dataset = dataset
        self.models = TableModelCache()
        self.run_dir: Path | None = None
        self.columns: list[dict] = []
        self.fields: dict[str, QLineEdit | QComboBox] = {}
        self.last: list[tuple[str, float]] = []
        self._truth: str | None = None

        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Type a row: one value per column, then Predict.")
        self.title.setWordWrap(True)
        col.addWidget(self.title)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        inner = QWidget()
        inner_col = QVBoxLayout(inner)
        inner_col.setContentsMargins(0, 0, 0, 0)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        inner_col.addLayout(self.form)
        self.scroll.setWidget(inner)
        col.addWidget(self.scroll, 1)
        row = QHBoxLayout()
        self.predict_button = QPushButton("Predict")
        self.predict_button.setDefault(True)
        self.predict_button.clicked.connect(self.predict)
        self.example_button = QPushButton("Fill in a row of the file")
        self.example_button.setToolTip("Fill the form with one of the first rows of the loaded table (its true "
                                       "class is shown with the prediction).")
        self.example_button.clicked.connect(self.fill_example)
        row.addWidget(self.predict_button)
        row.addWidget(self.example_button)
        row.addStretch(1)
        inner_col.addLayout(row)            # the buttons right under the last field
        inner_col.addStretch(1)

    # -- which model -------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.run_dir is not None

    def set_run(self, run_dir: Path | None) -> bool:
        """Use the model of ``run_dir`` when it is a table run; returns whether it is (the page then shows
        this form instead of the picture)."""
        if not is_table_run(run_dir):
            self.run_dir = None
            return False
        run_dir = Path(run_dir)
        if run_dir != self.run_dir or not self.columns:
            self.run_dir = run_dir
            self._load_columns()
        return True

    def _checkpoint(self) -> Path | None:
        if self.run_dir is None or not (self.run_dir / "best.pt").is_file():
            return None
        return self.run_dir / "best.pt"

    def _load_columns(self) -> None:
        path = self._checkpoint()
        self._clear_fields()
        if path is None:
            self.title.setText("The form appears when the model has been saved (after the first epoch).")
            return
        self.title.setText("Reading the model's columns…")
        models, run_dir = self.models, self.run_dir

        def done(model, error):
            if run_dir != self.run_dir:
                return
            if error is not None:
                from app.ui.tabs.train.try_page import show_error

                self.title.setText("This model's columns could not be read (see the message above).")
                show_error(self.message, error)
                return
            self._build_fields(model)

        self.jobs.run(lambda: models.get(path), done)

    def _clear_fields(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields, self.columns = {}, []

    def _build_fields(self, model: TableModel) -> None:
        self._clear_fields()
        self.columns = list(model.encoder.columns)
        for c in self.columns:
            if c["kind"] == "number":
                w = QLineEdit()
                w.setPlaceholderText(f"blank: {c['fill']:g}")
                w.setToolTip(f"A number. Training rows had a mean of {c['mean']:.4g} (spread {c['std']:.4g}); a "
                             f"blank is filled with {c['fill']:g}, as in training.")
                w.returnPressed.connect(self.predict)
            else:
                w = QComboBox()
                for v in c["values"]:
                    w.addItem(v, v)
                w.setCurrentIndex(max(0, w.findData(c["fill"])))
                w.setToolTip(f"One of the {len(c['values'])} values this column had in training.")
            w.setMinimumWidth(180)
            self.fields[c["name"]] = w
            self.form.addRow(c["name"] + ":", w)
        self.title.setText(f"Type a row for the model that predicts <b>{model.encoder.target}</b> "
                           f"({', '.join(model.classes)}), then Predict. A blank number is filled as in training.")

    # -- a row -------------------------------------------------------------------------------------
    def row(self) -> dict[str, str]:
        return {name: (w.text() if isinstance(w, QLineEdit) else str(w.currentData()))
                for name, w in self.fields.items()}

    def set_row(self, values: dict[str, str]) -> None:
        for name, w in self.fields.items():
            text = str(values.get(name, "")).strip()
            if isinstance(w, QLineEdit):
                w.setText(text)
            else:
                i = w.findData(text)
                if i >= 0:
                    w.setCurrentIndex(i)

    def fill_example(self) -> None:
        """Fill the form with a random row among the first rows of the loaded table, when it has the columns."""
        ds = self._dataset()
        names = list(self.fields)
        if not isinstance(ds, TableDataset) or not names or not set(names) <= set(ds.header) or not ds.preview:
            self.message.show_message("Load the table this model was trained on in the Data tab to fill in one of "
                                      "its rows (or type the values).", "warn")
            return
        r = random.choice(ds.preview)
        values = dict(zip(ds.header, r))
        self.set_row(values)
        truth = values.get(ds.target, "").strip() if ds.target in values else ""
        self._truth = truth or None
        self.predict(keep_truth=True)

    def predict(self, keep_truth: bool = False) -> None:
        path = self._checkpoint()
        if path is None or not self.fields:
            self.message.show_message("There is no trained table model yet: press Start, or choose a past run "
                                      "trained on a table.", "warn")
            return
        if not keep_truth:
            self._truth = None
        row, truth, models = self.row(), self._truth, self.models

        def done(result, error):
            if error is not None:
                from app.ui.tabs.train.try_page import show_error

                show_error(self.message, error)
                return
            self._show(result, truth)

        self.jobs.run(lambda: predict_row(models.get(path), row), done)

    def _show(self, rows: list[tuple[str, float]], truth: str | None) -> None:
        self.last = rows
        self.message.clear()
        self.bars.set_rows(rows[:5], highlight=truth)
        top, p = rows[0]
        verdict = ""
        if truth is not None:
            verdict = f" The file says <b>{truth}</b> — {'right' if top == truth else 'wrong'}."
        self.verdict.setText(f"<b>This row</b>: the model says <b>{top}</b> ({100 * p:.1f}%).{verdict}")
        self.note.setText(f"The probabilities of the {len(rows)} classes add up to 100%: "
                          + ", ".join(f"{c} {100 * q:.1f}%" for c, q in rows) + ".")
