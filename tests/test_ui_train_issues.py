"""Issue 13 in the Train and Data tabs: what a new user hit (each test fails without its fix)."""
import numpy as np
import pytest
from PySide6.QtCore import QSettings

from app.engine.build import make_trainer
from app.engine.config import TrainConfig
from app.engine.events import Finished
from app.engine.runs import read_metrics
from app.engine.trainer import Control
from app.models import get_model_info
from app.ui.state import AppState
from app.ui.tabs.data_tab import DataTab
from app.ui.tabs.train import TrainTab
from app.ui.tabs.train import try_page as try_module

from helpers import tiny_dataset
from layout_checks import squeezed, tab_area

FAST = {"batch_size": 32, "augment": False, "device": "cpu", "schedule": "none", "optimizer": "sgd", "lr": 0.05}
CFG = TrainConfig(data="tiny", model="classic-cnn", epochs=2, batch_size=32, schedule="none", augment=False,
                  device="cpu")


@pytest.fixture
def state(qtbot, tmp_path):
    st = AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    st.set_model("classic-cnn")
    st.set_dataset(tiny_dataset(), {"data": "tiny"})
    return st


def make_tab(qtbot, state, size=(1200, 760)) -> TrainTab:
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    tab.resize(*size)
    tab.show()
    return tab


def wait_done(qtbot, tab, timeout=30000):
    qtbot.waitUntil(lambda: tab.last_result is not None and not tab.runner.is_running(), timeout=timeout)
    return tab.last_result


def stopped_in_first_epoch(ds, after_batches=3):
    """A run stopped by its person during the first epoch (8 batches of 32 per epoch)."""
    control = Control()
    trainer = make_trainer(CFG, dataset=ds, control=control)
    step = trainer.task.train_step

    def step_then_stop(batch, tr):
        if tr.step == after_batches - 1:
            control.stop()
        return step(batch, tr)

    trainer.task.train_step = step_then_stop
    return trainer.fit()


# ------------------------------------------------------------------------------------------- item 2
def test_a_run_stopped_in_its_first_epoch_reopens_at_its_true_place_and_continues_after_it(qtbot, state):
    fin = stopped_in_first_epoch(state.dataset)
    tab = make_tab(qtbot, state)
    tab.open_run(fin.run_dir)
    xs = tab.curves.batch_x.view.copy()
    assert len(xs) == 3 and xs == pytest.approx([1 / 8, 2 / 8, 3 / 8])          # not stretched over the epoch
    text = tab.message.text
    assert "first epoch" in text and "Continue" in text and "missing" not in text and "'model'" not in text
    tab.jobs.wait(10)
    assert tab.message.level != "error"

    tab.continue_run(fin.run_dir, more_epochs=1)
    result = wait_done(qtbot, tab)
    assert isinstance(result, Finished) and result.reason == "completed"
    xs = tab.curves.batch_x.view
    assert np.all(np.diff(xs) > 0), "the continued run drew over its old line"
    assert len(xs) == 8 * 3 and xs[-1] == pytest.approx(3.0)                   # 2 planned + 1 more


# ------------------------------------------------------------------------------------------- item 3
def test_what_will_be_trained_describes_the_run_that_is_running(qtbot, state):
    make_trainer(CFG.replace(epochs=1), dataset=state.dataset).fit()
    state.set_model("softmax")
    tab = make_tab(qtbot, state)
    assert "softmax" in tab.summary.text()
    tab.continue_run(tab._runs[0].path, more_epochs=1)
    assert "classic-cnn" in tab.summary.text() and "softmax" not in tab.summary.text()
    wait_done(qtbot, tab)
    assert "softmax" in tab.summary.text()


# ------------------------------------------------------------------------------------------- item 4
def test_continue_adds_epochs_and_a_failed_continue_changes_nothing(qtbot, state):
    fin = stopped_in_first_epoch(state.dataset)            # "0 of 2"
    tab = make_tab(qtbot, state)
    assert tab.runs_table.item(0, 3).text() == "0 of 2"
    tab.runs_table.selectRow(0)
    tab.more_epochs.setValue(1)
    tab.continue_button.click()
    result = wait_done(qtbot, tab)
    assert isinstance(result, Finished) and result.epoch == 3
    assert tab.runs_table.item(0, 3).text() == "3 of 3"

    # a Continue the engine refuses (a damaged checkpoint) leaves the run as it was
    from pathlib import Path
    run = Path(fin.run_dir)
    (run / "last.pt").write_bytes(b"not a checkpoint")
    planned = tab.curves.planned_epochs
    tab.continue_run(run, more_epochs=4)
    wait_done(qtbot, tab)
    assert tab.message.level == "error" and tab.runs_table.item(0, 3).text() == "3 of 3"
    assert tab.curves.planned_epochs == planned
    assert TrainConfig.load(run / "config.json").epochs == 3


# ------------------------------------------------------------------------------------- items 7 and 9
@pytest.mark.parametrize("window", [(1024, 700), (1280, 800)])
def test_nothing_is_cut_or_overlapping_at_ordinary_window_sizes(qtbot, state, window):
    make_trainer(CFG.replace(epochs=1), dataset=state.dataset).fit()
    w, h = tab_area(*window)
    tab = make_tab(qtbot, state, (w, h))
    assert tab.minimumSizeHint().width() <= w
    for page in range(tab.views.count()):
        tab.views.setCurrentIndex(page)
        qtbot.wait(20)
        assert tab.width() == w and squeezed(tab) == [], tab.views.tabText(page)

    data = DataTab(AppState(QSettings(str(state.settings.fileName()) + ".data.ini", QSettings.Format.IniFormat)))
    qtbot.addWidget(data)
    data.resize(w, h)
    data.show()
    qtbot.waitUntil(lambda: not data.is_busy() and data.state.dataset is not None, timeout=30000)
    qtbot.wait(20)
    assert data.chart.tick_labels() == data.state.dataset.classes        # every class named in full
    assert squeezed(data) == []
    data.shutdown()


# ------------------------------------------------------------------------------------------- item 8
def test_worst_predicted_captions_show_the_answer_in_the_header_order(qtbot, state):
    ds = tiny_dataset()
    ds.classes[:] = ["T-shirt/top", "Ankle boot", "sports automobile", "passenger aeroplane"]
    state.set_dataset(ds, {"data": "tiny"})
    tab = make_tab(qtbot, state, tab_area(1024, 700))
    tab.set_values({**FAST, "epochs": 1, "lr": 0.001})      # a poor model: many wrong answers
    tab.start_training()
    wait_done(qtbot, tab)
    tab.views.setCurrentIndex(1)
    gallery = tab.gallery
    assert gallery.count() > 0
    fm, cell = gallery.fontMetrics(), gallery.gridSize().width()
    sure, wrong = [], []
    for k in range(gallery.count()):
        item = gallery.item(k)
        said = item.toolTip().split("The model said: ")[1].split(" (")[0]
        assert said in item.text()                                     # the answer is in the caption, whole
        assert all(fm.horizontalAdvance(line) <= cell - 8 for line in item.text().split("\n"))
        true = item.toolTip().split("True class: ")[1].split("\n")[0]
        wrong.append(said != true)
        sure.append(float(item.toolTip().split("(")[1].split("%")[0]))
    n_wrong = sum(wrong)
    assert wrong == [True] * n_wrong + [False] * (len(wrong) - n_wrong)      # wrong ones first
    assert sure[:n_wrong] == sorted(sure[:n_wrong], reverse=True)            # the most confidently wrong first


# ------------------------------------------------------------------------------------------ item 10
def test_stop_in_the_first_epoch_says_so_and_clears_the_speed(qtbot, state):
    tab = make_tab(qtbot, state)
    tab.set_values({**FAST, "epochs": 500, "batch_size": 1})
    tab.start_training()
    qtbot.waitUntil(lambda: tab.speed.text() != "", timeout=20000)
    tab.stop_training()
    result = wait_done(qtbot, tab)
    assert result.reason == "stopped" and result.epoch == 0
    assert tab.progress.format().startswith("Stopped during epoch 1") and tab.speed.text() == ""
    assert tab.progress.value() < tab.progress.maximum()


# ------------------------------------------------------------------------------------------ item 12
def test_past_runs_show_a_folder_runs_folder_name(qtbot, state, tmp_path):
    from app.engine.runs import runs_root

    run = runs_root() / "2026-01-01T00-00-00_folder_cnn4"
    run.mkdir(parents=True)
    (run / "config.json").write_text(CFG.replace(data="folder", data_root=str(tmp_path / "holiday photos")).to_json())
    tab = make_tab(qtbot, state)
    assert tab.runs_table.item(0, 1).text() == "holiday photos"


# ------------------------------------------------------------------------------------------ item 13
def test_changing_the_model_keeps_what_was_typed_and_says_what_changed(qtbot, state):
    tab = make_tab(qtbot, state)
    tab.set_values({"epochs": 7})
    state.set_model("softmax")
    soft = get_model_info("softmax").defaults
    cnn = get_model_info("classic-cnn").defaults
    assert tab.epochs.value() == 7                                     # typed: kept
    assert tab.weight_decay.value() == pytest.approx(soft["weight_decay"])    # untouched: the new suggestion
    text = tab.message.text
    assert "Kept what you typed: epochs 7" in text
    if cnn["weight_decay"] != soft["weight_decay"]:
        assert "weight decay" in text and "softmax suggests" in text


# ------------------------------------------------------------------------------------------ item 14
def test_momentum_weight_decay_and_one_cycle_are_explained_where_they_appear(qtbot, state):
    tab = make_tab(qtbot, state)
    form = tab.settings_page.form
    for field, words in ((tab.momentum, "previous step"), (tab.weight_decay, "overfitting")):
        label = form.labelForField(field)
        assert words in field.toolTip() and words in label.toolTip()
    tab.set_values({"schedule": "onecycle"})
    assert "rises" in tab.settings_page.schedule_help.text() and tab.settings_page.schedule_help.isVisibleTo(tab)
    tab.set_values({"schedule": "cosine"})
    assert "falls smoothly" in tab.settings_page.schedule_help.text()


# ------------------------------------------------------------------------------------------ item 16
def test_first_launch_says_what_to_do_next(qtbot, tmp_path):
    st = AppState(QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat))
    tab = TrainTab(st)
    qtbot.addWidget(tab)
    assert "Data" in tab.message.text and "Model" in tab.message.text and "Start" in tab.message.text
    data = DataTab(st)
    qtbot.addWidget(data)
    qtbot.waitUntil(lambda: not data.is_busy() and st.dataset is not None, timeout=30000)
    assert any("Model tab" in text and "Train tab" in text for _, text in data.messages.messages())
    data.shutdown()
    again = DataTab(AppState(st.settings))
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: not again.is_busy() and again.state.dataset is not None, timeout=30000)
    assert not any("Model tab" in text for _, text in again.messages.messages())     # only the first time
    again.shutdown()


class Unsure:
    """A loaded model that spreads its answer (what a clothes model does with a face)."""
    classes = ["Bag", "Coat", "Shirt", "Sneaker"]

    def prepare(self, image):
        import torch
        return torch.zeros(1, 1, 28, 28, dtype=torch.uint8)

    def probabilities(self, x):
        import torch
        return torch.tensor([[0.786, 0.1, 0.07, 0.044]])


def test_try_it_says_it_is_not_sure_about_a_picture_unlike_any_class(qtbot, state, tmp_path, monkeypatch):
    from PIL import Image

    make_trainer(CFG.replace(epochs=1), dataset=state.dataset).fit()
    tab = make_tab(qtbot, state)
    tab.use_model(tab._runs[0].path)
    monkeypatch.setattr(try_module.ClassifierCache, "get", lambda self, path: Unsure())
    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(tmp_path / "face.png")
    tab.try_file(str(tmp_path / "face.png"))
    tab.jobs.wait(10)
    text = tab.try_truth.text()
    assert "not sure" in text and "78.6%" in text
    assert "%" in tab.try_truth.toolTip() and "not sure" in tab.try_truth.toolTip()
