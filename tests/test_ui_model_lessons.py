"""The Model tab's lesson tools: layer choices as drop-downs for the classic models, the small-image vgg11
explained, and the layer calculator (its numbers against PyTorch)."""
from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QComboBox

from app.ui.state import AppState
from app.ui.tabs.model_tab import ModelTab
from helpers import tiny_dataset

TIMEOUT = 15_000


@pytest.fixture
def tab(qtbot, tmp_path):
    st = AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    st.set_dataset(tiny_dataset(n_train=40, n_test=20, classes=10, size=28, channels=1, name="mnist"),
                   {"data": "mnist", "data_root": None, "image_size": None})
    t = ModelTab(st)
    qtbot.addWidget(t)
    t.resize(1200, 760)
    t.show()
    yield t
    t.shutdown()


def layer_types(tab) -> list[str]:
    m = tab.table.layer_model
    return [m.data(m.index(r, 1)) for r in range(m.rowCount())]


def wait_layers(qtbot, tab, present: str):
    qtbot.waitUntil(lambda: not tab.working() and tab.current_summary is not None and present in layer_types(tab),
                    timeout=TIMEOUT)


@pytest.mark.parametrize("name", ["mlp", "classic-cnn", "lenet5", "cnn4"])
def test_layer_choices_are_drop_downs_shown_in_the_layer_table(qtbot, tab, name):
    assert tab.select_model(name)
    combos = {k: tab._option_widgets[k] for k in ("norm", "activation", "loss")}
    assert all(isinstance(c, QComboBox) for c in combos.values())
    assert [combos["activation"].itemText(i) for i in range(combos["activation"].count())] == \
        ["ReLU", "LeakyReLU", "ELU", "GELU", "tanh", "sigmoid"]
    assert "LogSoftmax" in combos["loss"].itemText(combos["loss"].findData("nll"))
    combos["norm"].setCurrentIndex(combos["norm"].findData("group"))
    combos["activation"].setCurrentIndex(combos["activation"].findData("elu"))
    combos["loss"].setCurrentIndex(combos["loss"].findData("nll"))
    assert tab.state.model_options == {"norm": "group", "activation": "elu", "loss": "nll"}
    wait_layers(qtbot, tab, "LogSoftmax")
    types = layer_types(tab)
    assert "ELU" in types and "GroupNorm" in types and "ReLU" not in types and "BatchNorm2d" not in types
    # the second step: another tab on the same settings shows the same choices
    again = ModelTab(AppState(tab.settings))
    qtbot.addWidget(again)
    try:
        assert again.select_model(name)
        assert again._option_widgets["activation"].currentData() == "elu"
        assert again._option_widgets["loss"].currentData() == "nll"
    finally:
        again.shutdown()


def test_small_image_vgg11_says_how_it_differs_from_tv_vgg11(tab):
    assert tab.select_model("vgg11")
    text = tab.description.text()
    assert "small images" in text and "tv-vgg11" in text and "132.9 million" in text


def test_layer_calculator_the_lessons_conv_and_bad_arguments(qtbot, tab):
    calc = tab.calculator
    tab.lower_tabs.setCurrentWidget(calc)
    assert calc.isVisible()
    # it opens on the lesson's example
    assert calc.layer() == "Conv2d" and calc.shape_edit.text() == "1x28x28"
    r = calc.result
    assert r.output_shape == (32, 28, 28) and r.params == 832
    assert "Output 32 × 28 × 28 · 832 parameters" == calc.answer.text()
    assert "32 x 1 x 5 x 5 = 800" in calc.formula.text() and "Conv2d(1, 32, 5, padding=2)" in calc.call_label.text()
    # change an argument as a person types it: stride 2
    qtbot.keyClicks(calc.field("stride"), "2")
    assert calc.result.output_shape == (32, 14, 14)
    conv = torch.nn.Conv2d(1, 32, 5, padding=2, stride=2)
    assert tuple(conv(torch.zeros(1, 1, 28, 28)).shape[1:]) == calc.result.output_shape
    assert sum(p.numel() for p in conv.parameters()) == calc.result.params
    # bad arguments: a plain message, no result
    calc.field("kernel_size").setText("five")
    assert calc.result is None and "kernel_size must be a number" in calc.messages.text and calc.answer.text() == ""
    calc.field("kernel_size").setText("5")
    calc.shape_edit.setText("3x28x28")
    assert calc.result is None and "expects 1 input channels" in calc.messages.text
    calc.shape_edit.setText("1x28x28")
    assert calc.result is not None and calc.messages.text == ""
    # another layer type: Linear on the loaded data's shape after Flatten
    calc.layer_combo.setCurrentIndex(calc.layer_combo.findData("Linear"))
    calc.field("in_features").setText("784")
    calc.field("out_features").setText("10")
    assert calc.result is None and "input's last size is 28" in calc.messages.text
    calc.shape_edit.setText("784")
    assert calc.result.output_shape == (10,) and calc.result.params == 7850
    assert sum(p.numel() for p in torch.nn.Linear(784, 10).parameters()) == 7850
    # back to Conv2d: what was typed for it is still there
    calc.layer_combo.setCurrentIndex(calc.layer_combo.findData("Conv2d"))
    assert calc.field("stride").text() == "2" and calc.field("padding").text() == "2"
    # the loaded data's shape, one click
    assert calc.use_data.isVisible()
    qtbot.mouseClick(calc.use_data, Qt.MouseButton.LeftButton)
    assert calc.shape_edit.text() == "1x28x28" and calc.result.output_shape == (32, 14, 14)
