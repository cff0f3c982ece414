"""Right-click on a chart: pyqtgraph's own "Export..." dialog (PNG or SVG picture, CSV numbers, ...).

``enable_export(plot, rows)`` keeps pyqtgraph's view-box menu (axis ranges, mouse modes: confusing on
a chart that is not meant to be panned) off, but lets a right-click on the chart open a menu holding
pyqtgraph's "Export..." entry. ``rows`` (optional) gives the numbers a CSV export writes for charts
whose content is not lines (a confusion matrix, bars): ``() -> (header, rows)``. Lines (the training
curves) are written by pyqtgraph's CSV exporter as they are: x and y columns per curve.
"""
from __future__ import annotations

import csv
from typing import Callable

import pyqtgraph as pg
from pyqtgraph.exporters import CSVExporter, Exporter
from PySide6.QtWidgets import QMenu

Rows = Callable[[], tuple[list[str], list[list]]]


class ChartCSVExporter(CSVExporter):
    """pyqtgraph's CSV exporter, which writes a chart's own table when it has one (``plot.export_rows``)."""

    Name = "CSV file: the numbers of the chart (opens in a spreadsheet)"

    def export(self, fileName=None):  # noqa: N803 (pyqtgraph's name)
        rows = getattr(self.item, "export_rows", None)
        if fileName is None or rows is None:
            return super().export(fileName)
        header, data = rows()
        with open(fileName, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, delimiter="," if self.params["separator"] == "comma" else "\t")
            writer.writerow(header)
            writer.writerows(data)
        return None


def _register() -> None:
    exporters = Exporter.Exporters
    if CSVExporter in exporters:
        exporters[exporters.index(CSVExporter)] = ChartCSVExporter
    elif ChartCSVExporter not in exporters:
        exporters.append(ChartCSVExporter)


_register()


def enable_export(plot: pg.PlotItem, rows: Rows | None = None) -> None:
    """A right-click on ``plot`` offers pyqtgraph's Export... dialog (and nothing else). Safe to call again."""
    if rows is not None:
        plot.export_rows = rows
    vb = plot.getViewBox()
    if getattr(vb, "_export_menu_on", False):
        return
    plot.setMenuEnabled(False, enableViewBoxMenu=True)   # the plot's own menu off; the view box raises ours

    def get_menu(_event=None):
        menu = QMenu()
        vb._export_menu = menu          # kept alive while it is shown; the scene adds "Export..." to it
        return menu

    vb.getMenu = get_menu
    vb._export_menu_on = True
