"""The Train tab's 'Past runs' page: every classification run folder, and what can be done with one."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.engine.runs import RunInfo, list_runs, runs_root
from app.ui.widgets.messages import MessageArea


class RunsPage(QWidget):
    """The table of past runs; the buttons act on the selected one through the callables the tab sets."""

    def __init__(self, message: MessageArea, parent: QWidget | None = None):
        super().__init__(parent)
        self.message = message
        self.runs: list[RunInfo] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        intro = QLabel("Every training is kept in its own folder. Select one to look at it again, try its model, "
                       "continue it or save its model.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["Started", "Data", "Model", "Epochs", "Best test accuracy", "Folder"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        hh = self.table.horizontalHeader()
        for i in range(5):
            hh.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table, 1)
        self.empty = QLabel("No past runs yet: press Start to train your first model.")
        self.empty.setObjectName("hint")
        lay.addWidget(self.empty)
        self.open_button = QPushButton("Show curves and results")
        self.use_button = QPushButton("Use its model in Try it")
        self.more_epochs = QSpinBox()
        self.more_epochs.setRange(1, 10000)
        self.more_epochs.setValue(5)
        self.more_epochs.setSuffix(" more epochs")
        self.continue_button = QPushButton("Continue training for")
        self.export_button = QPushButton("Save model…")
        self.export_button.setToolTip("Export the run's best model to a folder to use elsewhere (ONNX with its class "
                                      "names, labels.txt, a README with a Python example), or save it as PyTorch "
                                      "weights (.pt) or ONNX alone (.onnx).")
        self.folder_button = QPushButton("Open folder")
        self.folder_button.clicked.connect(
            lambda: self.with_selected(lambda p: QDesktopServices.openUrl(QUrl.fromLocalFile(str(p)))))
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        # two rows, so that no button is squeezed below its text at 1024 pixels (issue 13 item 7)
        top, bottom = QHBoxLayout(), QHBoxLayout()
        for w in (self.open_button, self.use_button, self.export_button, self.folder_button):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        bottom.addWidget(self.continue_button)
        bottom.addWidget(self.more_epochs)
        bottom.addStretch(1)
        lay.addLayout(top)
        lay.addLayout(bottom)

    def connect_actions(self, *, open_run: Callable[[Path], None], use_model: Callable[[Path], None],
                        continue_run: Callable[[Path, int], None], export: Callable[[Path], None]) -> None:
        self.table.doubleClicked.connect(lambda _i: self.with_selected(open_run))
        self.open_button.clicked.connect(lambda: self.with_selected(open_run))
        self.use_button.clicked.connect(lambda: self.with_selected(use_model))
        self.continue_button.clicked.connect(
            lambda: self.with_selected(lambda p: continue_run(p, self.more_epochs.value())))
        self.export_button.clicked.connect(lambda: self.with_selected(export))

    def refresh(self) -> None:
        runs = [r for r in list_runs(runs_root()) if r.task == "classify"]
        self.runs = runs
        self.table.setRowCount(len(runs))
        for row, r in enumerate(runs):
            acc = r.best.get("test_acc") if r.best else None
            day, _, clock = r.started.partition("T")
            cells = [f"{day} {clock.replace('-', ':')}".strip(), r.data, r.model, f"{r.epochs_done} of {r.epochs}",
                     f"{100 * acc:.1f}%" if isinstance(acc, float) else "—", r.name]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, str(r.path))
                if col in (3, 4):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        self.empty.setVisible(not runs)

    def with_selected(self, action: Callable[[Path], None]) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self.message.show_message("Select a run in the list first.", "warn")
            return
        action(Path(self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)))

    def select(self, run_dir: Path) -> bool:
        for row in range(self.table.rowCount()):
            if Path(self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)) == Path(run_dir):
                self.table.selectRow(row)
                return True
        return False
