"""The Basics tab's click path under pytest-qt (offscreen)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.engine.basics import GRID, TOO_LARGE
from app.engine.events import Finished
from app.ui.state import AppState
from app.ui.tabs.basics import BasicsTab
from app.ui.tabs.basics.plots import LogAxis, region_image

FAST, SLOW = 2, 1            # indices in the speed combo: "As fast as possible", "Slow motion (about 15 s)"


@pytest.fixture
def tab(qtbot):
    w = BasicsTab(AppState())
    qtbot.addWidget(w)
    w.resize(1280, 760)
    w.show()
    yield w
    w.shutdown()


def click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def run_to_end(qtbot, tab, timeout=20000):
    click(qtbot, tab.start_button)
    assert tab.is_busy()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=timeout)
    tab.throttle.flush()


def test_line_start_finish_and_reset(qtbot, tab):
    tab.standardise_check.setChecked(True)
    tab.speed_combo.setCurrentIndex(FAST)
    tab.steps_spin.setValue(60)
    assert tab.lr_combo.currentText() == "0.1"
    click(qtbot, tab.start_button)
    assert not tab.start_button.isEnabled() and tab.stop_button.isEnabled()
    assert not tab.settings_box.isEnabled()
    qtbot.waitUntil(lambda: len(tab.line_page.steps) > 0, timeout=10000)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=20000)
    tab.throttle.flush()
    assert isinstance(tab.last_result, Finished) and tab.last_result.reason == "completed"
    x, y = tab.line_page.loss_curve.getData()
    assert len(x) == 60 and np.all(np.isfinite(y))
    w, b = tab.line_page.current()
    assert abs(w - 10) < 0.05 and abs(b - 4) < 0.3
    fx, fy = tab.line_page.fit_curve.getData()
    assert fy[1] == pytest.approx(100 * w + b)
    assert tab.message.level == "ok" and "y = " in tab.message.text
    assert "step 60 of 60" in tab.readout_label.text()
    assert tab.start_button.isEnabled() and tab.settings_box.isEnabled()

    click(qtbot, tab.reset_button)
    assert len(tab.line_page.steps) == 0
    assert len(tab.line_page.loss_curve.getData()[0] or []) == 0
    assert "Ready" in tab.message.text


def test_raw_x_blows_up_and_the_fix_button_standardises(qtbot, tab):
    tab.speed_combo.setCurrentIndex(FAST)
    assert not tab.standardise_check.isChecked()
    run_to_end(qtbot, tab)
    assert TOO_LARGE in tab.message.text
    assert tab.message.level == "warn"
    assert tab.message.current.fix_button.isVisible() and "standardise" in tab.message.current.fix_button.text()
    assert len(tab.line_page.steps) < tab.steps_spin.value()        # it stopped early
    click(qtbot, tab.message.current.fix_button)
    assert tab.standardise_check.isChecked() and tab.lr_combo.currentText() == "0.1"
    run_to_end(qtbot, tab)
    assert tab.message.level == "ok"


def test_stop_mid_run_and_reset_while_running(qtbot, tab):
    click(qtbot, tab.experiment_buttons["spiral"])
    tab.width_spin.setValue(16)
    tab.speed_combo.setCurrentIndex(SLOW)
    click(qtbot, tab.start_button)
    qtbot.waitUntil(lambda: len(tab.spiral_page.steps) >= 3, timeout=10000)
    # switching experiments is refused while a run is going
    assert not tab.experiment_buttons["line"].isEnabled()
    click(qtbot, tab.stop_button)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=10000)
    assert tab.last_result.reason == "stopped"
    assert "Stopped after" in tab.message.text
    assert 3 <= len(tab.spiral_page.steps) < 1000

    click(qtbot, tab.start_button)
    qtbot.waitUntil(lambda: len(tab.spiral_page.steps) >= 3, timeout=10000)
    click(qtbot, tab.reset_button)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=10000)
    assert len(tab.spiral_page.steps) == 0 and "Ready" in tab.message.text


def test_sine_draws_the_polynomial_and_its_formula(qtbot, tab):
    click(qtbot, tab.experiment_buttons["sine"])
    assert tab.page_stack.currentWidget() is tab.sine_page
    assert tab.optimizer_combo.currentData() == "adam"
    tab.degree_spin.setValue(3)
    tab.steps_spin.setValue(150)
    tab.speed_combo.setCurrentIndex(FAST)
    run_to_end(qtbot, tab)
    x, y = tab.sine_page.fit_curve.getData()
    assert len(x) > 100 and np.all(np.isfinite(y))
    assert "x³" in tab.sine_page.formula.text() and "x⁴" not in tab.sine_page.formula.text()
    assert "largest error" in tab.readout_label.text()
    assert "torch.arange(4)" in tab.code_label.text()


def test_spiral_paints_regions_and_same_seed_repeats(qtbot, tab):
    click(qtbot, tab.experiment_buttons["spiral"])
    tab.width_spin.setValue(16)
    tab.steps_spin.setValue(60)
    tab.speed_combo.setCurrentIndex(FAST)
    run_to_end(qtbot, tab)
    img = tab.spiral_page.image.image
    assert img is not None and img.shape == (GRID, GRID, 3)
    first = tab.spiral_page.loss.view.copy()
    click(qtbot, tab.reset_button)
    run_to_end(qtbot, tab)
    np.testing.assert_array_equal(tab.spiral_page.loss.view, first)
    assert "Linear(2, 16)" in tab.code_label.text()


def test_bad_learning_rate_is_explained(qtbot, tab):
    tab.lr_combo.setCurrentText("fast please")
    click(qtbot, tab.start_button)
    assert not tab.is_busy()
    assert "learning rate" in tab.message.text and tab.message.level == "error"


def test_hand_and_autograd_use_plain_gradient_descent(qtbot, tab):
    assert not tab.optimizer_combo.isEnabled()
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("nn"))
    assert tab.optimizer_combo.isEnabled()
    tab.optimizer_combo.setCurrentIndex(tab.optimizer_combo.findData("adam"))
    assert tab.lr_combo.currentText() == "5"                     # the suggestion for Adam on this line
    assert "torch.optim.Adam" in tab.code_label.text()
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("autograd"))
    assert tab.optimizer_combo.currentData() == "sgd" and not tab.optimizer_combo.isEnabled()
    assert "loss.backward()" in tab.code_label.text()


def test_region_colours_and_log_ticks():
    probs = np.zeros((2, 2, 3), dtype=np.float32)
    probs[0, 0, 0] = probs[0, 1, 1] = probs[1, 0, 2] = 1.0
    probs[1, 1] = 1 / 3
    img = region_image(probs)
    assert img.dtype == np.uint8 and img.shape == (2, 2, 3)
    assert img[0, 0, 2] > img[0, 0, 0]           # class 0 is blue
    assert img[0, 1, 0] > img[0, 1, 2]           # class 1 is orange
    axis = LogAxis("left")
    axis.setLogMode(False, True)
    levels = axis.tickValues(-2.0, 3.0, 300)
    assert [round(v) for v in levels[0][1]] == [-2, -1, 0, 1, 2, 3]
    assert [round(v) for v in axis.tickValues(-2.0, 10.0, 300)[0][1]] == [-2, 0, 2, 4, 6, 8, 10]   # <= 7 labels
    assert axis.tickStrings([5.0, -2.0, 0.0], 1, 1) == ["10⁵", "0.01", "1"]


def test_course_preset_buttons_set_the_lesson_exactly_and_1e_6_explains_the_nan(qtbot, tab):
    """The preset button sets the controls to the engine's preset (whose run reproduces w ≈ 10.00 and
    b ≈ 4.1-4.2: tests/test_basics.py); its 1e-6 variant blows up and the tab says why in plain words."""
    from app.engine.basics import preset

    tab._select("spiral")
    click(qtbot, tab.preset_button)
    assert tab.experiment == "line"
    assert tab.settings() == preset("line-lesson").replace(seconds=0.0)
    assert "1e-8" in tab.message.text and "50,000 steps" in tab.message.text
    assert "err.sum()" in tab.code_label.text() and ".mean()" not in tab.code_label.text()
    click(qtbot, tab.preset_nan_button)
    assert tab.settings() == preset("line-lesson").replace(seconds=0.0, lr=1e-6)
    run_to_end(qtbot, tab)
    text = tab.message.text
    assert tab.message.messages()[0][0] == "warn"
    assert "NaN" in text and "summed squared error of 10,000 points" in text and "the course uses 1e-8" in text
    # the second step: back to the course's learning rate, a short run learns (no NaN)
    click(qtbot, tab.preset_button)
    tab.steps_spin.setValue(2000)
    run_to_end(qtbot, tab)
    assert isinstance(tab.last_result, Finished) and "NaN" not in tab.message.text
    assert 9.9 < tab.last_result.metrics["w"] < 10.1
