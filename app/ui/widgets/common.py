"""Small building blocks the tabs share: a button with its tooltip, a link to a file, a scrolling side panel."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QFrame, QPushButton, QScrollArea, QWidget


def button(text: str, tip: str = "", name: str = "") -> QPushButton:
    """A push button with a tooltip; ``name`` is the style's object name ('primary', 'danger')."""
    b = QPushButton(text)
    if tip:
        b.setToolTip(tip)
    if name:
        b.setObjectName(name)
    return b


def file_link(path: str | Path | None) -> str:
    """An ``<a href>`` to a file or folder (opens in the desktop's file manager); 'memory only' for None."""
    if path is None:
        return "memory only"
    path = Path(path)
    return f"<a href='{QUrl.fromLocalFile(str(path)).toString()}'>{path.name}</a>"


class _SideScroll(QScrollArea):
    """A vertical scroll area that is never narrower than its column needs: its minimum width follows the
    column's own minimum (explicit or from its contents, which grow as combo boxes fill) plus the scroll bar,
    so a splitter or a stretching neighbour cannot cut the column's rows."""

    def minimumSizeHint(self):  # noqa: N802 (Qt)
        hint = super().minimumSizeHint()
        inner = self.widget()
        if inner is not None:
            need = max(inner.minimumWidth(), inner.minimumSizeHint().width())
            need = min(need, inner.maximumWidth())
            hint.setWidth(need + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth())
        return hint


def side_scroll(widget: QWidget) -> QScrollArea:
    """``widget`` (a settings column with a minimum and maximum width) in a vertical scroll area."""
    area = _SideScroll()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setMaximumWidth(widget.maximumWidth() + 16)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


__all__ = ["button", "file_link", "side_scroll"]
