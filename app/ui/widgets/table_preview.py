"""A CSV table as the Data tab shows it: the column to predict, what becomes of each column, the first rows.

``TablePreview.set_dataset(ds)`` shows a loaded ``app.data.table.TableDataset``: a target picker (the
loader's suggestion preselected and marked), one summary row per column (kind: number / category /
target / dropped, blanks filled, range or most common values, what the loader did with it) and the
first rows as read. ``show_columns(header, rows, target)`` shows a readable file whose chosen target
cannot be used, so the person can pick another column. Choosing a column emits ``targetChosen``; the
Data tab loads the table again with it (off the GUI thread, through ``load_table``).

``table_messages`` words what ``app.data.table`` returns for the Data tab's message area.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QSizePolicy, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.data.table import PREVIEW_ROWS, TableDataset

CSV_FILTER = "Tables (*.csv *.csv.gz *.tsv *.txt);;All files (*)"
KIND_TEXT = {"number": "number", "category": "category", "target": "to predict", "dropped": "dropped"}
KIND_COLOUR = {"number": "#1b3a5c", "category": "#4a2a6b", "target": "#1d4a2a", "dropped": "#8a8a8a"}
SUMMARY_HEADERS = ("Column", "Kind", "Blank cells", "Values", "What VisionDesk does with it")


def table_messages(ds: TableDataset) -> list[tuple[str, str]]:
    """(text, level) for the Data tab's message area after a table loaded: what was read, what was
    left out or filled (warnings), and what to do next."""
    name = Path(ds.source).name if ds.source else "the table"
    head = (f"Loaded the table {name}: {len(ds.train):,} training and {len(ds.test):,} test rows; "
            f"{ds.target} is predicted ({ds.num_classes} classes: {', '.join(ds.classes[:8])}"
            f"{', …' if ds.num_classes > 8 else ''}).")
    out = [("\n".join([head, *ds.notes[:1]]), "ok")]
    changed = [n for n in ds.notes[1:] if n.startswith(("Dropped", "Filled", "Left out"))]
    other = [n for n in ds.notes[1:] if n not in changed]
    if changed:
        out.append(("\n".join(changed), "warn"))
    if other:
        out.append(("\n".join(other), "info"))
    return out


def _value_text(col) -> str:
    """A number column's range, free text's count and one example, else the most common values and counts."""
    if col.minimum is not None and (col.kind == "number" or col.distinct > 8):
        return f"{col.minimum:.4g} to {col.maximum:.4g} (mean {col.mean:.4g})"
    if col.kind == "dropped" and col.distinct > 8 and col.top:
        example = col.top[0][0] if len(col.top[0][0]) <= 32 else col.top[0][0][:31] + "…"
        return f"{col.distinct:,} different, e.g. {example}"
    shown = ", ".join(f"{v} ({n})" for v, n in col.top[:4])
    more = f", … {col.distinct} in all" if col.distinct > len(col.top[:4]) else ""
    return shown + more


class TablePreview(QWidget):
    """Target picker, column summaries and the first rows of a CSV table."""

    targetChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.dataset: TableDataset | None = None
        self.suggested: str = ""
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(6)

        row = QHBoxLayout()
        row.addWidget(QLabel("Column to predict (target):"))
        self.target_combo = QComboBox()
        self.target_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.target_combo.setToolTip("The column the model learns to predict from the other columns. "
                                     "VisionDesk suggests one: a column named like survived, class or label, "
                                     "else the last column with a few different values.")
        self.target_combo.activated.connect(self._on_target)
        row.addWidget(self.target_combo)
        self.target_note = QLabel()
        self.target_note.setWordWrap(True)
        self.target_note.setStyleSheet("color: #666666;")
        self.target_note.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row.addWidget(self.target_note, 1)
        col.addLayout(row)

        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        cols_box = self.columns_box = QGroupBox("Columns")
        ccol = QVBoxLayout(cols_box)
        self.summary = QTableWidget(0, len(SUMMARY_HEADERS))
        self.summary.setHorizontalHeaderLabels(SUMMARY_HEADERS)
        self._style_table(self.summary)
        head = self.summary.horizontalHeader()
        for i in range(len(SUMMARY_HEADERS) - 1):
            head.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(len(SUMMARY_HEADERS) - 1, QHeaderView.ResizeMode.Stretch)
        self.summary.setMinimumHeight(110)
        ccol.addWidget(self.summary)
        split.addWidget(cols_box)
        rows_box = QGroupBox("First rows of the file")
        self.rows_box = rows_box
        rcol = QVBoxLayout(rows_box)
        self.rows = QTableWidget(0, 0)
        self._style_table(self.rows)
        self.rows.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.rows.setMinimumHeight(110)
        rcol.addWidget(self.rows)
        split.addWidget(rows_box)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        col.addWidget(split, 1)

    @staticmethod
    def _style_table(table: QTableWidget) -> None:
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)

    # -------------------------------------------------------------------------------- showing --
    def target(self) -> str:
        """The column chosen to predict ('' when nothing is shown)."""
        return str(self.target_combo.currentData() or "")

    def _fill_targets(self, header: list[str], chosen: str, suggested: str) -> None:
        self.suggested = suggested
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        for h in header:
            self.target_combo.addItem(f"{h}  (suggested)" if h == suggested else h, h)
        i = self.target_combo.findData(chosen)
        self.target_combo.setCurrentIndex(max(i, 0))
        self.target_combo.blockSignals(False)

    def set_dataset(self, ds: TableDataset) -> None:
        """Show a loaded table (its target chosen)."""
        self.dataset = ds
        header = list(ds.header)
        self._fill_targets(header, ds.target, ds.suggested_target)
        self.target_note.setText(f"{ds.num_classes} classes: {', '.join(ds.classes[:10])}"
                                 f"{', …' if ds.num_classes > 10 else ''}. Choose another column to predict "
                                 f"something else.")
        self.summary.setRowCount(len(ds.columns))
        for r, c in enumerate(ds.columns):
            kind = KIND_TEXT.get(c.kind, c.kind)
            if c.kind == "dropped" and c.note.startswith("free text"):
                kind = "free text, dropped"
            filled = ("—" if not c.blanks else f"{c.blanks:,} " + ("rows left out" if c.kind == "target" else
                                                                  "(column not used)" if c.kind == "dropped" else "filled"))
            cells = (c.name, kind, filled, _value_text(c), c.note)
            for k, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if k == 1:
                    item.setForeground(QColor(KIND_COLOUR.get(c.kind, "#000000")))
                if c.kind == "dropped":
                    item.setForeground(QColor(KIND_COLOUR["dropped"]))
                self.summary.setItem(r, k, item)
        self._fit_summary_height()
        self._fill_rows(header, ds.preview, {c.name: c.kind for c in ds.columns})
        self.rows_box.setTitle(f"First {min(len(ds.preview), PREVIEW_ROWS)} rows of {Path(ds.source).name}")

    def show_columns(self, header: list[str], rows: list[list[str]], chosen: str, suggested: str,
                     source: str = "") -> None:
        """A readable file whose target ``chosen`` cannot be used: its columns and rows, no summaries."""
        self.dataset = None
        self._fill_targets(header, chosen, suggested)
        self.target_note.setText("This column cannot be predicted (see the message above); choose another.")
        self.summary.setRowCount(0)
        self._fill_rows(header, rows, {})
        self.rows_box.setTitle(f"First rows of {Path(source).name}" if source else "First rows of the file")

    def _fit_summary_height(self) -> None:
        """The column list takes the height of its rows (no empty band); the first rows get the rest."""
        t = self.summary
        rows = sum(t.rowHeight(r) for r in range(t.rowCount()))
        need = max(t.minimumHeight(), t.horizontalHeader().height() + rows + 2 * t.frameWidth() + 20)
        m = self.columns_box.layout().contentsMargins()
        title = self.columns_box.fontMetrics().height() + 8
        self.columns_box.setMaximumHeight(need + m.top() + m.bottom() + title)

    def clear(self) -> None:
        self.dataset = None
        self.target_combo.clear()
        self.target_note.setText("")
        self.summary.setRowCount(0)
        self.rows.setRowCount(0)
        self.rows.setColumnCount(0)

    def _fill_rows(self, header: list[str], rows: list[list[str]], kinds: dict[str, str]) -> None:
        self.rows.clear()
        self.rows.setColumnCount(len(header))
        self.rows.setHorizontalHeaderLabels([f"{h}\n{KIND_TEXT.get(kinds.get(h, ''), '')}".rstrip() for h in header])
        self.rows.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for k, text in enumerate(values[:len(header)]):
                item = QTableWidgetItem(text)
                if kinds.get(header[k]) == "dropped":
                    item.setForeground(QColor(KIND_COLOUR["dropped"]))
                self.rows.setItem(r, k, item)
        self.rows.resizeColumnsToContents()
        for k in range(len(header)):         # long free text (names) must not push the other columns away
            self.rows.setColumnWidth(k, min(self.rows.columnWidth(k), 220))

    def _on_target(self, _index: int) -> None:
        name = self.target()
        if name and (self.dataset is None or name != self.dataset.target):
            self.targetChosen.emit(name)
