"""The Model tab: the zoo, the layer table for the loaded data, options, models that do not fit."""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings, Qt

from app.core.errors import OfflineError
from app.models import build_model, summarize
from app.ui.state import AppState
from app.ui.tabs import model_tab as model_tab_module
from app.ui.tabs import model_weights as model_weights_module
from app.ui.tabs.model_tab import ModelTab
from helpers import tiny_dataset

TIMEOUT = 15_000


@pytest.fixture
def state(tmp_path):
    st = AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    st.set_dataset(tiny_dataset(n_train=40, n_test=20, classes=10, size=28, channels=1, name="mnist"),
                   {"data": "mnist", "data_root": None, "image_size": None})
    return st


@pytest.fixture
def make_tab(qtbot):
    tabs = []

    def make(state):
        tab = ModelTab(state)
        qtbot.addWidget(tab)
        tabs.append(tab)
        return tab

    yield make
    for tab in tabs:
        tab.shutdown()


def wait_summary(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.working() and tab._key() == tab._wanted
                    and (tab.current_summary is not None or bool(tab.summary_error)), timeout=TIMEOUT)


def choose(tab, name):
    """Click the model in the list."""
    tab.model_list.setCurrentItem(tab.model_list._items[name])


def test_classic_cnn_layer_table_and_totals(make_tab, qtbot, state):
    state.set_model("classic-cnn", {})
    tab = make_tab(state)
    assert tab.current_name == "classic-cnn" and tab.model_list.selected_name() == "classic-cnn"
    assert tab.model_list.names()[:3] == ["softmax", "mlp", "classic-cnn"]
    assert "1 × 28 × 28" in tab.data_label.text() and "10 classes" in tab.data_label.text()
    wait_summary(qtbot, tab)
    s = tab.current_summary
    assert s.total_params == 21_840 and s.trainable_params == 21_840
    assert "21,840" in tab.totals.text() and "MB" in tab.totals.text()
    model = tab.table.layer_model
    assert model.rowCount() == len(s.rows) > 4
    params = [model.data(model.index(r, 3)) for r in range(model.rowCount())]
    assert sum(int(p.replace(",", "")) for p in params if p != "–") == 21_840
    assert model.data(model.index(0, 1)) == "Conv2d"
    assert model.data(model.index(model.rowCount() - 1, 2)) == "10"           # one score per class
    # The options of classic-cnn (dropout) are offered; there is no transfer learning for it.
    assert "dropout" in tab._option_widgets and not tab.transfer_box.isVisibleTo(tab)
    assert state.model_name == "classic-cnn" and state.model_options == {}     # only changed options
    tab._option_widgets["dropout"].setValue(0.25)
    assert state.model_options == {"dropout": 0.25}


def test_choosing_a_model_and_an_option_updates_state_and_settings(make_tab, qtbot, state):
    state.set_model("classic-cnn", {})
    tab = make_tab(state)
    seen = []
    state.modelChanged.connect(lambda name, options: seen.append((name, dict(options))))
    choose(tab, "lenet5")
    assert seen[-1] == ("lenet5", {}) and state.model_name == "lenet5"
    wait_summary(qtbot, tab)
    reference = summarize(build_model("lenet5", 1, (28, 28), 10), (1, 28, 28))
    assert tab.current_summary.total_params == reference.total_params
    choose(tab, "cnn4")
    tab._option_widgets["hidden"].setValue(64)
    assert state.model_options["hidden"] == 64 and seen[-1][0] == "cnn4"
    wait_summary(qtbot, tab)
    reference = summarize(build_model("cnn4", 1, (28, 28), 10, hidden=64), (1, 28, 28))
    assert tab.current_summary.total_params == reference.total_params
    assert json.loads(state.settings.value("model/options/cnn4"))["hidden"] == 64
    assert state.settings.value("model/name") == "cnn4"
    # A new tab (the next start) comes back to the same model and options.
    tab2 = make_tab(state)
    assert tab2.current_name == "cnn4" and tab2.options["hidden"] == 64


def test_dataset_change_updates_shape_and_parameters(make_tab, qtbot, state):
    state.set_model("classic-cnn", {})
    tab = make_tab(state)
    wait_summary(qtbot, tab)
    state.set_dataset(tiny_dataset(n_train=20, n_test=10, classes=3, size=32, channels=3, name="cifar10"),
                      {"data": "cifar10", "data_root": None, "image_size": None})
    assert "3 × 32 × 32" in tab.data_label.text() and "3 classes" in tab.data_label.text()
    wait_summary(qtbot, tab)
    reference = summarize(build_model("classic-cnn", 3, (32, 32), 3), (3, 32, 32))
    assert tab.current_summary.total_params == reference.total_params != 21_840
    assert tab.table.layer_model.data(tab.table.layer_model.index(tab.table.layer_model.rowCount() - 1, 2)) == "3"


def test_a_model_that_does_not_fit_shows_the_error_and_cannot_be_chosen(make_tab, qtbot, state):
    state.set_model("classic-cnn", {})
    tab = make_tab(state)
    wait_summary(qtbot, tab)
    # 8x8 images: too small for classic-cnn (16 pixels at least) and lenet5 (12), fine for cnn4.
    state.set_dataset(tiny_dataset(n_train=20, n_test=10, classes=4, size=8, channels=1, name="folder"),
                      {"data": "folder", "data_root": "/x/small", "image_size": 8})
    assert "at least 16x16" in tab.model_list.problem("classic-cnn")
    assert not tab.model_list.is_selectable("classic-cnn") and not tab.model_list.is_selectable("lenet5")
    assert tab.model_list.is_selectable("cnn4")
    # The current model no longer fits: an error, and no layers.
    assert [level for level, _ in tab.messages.messages()] == ["error"]
    assert "classic-cnn" in tab.messages.text and "at least 16x16" in tab.messages.text
    assert tab.current_summary is None and tab.table.layer_model.rowCount() == 0
    # Clicking another model that does not fit explains why and changes nothing.
    item = tab.model_list._items["lenet5"]
    tab.model_list.scrollToItem(item)
    qtbot.mouseClick(tab.model_list.viewport(), Qt.MouseButton.LeftButton,
                     pos=tab.model_list.visualItemRect(item).center())
    assert "lenet5 cannot be used" in tab.messages.text and "at least 12x12" in tab.messages.text
    assert tab.model_list.selected_name() is None
    assert not tab.select_model("lenet5") and state.model_name == "classic-cnn"
    # A model that fits can be chosen and gets its layer table.
    assert tab.select_model("cnn4") and state.model_name == "cnn4"
    wait_summary(qtbot, tab)
    assert tab.current_summary is not None and tab.messages.messages() == []


def test_builder_errors_are_shown_from_the_background_build(make_tab, qtbot, state):
    state.set_model("tv-vgg16", {"upscale_to": 0})
    tab = make_tab(state)
    wait_summary(qtbot, tab)
    assert tab.current_summary is None
    assert "at least 32x32" in tab.summary_error and "upscale_to" in tab.messages.text


def test_transfer_options_show_weight_availability(make_tab, qtbot, state, monkeypatch):
    state.set_model("tv-resnet18", {})
    tab = make_tab(state)
    assert tab.transfer_box.isVisibleTo(tab)
    assert not tab.pretrained_check.isEnabled() and not tab.freeze_check.isEnabled()   # not downloaded
    assert "not on this computer" in tab.weights_label.text() and tab.download_button.isVisibleTo(tab)
    assert "upscale_to" in tab._option_widgets

    def offline(name, progress=True):
        raise OfflineError(f"Could not download the ImageNet weights for {name} (no network). Check the "
                           f"internet connection and try again, or train from scratch.")

    monkeypatch.setattr(model_weights_module, "download_pretrained", offline)
    qtbot.mouseClick(tab.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab._downloading, timeout=TIMEOUT)
    assert "Could not download the ImageNet weights" in tab.messages.text

    # With the weights on disk the options become available and go to the state.
    monkeypatch.setattr(model_weights_module, "pretrained_available", lambda name: True)
    tab._update_transfer()
    assert tab.pretrained_check.isEnabled() and "on this computer" in tab.weights_label.text()
    monkeypatch.setattr(model_tab_module, "build_model",
                        lambda name, c, size, n, **o: build_model(name, c, size, n, **{**o, "pretrained": False}))
    tab.pretrained_check.setChecked(True)
    assert tab.freeze_check.isEnabled()
    tab.freeze_check.setChecked(True)
    assert state.model_options["pretrained"] is True and state.model_options["freeze_backbone"] is True
    wait_summary(qtbot, tab)
    s = tab.current_summary
    assert s.trainable_params < s.total_params and "frozen" in tab.totals.text()
