"""The model zoo as a list: each model's name in bold, its one-line description, and (in red) why it
cannot be used with the current data, if it cannot. Models that do not fit are not selectable."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

NAME_ROLE = Qt.ItemDataRole.UserRole
DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 1
PROBLEM_ROLE = Qt.ItemDataRole.UserRole + 2
PROBLEM_COLOUR = QColor("#a8322b")
_PAD = 6
_GAP = 2


class _ModelDelegate(QStyledItemDelegate):
    def _fonts(self, option) -> tuple[QFont, QFont]:
        bold = QFont(option.font)
        bold.setBold(True)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() * 0.92))
        return bold, small

    def _texts(self, index) -> tuple[str, str, str]:
        return (str(index.data(NAME_ROLE) or ""), str(index.data(DESCRIPTION_ROLE) or ""),
                str(index.data(PROBLEM_ROLE) or ""))

    def _width(self, option) -> int:
        view = self.parent()
        width = view.viewport().width() if view is not None else option.rect.width()
        return max(120, width - 2 * _PAD)

    def sizeHint(self, option, index) -> QSize:
        bold, small = self._fonts(option)
        name, desc, problem = self._texts(index)
        w = self._width(option)
        flags = int(Qt.TextFlag.TextWordWrap)
        h = QFontMetrics(bold).boundingRect(QRect(0, 0, w, 10_000), flags, name).height()
        h += _GAP + QFontMetrics(small).boundingRect(QRect(0, 0, w, 10_000), flags, desc).height()
        if problem:
            h += _GAP + QFontMetrics(small).boundingRect(QRect(0, 0, w, 10_000), flags, problem).height()
        return QSize(w + 2 * _PAD, h + 2 * _PAD)

    def paint(self, painter, option, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        name, desc, problem = self._texts(index)
        bold, small = self._fonts(option)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        enabled = bool(index.flags() & Qt.ItemFlag.ItemIsSelectable)
        pal = opt.palette
        text = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        if not enabled:
            text = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        muted = QColor(text)
        if not selected:
            muted.setAlpha(190)
        r = opt.rect.adjusted(_PAD, _PAD, -_PAD, -_PAD)
        flags = int(Qt.TextFlag.TextWordWrap)
        painter.save()
        for font, colour, content in ((bold, text, name), (small, muted, desc),
                                      (small, PROBLEM_COLOUR if not selected else text, problem)):
            if not content:
                continue
            painter.setFont(font)
            painter.setPen(colour)
            box = QFontMetrics(font).boundingRect(QRect(0, 0, r.width(), 10_000), flags, content)
            painter.drawText(QRect(r.left(), r.top(), r.width(), box.height()), flags, content)
            r.setTop(r.top() + box.height() + _GAP)
        painter.restore()


class ModelList(QListWidget):
    """``set_models([(name, description)])``, ``set_problems({name: text or None})``, ``select(name)``.

    ``modelChosen(name)`` when the person selects a model; ``problemClicked(name, text)`` when they
    click one that does not fit the data.
    """

    modelChosen = Signal(str)
    problemClicked = Signal(str, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setItemDelegate(_ModelDelegate(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # rows are word-wrapped to the viewport's width: a scroll bar that came and went would change that
        # width without a resize, and the last line of a row was cut (mlp at 1024 x 700)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setWordWrap(True)
        self.setUniformItemSizes(False)
        self.setSpacing(1)
        self._items: dict[str, QListWidgetItem] = {}
        self._quiet = False
        self.itemSelectionChanged.connect(self._selection_changed)
        self.itemClicked.connect(self._clicked)

    def set_models(self, models: list[tuple[str, str]]) -> None:
        self._quiet = True
        self.clear()
        self._items = {}
        for name, description in models:
            item = QListWidgetItem()
            item.setData(NAME_ROLE, name)
            item.setData(DESCRIPTION_ROLE, description)
            item.setToolTip(description)
            self.addItem(item)
            self._items[name] = item
        self._quiet = False

    def set_problems(self, problems: dict[str, str | None]) -> None:
        self._quiet = True
        for name, item in self._items.items():
            problem = problems.get(name) or ""
            item.setData(PROBLEM_ROLE, problem)
            flags = Qt.ItemFlag.ItemIsEnabled
            if not problem:
                flags |= Qt.ItemFlag.ItemIsSelectable
            elif item.isSelected():
                item.setSelected(False)
            item.setFlags(flags)
            item.setToolTip(problem or str(item.data(DESCRIPTION_ROLE)))
        self._quiet = False
        self.doItemsLayout()

    def problem(self, name: str) -> str:
        item = self._items.get(name)
        return str(item.data(PROBLEM_ROLE) or "") if item is not None else ""

    def is_selectable(self, name: str) -> bool:
        item = self._items.get(name)
        return item is not None and bool(item.flags() & Qt.ItemFlag.ItemIsSelectable)

    def names(self) -> list[str]:
        return list(self._items)

    def selected_name(self) -> str | None:
        items = self.selectedItems()
        return str(items[0].data(NAME_ROLE)) if items else None

    def select(self, name: str) -> None:
        """Select ``name`` without emitting ``modelChosen`` (nothing when it is not selectable)."""
        item = self._items.get(name)
        self._quiet = True
        self.clearSelection()
        if item is not None:
            item.setSelected(True)
            self.setCurrentItem(item)
            self.scrollToItem(item)
        self._quiet = False

    def _selection_changed(self) -> None:
        name = self.selected_name()
        if name and not self._quiet:
            self.modelChosen.emit(name)

    def _clicked(self, item: QListWidgetItem) -> None:
        problem = str(item.data(PROBLEM_ROLE) or "")
        if problem:
            self.problemClicked.emit(str(item.data(NAME_ROLE)), problem)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.doItemsLayout()     # word-wrapped rows change height with the width
