"""Top-k class probabilities as labelled horizontal bars."""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


class ProbabilityBars(QWidget):
    ROW = 30

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[tuple[str, float]] = []
        self.highlight: str | None = None        # e.g. the true class of a test image
        self.empty_text = "No prediction yet."
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def set_rows(self, rows: list[tuple[str, float]], highlight: str | None = None) -> None:
        self.rows = list(rows)
        self.highlight = highlight
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(360, max(5, len(self.rows)) * self.ROW + 8)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 5 * self.ROW + 8)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        if not self.rows:
            p.setPen(QColor("#777"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)
            return
        fm = p.fontMetrics()
        label_w = min(max(fm.horizontalAdvance(name) for name, _ in self.rows) + 12, int(self.width() * 0.4))
        value_w = fm.horizontalAdvance("100.0%") + 10
        bar_w = max(10, self.width() - label_w - value_w - 8)
        for i, (name, prob) in enumerate(self.rows):
            y = 4 + i * self.ROW
            text_rect = QRectF(0, y, label_w - 8, self.ROW - 6)
            p.setPen(pal.color(pal.ColorRole.WindowText))
            font = p.font()
            font.setBold(i == 0)
            p.setFont(font)
            p.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       fm.elidedText(name, Qt.TextElideMode.ElideRight, int(label_w - 8)))
            back = QRectF(label_w, y + 3, bar_w, self.ROW - 12)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(235, 238, 242))
            p.drawRoundedRect(back, 3, 3)
            fill = QRectF(back.x(), back.y(), max(1.0, bar_w * max(0.0, min(1.0, prob))), back.height())
            color = QColor(44, 160, 44) if name == self.highlight else QColor(31, 119, 180)
            if i > 0 and name != self.highlight:
                color = QColor(107, 174, 214)
            p.setBrush(color)
            p.drawRoundedRect(fill, 3, 3)
            p.setPen(pal.color(pal.ColorRole.WindowText))
            p.drawText(QRectF(label_w + bar_w + 6, y, value_w, self.ROW - 6),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{100 * prob:.1f}%")
