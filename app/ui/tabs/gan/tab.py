"""The GAN tab: train a GAN and watch it learn (``TrainPage``), then explore what a generator draws
(``ExplorePage``). The tab holds the two pages, the background jobs they share, and the hand-over
'Explore this generator' from one page to the other."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from app.ui.state import AppState
from app.ui.tabs.gan.explore_page import SHIPPED_DEFAULT, ExplorePage
from app.ui.tabs.gan.train_page import TrainPage
from app.ui.workers import Jobs


class GanTab(QWidget):
    """Train a GAN on any image data set, then generate, compare and interpolate samples."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.jobs = Jobs(self)
        self.train = TrainPage(state, self.jobs)
        self.explore = ExplorePage(state, self.jobs)
        self.train.exploreRequested.connect(self.use_trained_generator)
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.train, "Train a GAN")
        self.pages.addTab(self.explore, "Generate")
        self.pages.setCurrentIndex(1)      # open on the samples of the shipped generator
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.pages)
        self.explore.load_shipped(SHIPPED_DEFAULT, generate=True)

    def use_trained_generator(self, checkpoint: Path | None = None) -> None:
        """Open the generator of the run on the Train page in Generate."""
        if checkpoint is None:
            self.explore.message.show_message("The run has no checkpoint yet.", "warn")
            return
        self.pages.setCurrentIndex(1)
        self.explore.load_generator_file(checkpoint, generate=True)

    def is_busy(self) -> bool:
        return self.train.is_busy()

    def shutdown(self) -> None:
        if self.train.session.is_running():
            self.train.session.shutdown()
        self.jobs.wait(5.0)


__all__ = ["GanTab"]
