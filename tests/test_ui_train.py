"""The Train tab, clicked through on generated data (offscreen, no real data sets)."""
import shlex

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication

from app.engine.build import make_trainer
from app.engine.config import TrainConfig
from app.engine.devices import cuda_available
from app.engine.events import Failed, Finished
from app.engine.predict import load_classifier
from app.engine.runs import read_metrics
from app.models import get_model_info
from app.ui.state import AppState
from app.engine.classification import evaluation_details
from app.ui.tabs.train import TrainTab
from app.ui.widgets.curves import ema

from helpers import tiny_dataset

FAST = {"batch_size": 32, "augment": False, "device": "cpu", "schedule": "none", "optimizer": "sgd", "lr": 0.05}


@pytest.fixture
def state(qtbot, tmp_path):
    st = AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    st.set_model("classic-cnn")
    st.set_dataset(tiny_dataset(), {"data": "tiny"})
    return st


def make_tab(qtbot, state) -> TrainTab:
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    tab.resize(1200, 760)
    tab.show()
    return tab


def wait_done(qtbot, tab, timeout=20000):
    qtbot.waitUntil(lambda: tab.last_result is not None and not tab.runner.is_running(), timeout=timeout)
    return tab.last_result


def wait_jobs(qtbot, tab, timeout=15000):
    qtbot.waitUntil(lambda: tab.jobs.pending == 0, timeout=timeout)


def test_click_path_start_pause_resume_stop_results_and_try_it(qtbot, state, tmp_path):
    tab = make_tab(qtbot, state)
    tab.set_values({**FAST, "epochs": 60})
    assert tab.curves.n_batches == 0 and tab.gallery.count() == 0
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert tab.runner.is_running() and not tab.start_button.isEnabled()
    qtbot.waitUntil(lambda: tab.curves.n_batches > 0, timeout=10000)
    assert tab.first_point_seconds is not None and tab.first_point_seconds < 2.0
    qtbot.waitUntil(lambda: tab.curves.n_epochs >= 1, timeout=10000)
    assert "train" in state.busy

    qtbot.mouseClick(tab.pause_button, Qt.MouseButton.LeftButton)
    assert tab.pause_button.text() == "Resume" and state.busy["train"].startswith("Paused")
    qtbot.wait(400)
    n = tab.curves.n_batches
    qtbot.wait(400)
    assert tab.curves.n_batches == n and tab.runner.is_running()

    qtbot.mouseClick(tab.pause_button, Qt.MouseButton.LeftButton)
    assert tab.pause_button.text() == "Pause"
    qtbot.waitUntil(lambda: tab.curves.n_batches > n, timeout=10000)
    qtbot.mouseClick(tab.stop_button, Qt.MouseButton.LeftButton)
    result = wait_done(qtbot, tab)
    assert isinstance(result, Finished) and result.reason == "stopped"
    assert tab.start_button.isEnabled() and "train" not in state.busy
    run = tab.run_dir
    assert (run / "last.pt").is_file() and (run / "best.pt").is_file()
    assert "Stopped" in tab.message.text and tab.message.level == "ok"

    # curves: every batch and epoch point kept, smoothed curve as long as the raw one
    assert tab.curves.n_batches == len(read_metrics(run, "batches.csv"))
    assert tab.curves.n_epochs == result.epoch
    assert len(tab.curves.smoothed) == tab.curves.n_batches
    tab.curves.slider.setValue(0)
    assert np.allclose(tab.curves.smoothed.view, tab.curves.batch_loss.view)
    tab.curves.throttle.flush()
    assert len(tab.curves.smooth_curve.yData) == tab.curves.n_batches
    assert np.allclose(tab.curves.smooth_curve.yData, tab.curves.batch_loss.view, equal_nan=True)

    # results of the last epoch (drawn when the Results page is opened): confusion matrix,
    # per-class accuracy, worst images
    assert tab.gallery.count() == 0 and "open this page" in tab.results_title.text()
    tab.views.setCurrentIndex(1)
    assert tab.confusion.matrix.shape == (4, 4) and tab.confusion.matrix.sum() == 64
    texts = tab.confusion.cells.texts()
    assert len(texts) == 16 and sum(int(t) for t in texts if t.isdigit()) == 64
    tab.confusion.normalise.setChecked(True)
    assert np.allclose(tab.confusion.displayed().sum(1), 1.0)
    assert all(t.endswith("%") for t in tab.confusion.cells.texts() if t)
    assert len(tab.per_class.values) == 4
    assert tab.gallery.count() > 0 and "→" in tab.gallery.captions()[0]

    # Try it: a random test image, then a picture file
    tab.random_test_image()
    wait_jobs(qtbot, tab)
    p = tab.last_probabilities
    assert p is not None and p.shape == (4,) and abs(p.sum() - 1.0) < 1e-4
    assert len(tab.try_bars.rows) == 4 and "true class" in tab.try_truth.text()
    img = tiny_dataset().test.images[0, 0].numpy()
    Image.fromarray(img).save(tmp_path / "pic.png")
    tab.last_probabilities = None
    tab.try_file(str(tmp_path / "pic.png"))
    wait_jobs(qtbot, tab)
    assert abs(tab.last_probabilities.sum() - 1.0) < 1e-4
    tab.try_file(str(tmp_path / "missing.png"))
    assert tab.message.level == "error" and "missing.png" in tab.message.text

    # save the model: a state-dict copy and ONNX
    tab.export_model(run, target=str(tmp_path / "model.pt"))
    assert load_classifier(tmp_path / "model.pt").classes == ["class0", "class1", "class2", "class3"]
    tab.export_model(run, target=str(tmp_path / "model.onnx"))
    wait_jobs(qtbot, tab, 60000)
    assert (tmp_path / "model.onnx").stat().st_size > 0 and "ONNX" in tab.message.text
    tab.shutdown()


def test_failed_run_is_explained_in_the_tab(qtbot, state):
    state.set_dataset(tiny_dataset(size=8), {"data": "tiny8"})
    state.set_model("lenet5")
    tab = make_tab(qtbot, state)
    tab.set_values({**FAST, "epochs": 1})
    tab.start_training()
    result = wait_done(qtbot, tab)
    assert isinstance(result, Failed) and result.user_error
    assert tab.message.level == "error"
    assert "12x12" in tab.message.text and "Traceback" not in tab.message.text
    assert tab.message.current.copy_button.isVisibleTo(tab)
    assert tab.start_button.isEnabled() and "train" not in state.busy


def test_start_without_data_or_with_bad_settings_says_what_to_do(qtbot, tmp_path):
    st = AppState(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    tab = make_tab(qtbot, st)
    tab.start_training()
    assert not tab.runner.is_running() and "Data tab" in tab.message.text
    st.set_dataset(tiny_dataset(), {"data": "tiny"})
    st.set_model("no-such-model")
    tab.start_training()
    wait_done(qtbot, tab)
    assert tab.message.level == "error" and "no-such-model" in tab.message.text


def test_reopen_and_continue_a_past_run(qtbot, state):
    cfg = TrainConfig(data="tiny", model="classic-cnn", epochs=1, batch_size=32, schedule="none", augment=False,
                      device="cpu")
    make_trainer(cfg, dataset=state.dataset).fit()
    tab = make_tab(qtbot, state)
    assert tab.runs_table.rowCount() == 1 and not tab.runs_empty.isVisibleTo(tab)
    run = tab._runs[0].path
    assert tab.runs_table.item(0, 3).text() == "1 of 1"
    tab.runs_table.selectRow(0)
    tab.open_run_button.click()
    assert tab.curves.n_epochs == 1 and tab.curves.n_batches == 8
    assert tab.model_dir == run
    wait_jobs(qtbot, tab)
    assert tab.confusion.matrix.sum() == 64 and tab.gallery.count() > 0
    assert tab.message.level == "ok"

    tab.more_epochs.setValue(1)
    tab.continue_button.click()
    result = wait_done(qtbot, tab)
    assert isinstance(result, Finished) and result.reason == "completed" and result.epoch == 2
    assert [r["epoch"] for r in read_metrics(run)] == [1.0, 2.0]
    assert tab.curves.n_epochs == 2 and tab.curves.n_batches == 16
    assert tab.runs_table.item(0, 3).text() == "2 of 2"

    tab.open_run(run.parent)   # not a run folder
    assert tab.message.level == "error" and "not a VisionDesk run" in tab.message.text


def test_settings_defaults_persistence_and_command_line(qtbot, state, tmp_path):
    from app.cli import build_parser, config_from_args

    tab = make_tab(qtbot, state)
    d = get_model_info("classic-cnn").defaults
    assert tab.lr.value() == pytest.approx(d["lr"]) and tab.batch_size.value() == d["batch_size"]
    state.set_model("softmax")
    sd = get_model_info("softmax").defaults
    assert tab.weight_decay.value() == pytest.approx(sd["weight_decay"])
    if not cuda_available():
        assert not tab.device.model().item(2).isEnabled() and not tab.amp.isEnabled()
    tab.set_values({"epochs": 7, "lr": 0.0123, "optimizer": "adam", "schedule": "cosine", "augment": False})
    assert not tab.momentum.isEnabled()
    tab.save_settings()
    again = make_tab(qtbot, state)
    assert again.values() == tab.values()

    cfg = tab.current_config()
    line = tab.copy_command()
    assert QGuiApplication.clipboard().text() == line == cfg.to_command()
    args = build_parser().parse_args(shlex.split(line)[1:])
    assert config_from_args(args).to_dict() == cfg.to_dict()
    with_opts = cfg.replace(model_options={"dropout": 0.25, "name": "a b"}, data_root=str(tmp_path / "my data"))
    args = build_parser().parse_args(shlex.split(with_opts.to_command())[1:])
    assert config_from_args(args).to_dict() == with_opts.to_dict()


def test_evaluation_details_and_ema():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    det = evaluation_details(probs, [0, 1, 1], ["a", "b"])
    assert det["confusion"] == [[1, 0], [1, 1]] and det["per_class_acc"] == [1.0, 0.5]
    assert det["worst"][0]["index"] == 2 and det["worst"][0]["pred"] == 0
    assert det["accuracy"] == pytest.approx(2 / 3)
    x = np.array([1.0, np.nan, 3.0])
    assert np.allclose(ema(x, 0.0), [1.0, 1.0, 3.0])
    assert ema(x, 0.5)[0] == 1.0 and 1.0 < ema(x, 0.5)[2] < 3.0
