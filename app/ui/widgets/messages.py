"""The one message area of the GUI: plain-language messages a tab shows a person, colour-coded.

Levels (one vocabulary everywhere): ``info``, ``ok`` (something worked), ``warn`` (worth a look, nothing
broke), ``error`` (it did not work; say what to do). A message may carry

- ``details``: technical text for a bug report, behind a 'Copy details' button;
- ``fix``: ``(button text, callable)`` — one click that does what the message suggests;
- links (``<a href=...>``), which open in the desktop's file manager or browser.

``show_message`` replaces what is shown, ``add`` appends (a data set load reports several things at once), and
``set_details(title, lines)`` adds an expandable list under the messages (e.g. skipped files). The area
hides itself while it holds nothing.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QListWidget, QPushButton, QSizePolicy, QStyle,
                               QToolButton, QVBoxLayout, QWidget)

# level -> (background, border, text colour, standard icon)
_LOOK = {
    "info": ("#eaf2fb", "#9cbfe6", "#1b3a5c", QStyle.StandardPixmap.SP_MessageBoxInformation),
    "ok": ("#e9f6ec", "#97cfa5", "#1d4a2a", QStyle.StandardPixmap.SP_DialogApplyButton),
    "warn": ("#fdf5e2", "#e7c36a", "#5c4305", QStyle.StandardPixmap.SP_MessageBoxWarning),
    "error": ("#fcebea", "#e59a96", "#6b1a16", QStyle.StandardPixmap.SP_MessageBoxCritical),
}
LEVELS = tuple(_LOOK)

Fix = tuple[str, Callable[[], None]]


class Message(QFrame):
    """One coloured message: icon, text (rich text, links open), and optional fix / copy buttons."""

    def __init__(self, level: str, text: str, details: str = "", fix: Fix | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        if level not in _LOOK:
            raise ValueError(f"unknown message level {level!r}; use one of {LEVELS}")
        bg, border, fg, icon = _LOOK[level]
        self.level = level
        self.details = details
        self._fix = fix[1] if fix else None
        self.setObjectName("message")
        self.setStyleSheet(f"QFrame#message {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
                           f"QFrame#message > QLabel {{ color: {fg}; background: transparent; border: none; }}")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 5, 8, 5)
        row.setSpacing(8)
        pic = QLabel()
        pic.setPixmap(self.style().standardIcon(icon).pixmap(QSize(16, 16)))
        pic.setAlignment(Qt.AlignmentFlag.AlignTop)
        row.addWidget(pic)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.label.setOpenExternalLinks(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.label.setMinimumWidth(120)
        row.addWidget(self.label, 1)
        self.fix_button = QPushButton(fix[0] if fix else "")
        self.fix_button.clicked.connect(self.apply_fix)
        self.fix_button.setVisible(fix is not None)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setToolTip("Copy the technical details (for a bug report) to the clipboard.")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.details))
        self.copy_button.setVisible(bool(details))
        buttons = QVBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.fix_button)
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        row.addLayout(buttons)

    def apply_fix(self) -> None:
        fix, self._fix = self._fix, None
        self.fix_button.hide()
        if fix is not None:
            fix()


class MessageArea(QWidget):
    """A column of messages plus an optional expandable list (e.g. skipped files)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._items: list[Message] = []
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

    # -- messages -----------------------------------------------------------------------------------
    def clear(self) -> None:
        for item in self._items:
            self._box.removeWidget(item)
            item.deleteLater()
        self._items.clear()
        self.set_details("", [])
        self._update_visible()

    def add(self, text: str, level: str = "info", details: str = "", fix: Fix | None = None) -> Message:
        """Append a message under the ones shown."""
        item = Message(level, text, details, fix, self)
        self._items.append(item)
        self._box.addWidget(item)
        self._update_visible()
        return item

    def show_message(self, text: str = "", level: str = "info", details: str = "", fix: Fix | None = None) -> None:
        """Replace everything with one message (an empty text clears the area)."""
        self.clear()
        if text:
            self.add(text, level, details, fix)

    def messages(self) -> list[tuple[str, str]]:
        """(level, text) of every message shown, in order."""
        return [(m.level, m.label.text()) for m in self._items]

    @property
    def text(self) -> str:
        return "\n".join(t for _, t in self.messages())

    @property
    def level(self) -> str:
        """The level of the last message ('' when none is shown)."""
        return self._items[-1].level if self._items else ""

    @property
    def current(self) -> Message | None:
        return self._items[-1] if self._items else None

    # -- expandable list ------------------------------------------------------------------------------
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
