"""Layout checks for the GUI tests: widgets squeezed below what their text needs, or overlapping."""
from __future__ import annotations

from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLabel, QStyleOptionComboBox, QWidget

from app.ui.widgets.combo import ElidedComboBox, text_field_width

#: the space a tab gets inside the main window at a given window size (title bar, menu, tab bar, status bar)
def tab_area(window_w: int, window_h: int) -> tuple[int, int]:
    return window_w - 20, window_h - 100


def _cut_combo_text(combo: QComboBox) -> bool:
    """The shown item's text is wider than the box's text field (an ElidedComboBox shortens it with '…')."""
    opt = QStyleOptionComboBox()
    combo.initStyleOption(opt)
    return combo.fontMetrics().horizontalAdvance(combo.currentText()) > text_field_width(combo, opt) + 1


def squeezed(root: QWidget) -> list[str]:
    """Visible buttons, combo boxes, spin boxes and one-line labels under ``root`` that are narrower than
    their minimum size hint (their text is cut), buttons, combo and spin boxes lower than it (crushed
    rows), and visible siblings of those kinds that overlap."""
    problems = []
    kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QLabel)
    for w in root.findChildren(QWidget):
        if not isinstance(w, kinds) or not w.isVisibleTo(root) or w.width() <= 0:
            continue
        if isinstance(w, QLabel) and (w.wordWrap() or w.pixmap() is not None and not w.pixmap().isNull()):
            continue
        need = w.minimumSizeHint().width()
        text = (w.currentText() if isinstance(w, QComboBox) else
                w.text() if hasattr(w, "text") and callable(w.text) else type(w).__name__)
        if w.width() < need:
            problems.append(f"{type(w).__name__} '{text}' is {w.width()} px wide, needs {need}")
        elif isinstance(w, QComboBox) and not isinstance(w, ElidedComboBox) and _cut_combo_text(w):
            # a combo box that may be narrower than its text (its minimum width capped) cuts it silently
            problems.append(f"{type(w).__name__} '{text}' cuts its text ({w.width()} px wide)")
        # crushed rows: a field or button lower than its text (a column squeezed by a short window)
        tall = w.minimumSizeHint().height()
        if not isinstance(w, QLabel) and tall > 0 and w.height() < tall - 2:
            problems.append(f"{type(w).__name__} '{text}' is {w.height()} px high, needs {tall}")
    for parent in {w.parentWidget() for w in root.findChildren(QWidget)} - {None}:
        kids = [c for c in parent.children() if isinstance(c, kinds) and c.isVisibleTo(root)]
        for i, a in enumerate(kids):
            for b in kids[i + 1:]:
                if a.geometry().intersects(b.geometry()):
                    problems.append(f"'{getattr(a, 'text', lambda: '')()}' overlaps '{getattr(b, 'text', lambda: '')()}'")
    return problems
