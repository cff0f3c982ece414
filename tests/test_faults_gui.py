"""Faults in the window: a bug in a worker, errors in threads and slots, Qt warnings; stop, pause and
window close at awkward moments (between batches, during evaluation, during checkpoint writing);
a camera that is missing. The window stays up, the message says what happened, and the run folder
stays loadable and continues from its last good epoch."""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QSettings, QTimer, qWarning
from PySide6.QtGui import QGuiApplication

import app.engine.trainer as trainer_mod
from app.engine.checkpoint import load_checkpoint
from app.engine.classification import ClassificationTask
from app.engine.events import Failed, Finished
from app.engine.runs import read_metrics
from app.ui.main import MainWindow, log_path
from app.ui.state import AppState
from app.ui.tabs.train import TrainTab

from helpers import tiny_dataset

FAST = {"batch_size": 32, "augment": False, "device": "cpu", "schedule": "none", "optimizer": "sgd", "lr": 0.05}


def _ready(tab_state: AppState) -> None:
    tab_state.set_model("softmax")
    tab_state.set_dataset(tiny_dataset(), {"data": "tiny"})


def _window(qtbot) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    if w.data_tab is not None:     # the Data tab loads its first data set at start
        qtbot.waitUntil(lambda: not w.data_tab.is_busy(), timeout=30000)
    w.confirm_close = lambda busy: True
    _ready(w.state)
    w.train_tab.set_values({**FAST, "epochs": 3})
    return w


def _tab(qtbot, tmp_path) -> TrainTab:
    state = AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    _ready(state)
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    tab.set_values({**FAST, "epochs": 3})
    return tab


def _wait_done(qtbot, tab, timeout=30000):
    qtbot.waitUntil(lambda: tab.last_result is not None and not tab.runner.is_running(), timeout=timeout)
    return tab.last_result


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.qt_no_exception_capture
def test_errors_anywhere_are_logged_and_shown_and_the_window_stays_up(qtbot, monkeypatch):
    w = _window(qtbot)
    hook = w.excepthook
    hook.install()
    try:
        assert sys.excepthook is hook and threading.excepthook == hook._thread_hook

        # 1. a bug inside a training step (in the worker thread), after one good epoch
        real_step = ClassificationTask.train_step

        def buggy_step(self, batch, trainer):
            if trainer.epoch >= 1:
                return {"loss": {}["missing key"]}   # a plain bug
            return real_step(self, batch, trainer)

        monkeypatch.setattr(ClassificationTask, "train_step", buggy_step)
        tab = w.train_tab
        tab.start_training()
        result = _wait_done(qtbot, tab)
        assert isinstance(result, Failed) and not result.user_error
        qtbot.waitUntil(lambda: hook.dialog is not None and hook.dialog.isVisible(), timeout=5000)
        dialog = hook.dialog
        assert "KeyError" in dialog.summary.text() and "missing key" in dialog.summary.text()
        assert "Traceback" in dialog.text.toPlainText() and "buggy_step" in dialog.text.toPlainText()
        dialog.copy_button.click()
        assert "buggy_step" in QGuiApplication.clipboard().text()
        assert "looks like a bug" in tab.message.text and tab.message.current.copy_button.isVisibleTo(tab)
        run = Path(result.run_dir)
        assert "buggy_step" in (run / "run.log").read_text(encoding="utf-8")
        assert "buggy_step" in log_path().read_text(encoding="utf-8")
        assert load_checkpoint(run / "last.pt")["epoch"] == 1          # the good epoch is kept
        assert w.isVisible() and not tab.runner.is_running()
        monkeypatch.setattr(ClassificationTask, "train_step", real_step)

        # 2. a person's problem (out of memory) is explained in the tab, not reported as a bug
        def oom(self, batch, trainer):
            raise torch.OutOfMemoryError("CUDA out of memory")

        monkeypatch.setattr(ClassificationTask, "train_step", oom)
        tab.start_training()
        result = _wait_done(qtbot, tab)
        assert isinstance(result, Failed) and result.user_error
        assert "smaller batch size" in tab.message.text and dialog.count == 1
        monkeypatch.setattr(ClassificationTask, "train_step", real_step)

        # 3. an exception in a plain Python thread reaches the dialog through the GUI thread
        def crash():
            raise RuntimeError("background thread broke")

        t = threading.Thread(target=crash, name="visiondesk-test-thread")
        t.start()
        t.join()
        qtbot.waitUntil(lambda: dialog.count == 2, timeout=5000)
        assert "background thread broke" in dialog.summary.text()
        assert "visiondesk-test-thread" in log_path().read_text(encoding="utf-8")

        # 4. an exception in a slot of the GUI thread
        def bad_slot():
            raise ValueError("slot went wrong")

        QTimer.singleShot(0, bad_slot)
        qtbot.waitUntil(lambda: dialog.count == 3, timeout=5000)
        assert "ValueError: slot went wrong" in dialog.summary.text()

        # 5. Qt's own warnings go to the app log
        qWarning("visiondesk-test: a Qt warning")
        assert "Qt: visiondesk-test: a Qt warning" in log_path().read_text(encoding="utf-8")
        assert w.isVisible()
    finally:
        dialog = hook.dialog
        if dialog is not None:
            dialog.close()
        w.close()
    assert sys.excepthook is not hook and threading.excepthook != hook._thread_hook


# ---------------------------------------------------------------------------------------------- awkward moments
class Moment:
    """Makes the worker linger (0.5 s) at one moment of epoch 2, once, and says when it is there."""

    def __init__(self, monkeypatch, where: str):
        self.where = where
        self.here = threading.Event()
        self.used = False
        if where == "during evaluation":
            real = ClassificationTask.evaluate

            def evaluate(task, trainer):
                self._linger(trainer.epoch == 1)
                return real(task, trainer)

            monkeypatch.setattr(ClassificationTask, "evaluate", evaluate)
        elif where == "during checkpoint writing":
            real_save = trainer_mod.save_checkpoint

            def save(obj, path):
                if Path(path).name == "last.pt" and obj.get("epoch") == 2:
                    self.here.set()
                    if not self.used:
                        self.used = True
                        time.sleep(0.5)       # the GUI acts while last.pt is being written
                return real_save(obj, path)

            monkeypatch.setattr(trainer_mod, "save_checkpoint", save)
        else:
            real_step = ClassificationTask.train_step
            count = {"n": 0}

            def step(task, batch, trainer):
                out = real_step(task, batch, trainer)
                if trainer.epoch == 1:
                    count["n"] += 1
                    self._linger(count["n"] == 3)   # after batch 3 of epoch 2, before batch 4
                return out

            monkeypatch.setattr(ClassificationTask, "train_step", step)

    def _linger(self, now: bool) -> None:
        if now and not self.used:
            self.used = True
            self.here.set()
            time.sleep(0.5)


CASES = [
    ("between batches", "stop"),
    ("during evaluation", "stop"),
    ("during checkpoint writing", "stop"),
    ("during evaluation", "pause, then close the window"),
    ("during checkpoint writing", "close the window"),
    ("between batches", "close the window"),
]


@pytest.mark.parametrize("where, action", CASES)
def test_stop_pause_or_close_at_an_awkward_moment_then_continue(qtbot, tmp_path, monkeypatch, where, action):
    moment = Moment(monkeypatch, where)
    closing = "close" in action
    w = _window(qtbot) if closing else None
    tab = w.train_tab if closing else _tab(qtbot, tmp_path)
    tab.start_training()
    qtbot.waitUntil(moment.here.is_set, timeout=30000)
    assert tab.runner.is_running()
    if action == "stop":
        tab.stop_training()
        result = _wait_done(qtbot, tab)
        assert isinstance(result, Finished) and result.reason == "stopped"
    else:
        if action.startswith("pause"):
            tab.toggle_pause()
            qtbot.wait(700)                   # evaluation ends; the loop now waits at the next batch
            assert tab.runner.is_running() and tab.runner.paused
        assert w.close()                      # the window asks nothing here: it stops and saves
        assert not tab.runner.is_running()
    run = tab.run_dir
    assert run is not None
    ck = load_checkpoint(run / "last.pt")     # loadable whatever the moment
    done, into = ck["epoch"], ck["batch_in_epoch"]
    if where == "between batches":
        assert (done, into) == (1, 3)
    else:
        assert (done, into) == (2, 0)         # the epoch being evaluated or saved was finished first
    assert [int(r["epoch"]) for r in read_metrics(run)] == list(range(1, done + 1))
    assert not list(run.glob(".*.tmp"))

    # continue: from the last good epoch (and batch), to the end, every batch exactly once
    again = _tab(qtbot, tmp_path) if closing else tab
    again.continue_run(run, more_epochs=1)
    result = _wait_done(qtbot, again)
    assert isinstance(result, Finished) and result.reason == "completed", getattr(result, "message", "")
    total = max(3, done) + 1             # continuing adds to the 3 planned epochs (issue 13 item 4)
    assert load_checkpoint(run / "last.pt")["epoch"] == total
    assert [int(r["epoch"]) for r in read_metrics(run)] == list(range(1, total + 1))
    pairs = [(int(r["epoch"]), int(r["batch"])) for r in read_metrics(run, "batches.csv")]
    assert sorted(pairs) == [(e, b) for e in range(1, total + 1) for b in range(1, 9)]   # 256 / 32 = 8


# ---------------------------------------------------------------------------------------------- camera
def test_missing_or_busy_camera_gives_a_message_and_a_video_file_still_works(qtbot, tmp_path, monkeypatch):
    from vision_helpers import FakeCapture, StandInDetector, StandInPredictor, face_video

    from app.ui.tabs.keypoints import tab as K
    from app.vision import ModelChoice
    from app.vision.sources import CameraSource

    monkeypatch.setattr(K, "_load_predictor", lambda key, device: StandInPredictor(input_size=64))
    monkeypatch.setattr(K, "_make_detector", StandInDetector)
    monkeypatch.setattr(K, "keypoint_model_choices", lambda: [ModelChoice("stand-in", "stand-in", "shipped", 0.05)])
    state = AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    tab = K.KeypointsTab(state, probe_cameras=False)
    qtbot.addWidget(tab)
    try:
        for capture, words in ((FakeCapture(opened=False), "could not be opened"),      # unplugged / missing
                               (FakeCapture(good=0), "sends no pictures")):             # busy in another app
            tab.set_source(CameraSource(0, capture_factory=lambda *a, c=capture: c, max_failures=2,
                                        retry_delay=0.001), "Camera 0 (test)")
            tab.start()
            qtbot.waitUntil(lambda: words in tab.message.text, timeout=8000)
            qtbot.waitUntil(lambda: not tab.is_busy(), timeout=5000)
            assert tab.message.level == "error" and tab.start_button.text() == "Start"
        tab.set_video_file(face_video(tmp_path / "ok.mp4", n_face=10, n_empty=0))
        assert tab.start()
        qtbot.waitUntil(lambda: tab.view.image() is not None, timeout=8000)
        assert tab.message.level != "error"
        tab.stop()
    finally:
        tab.shutdown()


# ---------------------------------------------------------------------------------------------- start right after stop
def test_a_new_training_cannot_start_while_the_last_result_is_on_its_way(qtbot):
    """Found by the soak test: the thread ends a moment before its result reaches the GUI thread. A
    training started in that moment (Ctrl+R) was then cleaned up by the stale result: the GUI blocked
    in wait() and Qt aborted the process ('QThread: Destroyed while thread is still running')."""
    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig
    from app.core.errors import UserError
    from app.ui.session import TrainingRunner

    ds = tiny_dataset()
    cfg = TrainConfig(data="tiny", model="softmax", epochs=500, batch_size=16, schedule="none", device="cpu",
                      augment=False)
    runner = TrainingRunner()
    results = []
    runner.finished.connect(results.append)

    def build(callbacks, control):
        return make_trainer(cfg, dataset=ds, callbacks=callbacks, control=control, write_run=False)

    runner.start(build)
    time.sleep(0.3)
    runner.stop()
    runner._worker._thread.join(30)            # the thread has ended; its result is not delivered yet
    assert not runner._worker._thread.is_alive()
    assert runner.is_running() and results == []
    with pytest.raises(UserError, match="already running"):
        runner.start(build)
    qtbot.waitUntil(lambda: not runner.is_running(), timeout=5000)
    assert len(results) == 1 and results[0].reason == "stopped"
    runner.start(build)                       # now it starts, and shutdown delivers its result at once
    assert runner.shutdown(30000) and not runner.is_running()
    assert len(results) == 2
