"""The Train tab's Results page: confusion matrix, per-class accuracy and the worst-predicted test images.

Results arrive with every epoch (``EpochEnd.details``) or from a past run (``evaluation_details``); they
are drawn when the page is visible, else kept until it is opened.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from app.ui.widgets.confusion import ConfusionMatrixView, PerClassBars, short
from app.ui.widgets.gallery import ImageGallery

EMPTY_TITLE = "Results appear here after the first epoch."


class ResultsPage(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._pending: tuple | None = None       # (details, dataset, title) not drawn yet
        rl = QVBoxLayout(self)
        rl.setContentsMargins(0, 6, 0, 0)
        self.title = QLabel(EMPTY_TITLE)
        self.title.setObjectName("sectionTitle")
        self.title.setWordWrap(True)
        rl.addWidget(self.title)
        split = QSplitter(Qt.Orientation.Vertical)
        top = QSplitter(Qt.Orientation.Horizontal)
        self.confusion = ConfusionMatrixView()
        self.per_class = PerClassBars()
        top.addWidget(self.confusion)
        top.addWidget(self.per_class)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        bottom = self.gallery_box = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 4, 0, 0)
        self.gallery_title = QLabel("<b>Worst-predicted test images</b> — wrong ones first, the most confidently "
                                    "wrong first (red: wrong, green: right)")
        self.gallery_title.setWordWrap(True)
        bl.addWidget(self.gallery_title)
        self.gallery = ImageGallery(thumb=56)
        bl.addWidget(self.gallery, 1)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([400, 230])
        rl.addWidget(split, 1)

    def show_later(self, details: dict, dataset, title: str, visible: bool) -> None:
        """New results: drawn now when the page is ``visible``, else when ``draw_pending`` is called."""
        self._pending = (details, dataset, title)
        self.title.setText(title + ("" if visible else " — open this page to see the details"))
        if visible:
            self.draw_pending()

    def draw_pending(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.show_details(*pending)

    def show_details(self, details: dict, dataset, title: str) -> None:
        if not details or "confusion" not in details:
            return
        classes = list(details.get("classes") or (dataset.classes if dataset is not None else []))
        if not classes:
            classes = [str(i) for i in range(len(details["confusion"]))]
        self.title.setText(title)
        self.confusion.set_matrix(details["confusion"], classes)
        self.per_class.set_values(details.get("per_class_acc", []), classes)
        items = []
        images = getattr(getattr(dataset, "test", None), "images", None)
        self.gallery_box.setVisible(dataset is None or images is not None)   # a table's rows are not pictures
        if images is not None:
            n = len(dataset.test)
            for w in details.get("worst", []):
                i = int(w["index"])
                if not 0 <= i < n:
                    continue
                t, p = classes[w["true"]], classes[w["pred"]]
                caption = f"{short(t, 20)} →\n{short(p, 20)} {100 * w['prob']:.0f}%"
                tip = f"Test image #{i}\nTrue class: {t}\nThe model said: {p} ({100 * w['prob']:.1f}% sure)"
                items.append((images[i], caption, tip, w["true"] == w["pred"]))
        self.gallery.set_images([(img, cap, tip) for img, cap, tip, _ in items])
        for k, (_img, _c, _t, right) in enumerate(items):
            self.gallery.item(k).setForeground(QColor(29, 120, 40) if right else QColor(180, 30, 20))

    def clear(self) -> None:
        self._pending = None
        self.title.setText(EMPTY_TITLE)
        self.confusion.clear()
        self.per_class.clear()
        self.gallery.clear()
