"""Issue 18, Try it live: the Train tab's model on a video file standing in for the webcam — frames arrive, the bars
update with every frame, "not sure" follows the threshold, a wrong answer's frame goes to the right class of a
data set made in the app with one click, Stop releases the source; single pictures still work."""
import shutil

import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt

from app.cli import main
from app.data.userset import UserSet
from app.engine.runs import runs_root
from app.ui.state import AppState
from app.ui.tabs.train import TrainTab

from teach_helpers import COLOURS, colour_picture, write_colour_folder, write_colour_video


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("live")
    data = write_colour_folder(base / "colours", per_class=10)
    run = base / "run"
    assert main(["train", "--data", "folder", "--data-root", str(data), "--model", "softmax", "--epochs", "4",
                 "--batch-size", "8", "--lr", "0.05", "--optimizer", "adam", "--schedule", "none", "--no-augment",
                 "--device", "cpu", "--out", str(run), "--quiet"]) == 0
    return run


def click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_live_try_on_a_video_file(qtbot, colour_run, tmp_path):
    run = shutil.copytree(colour_run, runs_root() / colour_run.name)
    mine = UserSet.create("improve", classes=["blue", "green", "red"])
    video = write_colour_video(tmp_path / "clip.avi", frames=60, fps=25)
    tab = TrainTab(AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(tab)
    tab.resize(1280, 800)
    tab.show()
    tab.use_model(run)
    page = tab.try_page
    click(qtbot, page.live_button)
    live = page.live
    assert page.modes.currentWidget() is live
    live.camera.picker.set_video_file(video)
    click(qtbot, live.camera.start_button)
    qtbot.waitUntil(lambda: live.updates >= 10, timeout=20000)
    assert live.camera.frames_shown >= 10 and live.camera.view.image is not None
    # the bars follow the frames: the video goes red -> green -> blue, so the top class changes
    seen = set()
    qtbot.waitUntil(lambda: seen.add(live.bars.rows[0][0]) or len(seen) >= 2, timeout=20000)
    assert len(live.bars.rows) == 3 and abs(sum(p for _, p in live.bars.rows) - 1) < 1e-3
    assert "frames per second" in live.speed.text()
    # the threshold decides "not sure"
    live.threshold_slider.setValue(99)
    top = live.last_rows[0][1]
    assert live.not_sure == (top < 0.99) and ("Not sure" in live.verdict.text()) == (top < 0.99)
    live.threshold_slider.setValue(30)
    assert not live.not_sure and "Not sure" not in live.verdict.text()

    # a wrong answer: one click puts the frame into the right class of the data set made in the app
    live.set_combo.setCurrentIndex(live.set_combo.findData(str(mine.root)))
    live.class_combo.setCurrentIndex(live.class_combo.findData("green"))
    click(qtbot, live.add_button)
    assert len(mine.pictures("green")) == 1 and tab.message.level == "ok"
    assert Image.open(mine.pictures("green")[0]).size == (64, 64)

    # Stop releases the video file
    loop = live.camera.live
    click(qtbot, live.camera.start_button)
    assert not live.camera.is_running() and not loop.reader.is_alive() and loop.source._cap is None
    n = live.updates
    qtbot.wait(200)
    assert live.updates == n

    # single pictures keep working
    click(qtbot, live.back_button)
    Image.fromarray(colour_picture("red", seed=5, size=40)).save(tmp_path / "red.png")
    tab.try_file(str(tmp_path / "red.png"))
    qtbot.waitUntil(lambda: tab.jobs.pending == 0, timeout=15000)
    assert tab.try_bars.rows[0][0] == "red"
    tab.shutdown()


def test_live_try_without_a_model_or_with_a_broken_video_says_so(qtbot, colour_run, tmp_path):
    tab = TrainTab(AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(tab)
    tab.show()
    click(qtbot, tab.try_page.live_button)
    live = tab.try_page.live
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    live.camera.picker.set_video_file(tmp_path / "broken.mp4")
    click(qtbot, live.camera.start_button)
    assert not live.camera.is_running() and "no trained model" in live.camera.status.text()
    tab.use_model(shutil.copytree(colour_run, runs_root() / colour_run.name))
    click(qtbot, live.camera.start_button)
    qtbot.waitUntil(lambda: not live.camera.is_running(), timeout=15000)
    assert tab.message.level == "error" and "could not be opened as a video" in tab.message.text
    assert "Traceback" not in tab.message.text and live.updates == 0
    assert sorted(COLOURS) == tab.classifiers.get(tab.try_page.checkpoint()).classes
    tab.shutdown()


def test_single_pictures_can_be_pasted_into_try_it(qtbot, colour_run, tmp_path):
    from PySide6.QtGui import QGuiApplication, QImage

    tab = TrainTab(AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(tab)
    tab.show()
    tab.use_model(shutil.copytree(colour_run, runs_root() / colour_run.name))
    QGuiApplication.clipboard().clear()
    click(qtbot, tab.try_page.paste_button)
    assert tab.message.level == "warn" and "clipboard" in tab.message.text
    rgb = colour_picture("green", seed=3, size=32)
    QGuiApplication.clipboard().setImage(QImage(rgb.data, 32, 32, 96, QImage.Format.Format_RGB888).copy())
    click(qtbot, tab.try_page.paste_button)
    qtbot.waitUntil(lambda: tab.jobs.pending == 0, timeout=15000)
    assert tab.try_bars.rows[0][0] == "green" and "pasted" in tab.try_truth.text()
    tab.shutdown()
