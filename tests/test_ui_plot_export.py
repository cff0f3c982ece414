"""The charts' own export menu: a right-click opens pyqtgraph's Export... dialog, and a PNG or CSV of the
training curves and of the confusion matrix lands where the person saves it."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QMenu

from app.ui.widgets.confusion import ConfusionMatrixView
from app.ui.widgets.curves import TrainingCurves


def right_click_export(qtbot, view) -> "object":
    """Right-click the middle of a PlotWidget, pick 'Export...' in the menu that opens; the export dialog."""
    vb = view.getPlotItem().getViewBox()
    centre = view.mapFromScene(vb.sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=QPoint(int(centre.x()), int(centre.y())))
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=3000)
    menu = QApplication.activePopupWidget()
    actions = [a for a in menu.actions() if not a.isSeparator()]
    assert [a.text() for a in actions] == ["Export..."]      # the axis and mouse settings stay off
    menu.close()
    actions[0].trigger()
    dialog = view.scene().exportDialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def dispose_export_dialog(view) -> None:
    """Close pyqtgraph's export dialog and cut its cycle with the scene now (dialog -> scene -> dialog, a
    rectangle item in the scene), so it is freed here and not by a garbage collection during a later test."""
    scene = view.scene()
    dialog = getattr(scene, "exportDialog", None)
    if dialog is None:
        return
    files = getattr(dialog.currentExporter, "fileDialog", None)
    if files is not None:
        files.close()
    dialog.close()
    scene.removeItem(dialog.selectBox)
    scene.exportDialog = None
    dialog.scene = dialog.currentExporter = None


def export_as(qtbot, dialog, fmt_words: str, path) -> None:
    """In the export dialog: the chart is selected, choose the format, press Export, save as ``path``."""
    tree = dialog.ui.itemTree
    assert tree.currentItem() is not None and tree.currentItem().text(0) != "Entire Scene"
    formats = dialog.ui.formatList
    rows = [i for i in range(formats.count()) if fmt_words in formats.item(i).text()]
    assert rows, [formats.item(i).text() for i in range(formats.count())]
    formats.setCurrentRow(rows[0])
    qtbot.mouseClick(dialog.ui.exportBtn, Qt.MouseButton.LeftButton)
    files = dialog.currentExporter.fileDialog
    assert files.isVisible()
    files.selectFile(str(path))
    files.accept()


@pytest.fixture
def curves(qtbot):
    w = TrainingCurves()
    qtbot.addWidget(w)
    w.resize(900, 400)
    w.show()
    for e in range(1, 4):
        w.add_epoch(e, {"loss": 1.0 / e, "test_loss": 1.2 / e, "train_acc": 0.5 + 0.1 * e, "test_acc": 0.45 + 0.1 * e})
    return w


def test_curves_export_png_and_csv_from_the_right_click_menu(qtbot, curves, tmp_path):
    dialog = right_click_export(qtbot, curves.acc_view)
    export_as(qtbot, dialog, "Image File", tmp_path / "accuracy.png")
    img = Image.open(tmp_path / "accuracy.png")
    assert img.size[0] > 100 and img.size[1] > 100 and len(np.unique(np.asarray(img.convert("L")))) > 2
    dialog = right_click_export(qtbot, curves.loss_view)
    export_as(qtbot, dialog, "CSV", tmp_path / "loss.csv")
    rows = list(csv.reader(open(tmp_path / "loss.csv")))
    assert len(rows) >= 4 and len(rows[0]) >= 2
    numbers = {round(float(v), 4) for r in rows[1:] for v in r if v}
    assert {1.2, 0.6, 0.4} <= numbers and {1.0, 2.0, 3.0} <= numbers   # the test losses at epochs 1, 2, 3
    for view in (curves.acc_view, curves.loss_view):
        dispose_export_dialog(view)


def test_confusion_matrix_exports_png_and_its_numbers_as_csv(qtbot, tmp_path):
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.resize(600, 500)
    view.show()
    m = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    view.set_matrix(m, ["cat", "dog", "fish, gold"])
    dialog = right_click_export(qtbot, view.view)
    export_as(qtbot, dialog, "CSV", tmp_path / "confusion.csv")
    rows = list(csv.reader(open(tmp_path / "confusion.csv")))
    assert rows[0][1:] == ["cat", "dog", "fish, gold"]
    assert [[int(v) for v in r[1:]] for r in rows[1:]] == m.tolist() and rows[3][0] == "fish, gold"
    dialog = right_click_export(qtbot, view.view)
    export_as(qtbot, dialog, "Image File", tmp_path / "confusion.png")
    assert Image.open(tmp_path / "confusion.png").size[0] > 100
    dispose_export_dialog(view.view)
