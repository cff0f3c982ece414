"""Past GAN runs on the Train page: the list of GAN runs in the runs folder (newest first), Open, a folder
chooser for runs kept elsewhere. Reading a run is the engine's (``gan.open_gan_run``); this box only asks."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QGroupBox, QHBoxLayout, QToolButton, QVBoxLayout, QWidget

from app.ui.widgets.combo import ElidedComboBox
from app.ui.widgets.common import button


class PastRuns(QGroupBox):
    """Choose a past GAN run; ``openRequested(folder)`` when the person asks to see it."""

    openRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Past GAN runs", parent)
        pv = QVBoxLayout(self)
        self.combo = ElidedComboBox()
        self.combo.setToolTip("GAN runs saved in the VisionDesk runs folder, newest first.")
        row = QHBoxLayout()
        self.open_button = button("Open", "Show the run's curves, scores and the fixed-noise grid of every "
                                  "epoch (the epoch slider replays them).")
        self.open_button.clicked.connect(self._open_selected)
        self.browse_button = button("Folder…", "Open a GAN run folder from anywhere.")
        self.browse_button.clicked.connect(self._browse)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("↻")
        self.refresh_button.setToolTip("Look for new runs.")
        self.refresh_button.clicked.connect(self.refresh)
        row.addWidget(self.open_button, 1)
        row.addWidget(self.browse_button, 1)
        row.addWidget(self.refresh_button)
        pv.addWidget(self.combo)
        pv.addLayout(row)
        self.refresh()

    def refresh(self) -> None:
        from app.engine.runs import list_runs, runs_root

        current = self.combo.currentData()
        self.combo.clear()
        for r in (r for r in list_runs(runs_root()) if r.task == "gan"):
            day, _, clock = r.started.partition("T")
            label = f"{r.data} · {r.model} · {r.epochs_done}/{r.epochs} ep · {day} {clock.replace('-', ':')[:5]}"
            self.combo.addItem(label.strip(), str(r.path))
        if self.combo.count() == 0:
            self.combo.addItem("No GAN runs yet", None)
        elif current is not None and (i := self.combo.findData(current)) >= 0:
            self.combo.setCurrentIndex(i)
        self.open_button.setEnabled(self.combo.currentData() is not None and self.isEnabled())

    def select(self, folder: str) -> None:
        if (i := self.combo.findData(folder)) >= 0:
            self.combo.setCurrentIndex(i)

    def _open_selected(self) -> None:
        if self.combo.currentData():
            self.openRequested.emit(self.combo.currentData())

    def _browse(self) -> None:
        from app.engine.runs import runs_root

        folder = QFileDialog.getExistingDirectory(self, "Open a GAN run folder", str(runs_root()))
        if folder:
            self.openRequested.emit(folder)


__all__ = ["PastRuns"]
