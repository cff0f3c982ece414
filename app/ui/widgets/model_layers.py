"""A table of a model's layers (name, type, output shape, parameters) from ``app.models.summary``."""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from app.models.summary import LayerRow, Summary

HEADERS = ("Layer", "Type", "Output shape", "Parameters")
HEADER_TIPS = (
    "Where the layer sits inside the model",
    "What kind of layer it is (e.g. Conv2d is a convolution, Linear a dense layer)",
    "What one image looks like after this layer: channels × height × width, or a number of values",
    "How many numbers this layer learns while training",
)
_FROZEN = QColor("#8a8a8a")


def shape_text(shape) -> str:
    """(1, 32, 28, 28) -> '32 × 28 × 28' (the batch dimension of the dummy image is left out)."""
    if not shape:
        return "—"
    if isinstance(shape[0], tuple):
        return ", ".join(shape_text(s) for s in shape)
    dims = shape[1:] if len(shape) > 1 else shape
    return " × ".join(str(d) for d in dims)


class LayerTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[LayerRow] = []

    def set_summary(self, summary: Summary | None) -> None:
        self.beginResetModel()
        self.rows = list(summary.rows) if summary is not None else []
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return HEADER_TIPS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section == 3:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        frozen = row.params > 0 and not row.trainable
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return row.name
            if col == 1:
                return row.type
            if col == 2:
                return shape_text(row.output_shape)
            return f"{row.params:,}" if row.params else "–"
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and frozen:
            return _FROZEN
        if role == Qt.ItemDataRole.ToolTipRole and frozen:
            return "Frozen: these parameters are kept as they are while training."
        return None


class LayerTable(QTableView):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.layer_model = LayerTableModel(self)
        self.setModel(self.layer_model)
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

    def set_summary(self, summary: Summary | None) -> None:
        self.layer_model.set_summary(summary)
