"""Many short texts at data positions of a pyqtgraph plot, drawn by one item (cheap to update).

pyqtgraph's ``TextItem`` is one QGraphicsTextItem per text, which costs milliseconds each to
create and lay out; a 10x10 confusion matrix would need 100 of them after every epoch.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont

_ALIGN = {"center": Qt.AlignmentFlag.AlignCenter,
          "left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
          "right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter}


class DataLabels(pg.GraphicsObject):
    """Texts anchored at (x, y) in data coordinates, drawn at a fixed pixel size."""

    def __init__(self, font: QFont | None = None):
        super().__init__()
        self.font = font or QFont()
        self.items: list[tuple[float, float, str, QColor, str]] = []
        self._rect = QRectF()

    def set_items(self, items: list[tuple[float, float, str, object, str]], bounds: QRectF) -> None:
        """``items``: (x, y, text, colour, "center" | "left" | "right"); ``bounds`` in data coordinates."""
        self.prepareGeometryChange()
        self.items = [(float(x), float(y), str(t), QColor(c) if not isinstance(c, QColor) else c, a)
                      for x, y, t, c, a in items]
        self._rect = QRectF(bounds)
        self.update()

    def texts(self) -> list[str]:
        return [t for _x, _y, t, _c, _a in self.items]

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, p, *_args) -> None:
        if not self.items:
            return
        tr = p.transform()
        p.save()
        p.resetTransform()
        p.setFont(self.font)
        for x, y, text, color, align in self.items:
            pt = tr.map(QPointF(x, y))
            if align == "left":
                r = QRectF(pt.x(), pt.y() - 20, 400, 40)
            elif align == "right":
                r = QRectF(pt.x() - 400, pt.y() - 20, 400, 40)
            else:
                r = QRectF(pt.x() - 100, pt.y() - 20, 200, 40)
            p.setPen(color)
            p.drawText(r, _ALIGN[align], text)
        p.restore()
