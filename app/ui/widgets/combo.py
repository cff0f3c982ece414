"""A combo box that never cuts its text: when the chosen item is wider than the box, it shows it shortened
in the middle with '…' (the start and the end stay readable), the full text in the tooltip, and a popup
wide enough for every item."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QStylePainter, QWidget


def text_field_width(combo: QComboBox, option: QStyleOptionComboBox) -> int:
    """The width of the part of ``combo`` (styled by ``option``) where the chosen item's text is painted."""
    return combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                        QStyle.SubControl.SC_ComboBoxEditField, combo).width()


class ElidedComboBox(QComboBox):
    """``QComboBox`` whose shown text is elided to fit; ``setToolTip`` sets the part before the full text."""

    def __init__(self, parent: QWidget | None = None, min_chars: int = 12):
        super().__init__(parent)
        self._tip = ""
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(min_chars)
        self.currentIndexChanged.connect(lambda _i: self._update_tip())

    def setToolTip(self, tip: str) -> None:  # noqa: N802 (Qt)
        self._tip = tip
        self._update_tip()

    def shown_text(self) -> str:
        """The text as painted: the current text, elided in the middle when it does not fit."""
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        return opt.currentText

    def initStyleOption(self, option: QStyleOptionComboBox) -> None:  # noqa: N802 (Qt)
        super().initStyleOption(option)
        field = text_field_width(self, option)
        option.currentText = self.fontMetrics().elidedText(option.currentText, Qt.TextElideMode.ElideMiddle,
                                                           max(0, field))

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt)
        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        self._update_tip()

    def showPopup(self) -> None:  # noqa: N802 (Qt)
        widest = max((self.fontMetrics().horizontalAdvance(self.itemText(i)) for i in range(self.count())), default=0)
        self.view().setMinimumWidth(widest + 40)
        super().showPopup()

    def _update_tip(self) -> None:
        full = self.currentText()
        cut = bool(full) and self.shown_text() != full
        parts = [p for p in (self._tip, full if cut else "") if p]
        super().setToolTip("\n\n".join(parts))


__all__ = ["ElidedComboBox", "text_field_width"]
