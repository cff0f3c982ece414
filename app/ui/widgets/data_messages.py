"""A colour-coded message area: plain-language info, warnings and errors, and an expandable list.

Used by the Data and Model tabs to tell a person what happened (a data set loaded, files skipped, a
model that does not fit) without a modal dialog. Hidden while it holds nothing.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

# level -> (background, border, text colour, standard icon)
_LOOK = {
    "info": ("#eaf2fb", "#9cbfe6", "#1b3a5c", QStyle.StandardPixmap.SP_MessageBoxInformation),
    "success": ("#e9f6ec", "#97cfa5", "#1d4a2a", QStyle.StandardPixmap.SP_DialogApplyButton),
    "warning": ("#fdf5e2", "#e7c36a", "#5c4305", QStyle.StandardPixmap.SP_MessageBoxWarning),
    "error": ("#fcebea", "#e59a96", "#6b1a16", QStyle.StandardPixmap.SP_MessageBoxCritical),
}
LEVELS = tuple(_LOOK)


class _Message(QFrame):
    def __init__(self, level: str, text: str, parent: QWidget | None = None):
        super().__init__(parent)
        bg, border, fg, icon = _LOOK[level]
        self.level = level
        self.setObjectName("message")
        self.setStyleSheet(f"QFrame#message {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
                           f"QLabel {{ color: {fg}; background: transparent; border: none; }}")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 5, 8, 5)
        row.setSpacing(8)
        pic = QLabel()
        pic.setPixmap(self.style().standardIcon(icon).pixmap(QSize(16, 16)))
        pic.setAlignment(Qt.AlignmentFlag.AlignTop)
        row.addWidget(pic)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row.addWidget(self.label, 1)


class MessageArea(QWidget):
    """A column of coloured messages plus an optional expandable list (e.g. skipped files)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._items: list[_Message] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self._box = QVBoxLayout()
        self._box.setSpacing(4)
        lay.addLayout(self._box)
        self.details_button = QToolButton()
        self.details_button.setCheckable(True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setAutoRaise(True)
        self.details_button.toggled.connect(self._toggle_details)
        lay.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.details = QListWidget()
        self.details.setAlternatingRowColors(True)
        lay.addWidget(self.details)
        self._details_title = ""
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.details_button.hide()
        self.details.hide()
        self.setVisible(False)

    # -- messages -------------------------------------------------------------------------------
    def clear(self) -> None:
        for item in self._items:
            self._box.removeWidget(item)
            item.deleteLater()
        self._items.clear()
        self.set_details("", [])
        self._update_visible()

    def add(self, level: str, text: str) -> None:
        if level not in _LOOK:
            raise ValueError(f"unknown message level {level!r}; use one of {LEVELS}")
        item = _Message(level, text, self)
        self._items.append(item)
        self._box.addWidget(item)
        self._update_visible()

    def show_message(self, level: str, text: str) -> None:
        """Replace everything with one message."""
        self.clear()
        self.add(level, text)

    def messages(self) -> list[tuple[str, str]]:
        """(level, text) of every message shown, in order."""
        return [(m.level, m.label.text()) for m in self._items]

    def text(self) -> str:
        return "\n".join(t for _, t in self.messages())

    # -- expandable list ------------------------------------------------------------------------
    def set_details(self, title: str, lines: list[str]) -> None:
        """An expandable list under the messages (collapsed at first); no lines hides it."""
        self._details_title = title
        self.details.clear()
        self.details.addItems(list(lines))
        rows = min(max(len(lines), 1), 6)
        self.details.setFixedHeight(rows * max(self.details.sizeHintForRow(0), self.fontMetrics().height() + 4)
                                    + 2 * self.details.frameWidth() + 4)
        self.details_button.setChecked(False)
        self._toggle_details(False)
        self.details_button.setVisible(bool(lines))
        self._update_visible()

    def details_lines(self) -> list[str]:
        return [self.details.item(i).text() for i in range(self.details.count())]

    def _toggle_details(self, shown: bool) -> None:
        self.details.setVisible(shown and self.details.count() > 0)
        self.details_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        verb = "Hide" if shown else "Show"
        self.details_button.setText(f"{verb} {self._details_title}" if self._details_title else verb)

    def _update_visible(self) -> None:
        self.setVisible(bool(self._items) or self.details.count() > 0)
