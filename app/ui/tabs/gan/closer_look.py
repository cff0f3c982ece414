"""The Explore page's 'Closer look': the selected sample enlarged with its seed and index, and the nearest
real training images in the score classifier's feature space (to spot a GAN that copies). The search is the
engine's (``gan.find_nearest_real``), run as a background job."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from app.ui.tabs.gan.messages import failure_text
from app.ui.widgets.common import button
from app.ui.widgets.image_view import ImageView
from app.ui.widgets.images import to_pixmap
from app.ui.workers import Jobs


class CloserLook(QGroupBox):
    """One sample, large, and its nearest real images."""

    def __init__(self, jobs: Jobs, parent: QWidget | None = None):
        super().__init__("Closer look", parent)
        self.jobs = jobs
        self.nearest: list[tuple] = []          # (image, caption) of the images shown
        self._query = None                      # identifies the sample on screen
        rv = QVBoxLayout(self)
        self.zoom = ImageView("Click a sample.", min_side=200)
        self.zoom.setMaximumHeight(260)
        self.zoom_caption = QLabel()
        self.zoom_caption.setWordWrap(True)
        self.zoom_caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.nearest_button = button("Nearest real images", "The training images most similar to this sample, "
                                     "measured in the score classifier's feature space (spots copying).")
        self.nearest_view = QWidget()
        self.nearest_grid = QGridLayout(self.nearest_view)
        self.nearest_grid.setContentsMargins(0, 0, 0, 0)
        self.nearest_info = QLabel()
        self.nearest_info.setWordWrap(True)
        self.nearest_info.setObjectName("hint")
        rv.addWidget(self.zoom)
        rv.addWidget(self.zoom_caption)
        rv.addWidget(self.nearest_button)
        rv.addWidget(self.nearest_view)
        rv.addWidget(self.nearest_info)
        rv.addStretch(1)
        # a fixed width: the nearest images appearing (or going) must not shift the sample grid sideways
        self.setFixedWidth(300)

    def show_sample(self, image, index: int, seed: int, key=None) -> None:
        """Show sample ``index`` of ``seed``; ``key`` identifies it (a search for an older key is dropped)."""
        self._query = (index, seed) if key is None else key
        self.zoom.set_image(image.numpy() if hasattr(image, "numpy") else image)
        self.zoom_caption.setText(f"Sample <b>#{index}</b> of seed <b>{seed}</b>. "
                                  f"(<code>visiondesk gan generate … --seed {seed}</code> draws it again.)")
        self.clear_nearest()

    def clear(self) -> None:
        self._query = None
        self.zoom.set_image(None)
        self.zoom_caption.setText("")
        self.clear_nearest()

    def clear_nearest(self) -> None:
        self.nearest = []
        while self.nearest_grid.count():
            item = self.nearest_grid.takeAt(0)
            if item.widget():
                item.widget().hide()            # at once: deleteLater waits for the event loop
                item.widget().deleteLater()
        self.nearest_info.setText("")

    def find_nearest(self, meta: dict, sample, loaded=None, k: int = 6) -> None:
        """Search the ``k`` training images nearest to ``sample`` (uint8 C x H x W) in the background."""
        from app.engine.gan import find_nearest_real

        query = self._query
        self.nearest_info.setText("Searching…")
        self.nearest_button.setEnabled(False)

        def done(result, error):
            self.nearest_button.setEnabled(True)
            if error is not None:
                self.nearest_info.setText(failure_text("Searching the nearest real images", error)[0])
                return
            if query != self._query:
                return            # another sample was chosen meanwhile
            self.clear_nearest()
            for j in range(len(result.indices)):
                self._add_cell(j, result.images[j], result.caption(j), result.tooltip(j))
            self.nearest_info.setText(result.summary())

        self.jobs.run(lambda: find_nearest_real(dict(meta), sample, k, loaded), done)

    def _add_cell(self, j: int, image, caption: str, tip: str) -> None:
        self.nearest.append((image, caption))
        cell = QWidget()
        lay = QVBoxLayout(cell)
        lay.setContentsMargins(0, 0, 0, 0)
        pic = QLabel()
        pic.setPixmap(to_pixmap(image, 72))
        pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
        cap = QLabel(caption)
        cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
        cap.setWordWrap(True)
        cap.setObjectName("hint")
        for w in (pic, cap):
            w.setToolTip(tip)
            lay.addWidget(w)
        self.nearest_grid.addWidget(cell, j // 3, j % 3)


__all__ = ["CloserLook"]
