"""The main window: tabs, menus, status bar, settings, closing while training, the error handler."""
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog

from app.engine.build import make_trainer
from app.engine.config import TrainConfig
from app.engine.devices import describe_device
from app.ui import main as ui_main
from app.ui.main import TABS, MainWindow, log_path, settings_path

from helpers import tiny_dataset


def test_window_has_its_tabs_in_order_and_the_device_in_the_status_bar(window):
    titles = window.tab_titles()
    assert titles == ["Data", "Model", "Train", "Keypoints", "GAN", "Basics"]   # every tab, none missing
    assert "Train" in titles
    order = [t for _m, _c, t in TABS]
    assert [order.index(t) for t in titles] == sorted(order.index(t) for t in titles)
    assert describe_device("auto") in window.device_label.text()
    assert window.device_label in window.statusBar().findChildren(type(window.device_label))
    window.state.set_busy("test", "Loading something")
    assert window.activity_label.text() == "Loading something"
    window.state.set_busy("test", "")
    assert window.activity_label.text() == "Ready"
    # settings live in VisionDesk's own (test-isolated) folder
    assert window.settings.fileName() == str(settings_path())


def test_menus_shortcuts_and_about(window):
    acts = window.actions_by_name
    assert acts["Quit"].shortcut() == QKeySequence(QKeySequence.StandardKey.Quit)
    assert acts["Open image folder"].shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert acts["Start / stop training"].shortcut() == QKeySequence("Ctrl+R")
    for name in ("Open a past run", "Export model", "About VisionDesk", "Pause / resume training"):
        assert name in acts
    text = window.about_text()
    import PySide6
    import torch
    import torchvision
    for v in (torch.__version__, torchvision.__version__, PySide6.__version__, window.device_text):
        assert v in text


def test_file_menu_reaches_the_tabs(window, qtbot, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(window.data_tab, "open_folder", calls.append)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path)))
    window.actions_by_name["Open image folder"].trigger()
    assert calls == [str(tmp_path)] and window.tabs.currentWidget() is window.data_tab
    # a past run, opened through the menu, shows in the Train tab
    ds = tiny_dataset()
    cfg = TrainConfig(data="tiny", model="softmax", epochs=1, batch_size=64, schedule="none", device="cpu")
    fin = make_trainer(cfg, dataset=ds).fit()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: fin.run_dir))
    window.actions_by_name["Open a past run"].trigger()
    tab = window.train_tab
    assert window.tabs.currentWidget() is tab
    assert tab.curves.n_epochs == 1 and str(tab.model_dir) == fin.run_dir
    qtbot.waitUntil(lambda: tab.jobs.pending == 0, timeout=15000)
    # export through the menu: the dialog is answered with a file name
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(tmp_path / "m.pt"), "")))
    window.actions_by_name["Export model"].trigger()
    assert (tmp_path / "m.pt").is_file()


def test_close_while_training_asks_then_stops_and_saves(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: not w.data_tab.is_busy(), timeout=30000)
    tab = w.train_tab
    w.state.set_model("classic-cnn")
    w.state.set_dataset(tiny_dataset(), {"data": "tiny"})
    tab.set_values({"epochs": 500, "batch_size": 32, "augment": False, "device": "cpu"})
    qtbot.keyClick(w, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)   # Ctrl+R starts
    assert tab.runner.is_running()
    qtbot.waitUntil(lambda: tab.curves.n_batches > 0, timeout=10000)
    asked = []
    answers = [False, True]
    w.confirm_close = lambda busy: asked.append(busy) or answers.pop(0)
    assert not w.close()
    assert tab.runner.is_running() and w.isVisible() and asked == [["Train"]]
    w.resize(1000, 655)   # (the offscreen screen is small: a wider window is clamped)
    assert w.close()
    assert not tab.runner.is_running() and len(asked) == 2
    run = tab.run_dir
    assert run is not None and (run / "last.pt").is_file()
    # the geometry comes back in the next window
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert (w2.width(), w2.height()) == (1000, 655)
    qtbot.waitUntil(lambda: not w2.data_tab.is_busy(), timeout=30000)
    w2.confirm_close = lambda busy: True
    w2.close()


def test_unexpected_errors_are_logged_and_shown_with_copy_details(window, qtbot):
    hook = window.excepthook
    hook.install()
    try:
        assert sys.excepthook is hook
        try:
            raise ValueError("something odd happened")
        except ValueError:
            hook(*sys.exc_info())
        dialog = hook.dialog
        assert dialog is not None and dialog.isVisible() and window.isVisible()
        assert "ValueError: something odd happened" in dialog.summary.text()
        dialog.copy_button.click()
        assert "Traceback" in QGuiApplication.clipboard().text()
        assert "something odd happened" in log_path().read_text(encoding="utf-8")
        try:
            raise RuntimeError("second")
        except RuntimeError:
            hook(*sys.exc_info())
        assert hook.dialog is dialog and "RuntimeError: second" in dialog.summary.text()
        dialog.close()
    finally:
        hook.uninstall()
    assert sys.excepthook is not hook


def test_run_gui_opens_the_window(qtbot, monkeypatch):
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    before = set(QApplication.topLevelWidgets())
    from app.__main__ import main

    assert main([]) == 0
    new = [w for w in QApplication.topLevelWidgets() if w not in before and isinstance(w, MainWindow)]
    assert len(new) == 1 and new[0].isVisible() and sys.excepthook is new[0].excepthook
    new[0].confirm_close = lambda busy: True
    assert new[0].close()
    assert sys.excepthook is not new[0].excepthook
    assert ui_main.load_style()


def test_first_launch_says_what_to_do_next_until_dismissed(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: not w.data_tab.is_busy(), timeout=30000)
    assert w.welcome.isVisible()
    text = w.welcome.text
    assert text.index("Data") < text.index("Model") < text.index("Train")
    qtbot.mouseClick(w.welcome.current.fix_button, Qt.MouseButton.LeftButton)
    assert not w.welcome.isVisible()
    w.confirm_close = lambda busy: True
    w.close()
    w2 = MainWindow()          # the next launch does not show it again
    qtbot.addWidget(w2)
    w2.show()
    qtbot.waitUntil(lambda: not w2.data_tab.is_busy(), timeout=30000)
    assert not w2.welcome.isVisible()
    w2.confirm_close = lambda busy: True
    w2.close()
