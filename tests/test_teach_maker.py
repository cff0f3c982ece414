"""Issue 18, the data-set maker through its real widgets: a new data set from the Data tab, classes added, renamed,
reordered and deleted, pictures from a video file standing in for the webcam (held record button and single shots),
from files and the clipboard, deleted and put back, a camera unplugged mid-recording, then trained on."""
import json
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QInputDialog

from app.data.userset import UserSet, user_sets_dir
from app.ui.state import AppState
from app.ui.tabs.data_tab import DataTab
from app.ui.tabs.dataset_maker import DatasetMaker
from app.vision.sources import CameraSource

from teach_helpers import colour_picture, write_colour_folder, write_colour_video


@pytest.fixture
def state(qtbot, tmp_path):
    return AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def names(maker):
    return [maker.class_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(maker.class_list.count())]


def add_class(qtbot, maker, name):
    maker.class_name.clear()
    qtbot.keyClicks(maker.class_name, name)
    click(qtbot, maker.add_class_button)


def make_maker(qtbot, state, userset):
    maker = DatasetMaker(state, userset)
    qtbot.addWidget(maker)
    maker.resize(1180, 700)
    maker.show()
    return maker


def test_new_data_set_from_the_data_tab_classes_pictures_undo_and_use(qtbot, state, tmp_path, monkeypatch):
    tab = DataTab(state)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=30000)
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("Colours", True)))
    click(qtbot, tab.new_set_button)
    maker = tab.maker_dialog.maker
    root = user_sets_dir() / "Colours"
    assert root.is_dir() and maker.use_button.isEnabled() is False

    for name in ("red", "green", "blue"):
        add_class(qtbot, maker, name)
    assert names(maker) == ["red", "green", "blue"] and maker.current_class() == "blue"
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["blue", "green", "red"]
    add_class(qtbot, maker, "Red")                                     # taken (case does not count)
    assert maker.message.level == "error" and "already" in maker.message.text

    # rename and reorder
    maker.class_list.setCurrentRow(2)
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("navy", True)))
    click(qtbot, maker.rename_button)
    assert names(maker) == ["red", "green", "navy"] and (root / "navy").is_dir() and not (root / "blue").exists()
    click(qtbot, maker.up_button)
    assert names(maker) == ["red", "navy", "green"]
    assert UserSet.open(root).classes() == ["red", "navy", "green"]    # the order is kept on disk

    # pictures from files (also the drop path) and from the clipboard
    files = []
    for i in range(5):
        files.append(tmp_path / f"red{i}.png")
        Image.fromarray(colour_picture("red", seed=i)).save(files[-1])
    (tmp_path / "notes.txt").write_text("no picture")
    maker.class_list.setCurrentRow(0)
    maker.picture_list.files_dropped.emit([str(f) for f in files] + [str(tmp_path / "notes.txt")])
    assert maker.picture_list.count() == 5 and maker.message.level == "warn" and "left out" in maker.message.text
    assert maker.class_list.item(0).text() == "red  (5)"
    maker.class_list.setCurrentRow(1)
    for i in range(3):
        rgb = colour_picture("blue", seed=i)
        QGuiApplication.clipboard().setImage(QImage(rgb.data, 24, 24, 72, QImage.Format.Format_RGB888).copy())
        click(qtbot, maker.paste_button)
    assert maker.picture_list.count() == 3 and len(list((root / "navy").glob("*.jpg"))) == 3
    saved = np.asarray(Image.open(next((root / "navy").glob("*.jpg"))))
    assert saved[..., 2].mean() > 150 > saved[..., 0].mean()          # the clipboard's blue, not garbled

    # delete two pictures, undo; delete a class, undo
    maker.picture_list.item(0).setSelected(True)
    maker.picture_list.item(1).setSelected(True)
    click(qtbot, maker.delete_pictures_button)
    assert maker.picture_list.count() == 1 and len(list((root / "navy").glob("*.jpg"))) == 1
    click(qtbot, maker.undo_button)
    assert maker.picture_list.count() == 3 and "Put back 2 pictures" in maker.message.text
    maker.class_list.setCurrentRow(0)
    click(qtbot, maker.delete_class_button)
    assert names(maker) == ["navy", "green"] and not (root / "red").exists()
    click(qtbot, maker.undo_button)
    assert names(maker) == ["red", "navy", "green"] and len(list((root / "red").glob("*.jpg"))) == 5
    assert not maker.undo_button.isEnabled()

    # use it: the Data tab loads the folder (green has no pictures yet: left out with a note)
    state.set_model("softmax")
    click(qtbot, maker.use_button)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=30000)
    assert state.dataset is not None and state.dataset.classes == ["navy", "red"]
    from app.models.suggest import model_for_own_pictures
    name, _options, side = model_for_own_pictures()
    assert state.model_name == name and state.dataset.size == (side, side) and name in tab.messages.text
    assert tab.maker_dialog.isHidden()
    # and reopen it to add more, from the same tab
    click(qtbot, tab.edit_set_button)
    assert names(tab.maker_dialog.maker) == ["red", "navy", "green"]
    tab.shutdown()


def test_webcam_capture_from_a_video_file_hold_and_single_shot(qtbot, state, tmp_path):
    video = write_colour_video(tmp_path / "cam.avi", frames=40, fps=25)
    s = UserSet.create("cam", parent=tmp_path, classes=["red", "green"])
    maker = make_maker(qtbot, state, s)
    maker.camera.picker.set_video_file(video)
    maker.rate.setValue(20)
    maker.class_list.setCurrentRow(0)
    qtbot.mousePress(maker.record_button, Qt.MouseButton.LeftButton)       # press and hold: starts the camera
    assert maker.camera.is_running() and "Recording" in maker.record_button.text()
    qtbot.waitUntil(lambda: len(s.pictures("red")) >= 4, timeout=15000)
    qtbot.mouseRelease(maker.record_button, Qt.MouseButton.LeftButton)
    qtbot.wait(300)
    n = len(s.pictures("red"))
    qtbot.wait(300)
    assert len(s.pictures("red")) == n                                     # released: no more pictures
    qtbot.waitUntil(lambda: maker.picture_list.count() == n, timeout=5000)
    assert maker.class_list.item(0).text() == f"red  ({n})"
    assert Image.open(s.pictures("red")[0]).size == (64, 64)               # whole frames, as JPEG

    maker.class_list.setCurrentRow(1)
    click(qtbot, maker.shot_button)
    qtbot.waitUntil(lambda: len(s.pictures("green")) == 1, timeout=5000)
    qtbot.waitUntil(lambda: maker.picture_list.count() == 1, timeout=5000)
    assert maker.camera.frames_shown > 0 and maker.camera.view.image is not None

    live = maker.camera.live
    click(qtbot, maker.camera.start_button)                                 # Stop releases the file
    assert not maker.camera.is_running() and not live.reader.is_alive() and live.source._cap is None
    maker.shutdown()


class _Unplugged:
    """A camera (cv2.VideoCapture stand-in) that sends ``frames`` pictures, then nothing: unplugged."""

    def __init__(self, frames):
        self.left = frames

    def isOpened(self):  # noqa: N802 (cv2)
        return True

    def read(self):
        time.sleep(0.005)
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, np.full((48, 64, 3), 200, np.uint8)

    def set(self, *a):
        return True

    def get(self, *a):
        return 30.0

    def release(self):
        pass


def test_camera_unplugged_while_recording_keeps_the_pictures(qtbot, state, tmp_path):
    s = UserSet.create("unplug", parent=tmp_path, classes=["a", "b"])
    maker = make_maker(qtbot, state, s)
    maker.camera.picker.set_source(CameraSource(0, capture_factory=lambda *a: _Unplugged(40), retry_delay=0.01),
                                   "Camera 0")
    maker.rate.setValue(30)
    qtbot.mousePress(maker.record_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not maker.camera.is_running(), timeout=15000)
    kept = len(s.pictures("a"))
    assert kept >= 1
    assert maker.message.level == "error" and "unplugged" in maker.message.text and "kept" in maker.message.text
    assert "Traceback" not in maker.message.text
    qtbot.mouseRelease(maker.record_button, Qt.MouseButton.LeftButton)
    assert len(s.pictures("a")) == kept and maker.picture_list.count() == kept
    # no camera at all: a plain message, nothing lost
    maker.camera.picker.set_source(CameraSource(3, capture_factory=lambda *a: None), "Camera 3")
    click(qtbot, maker.shot_button)
    qtbot.waitUntil(lambda: not maker.camera.is_running(), timeout=10000)
    assert "could not be opened" in maker.message.text and len(s.pictures("a")) == kept
    maker.shutdown()


def test_renaming_a_class_a_model_was_trained_on_warns_to_train_again(qtbot, state, tmp_path):
    from app.engine.runs import runs_root

    root = write_colour_folder(tmp_path / "trained", per_class=2)
    run = runs_root() / "2026-01-01T00-00-00_trained_softmax"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"task": "classify", "data": "folder", "data_root": str(root),
                                                 "model": "softmax", "epochs": 1}))
    maker = make_maker(qtbot, state, UserSet.open(root))
    maker.rename_class("red", "crimson")
    assert maker.message.level == "warn" and "train again" in maker.message.text and run.name in maker.message.text
    maker.class_list.setCurrentRow(names(maker).index("green"))
    click(qtbot, maker.delete_class_button)
    assert "train again" in maker.message.text
    maker.shutdown()


def test_data_tab_offers_the_right_level_for_a_folder_one_level_off(qtbot, state, tmp_path):
    write_colour_folder(tmp_path / "download" / "colours", per_class=3)
    tab = DataTab(state)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=30000)
    tab.open_folder(tmp_path / "download")
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=30000)
    msg = tab.messages.current
    assert msg.level == "warn" and "colours" in msg.label.text() and msg.fix_button.isVisibleTo(tab)
    click(qtbot, msg.fix_button)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=30000)
    assert state.dataset.classes == ["blue", "green", "red"]
    tab.shutdown()


@pytest.mark.parametrize("size", [(1024, 700), (1280, 800), (1920, 1080)])
def test_the_maker_fits_ordinary_window_sizes(qtbot, state, tmp_path, size):
    from layout_checks import squeezed

    from app.ui.tabs.dataset_maker import DatasetMakerDialog

    s = UserSet.create("fits", parent=tmp_path, classes=["thumbs up", "thumbs down"])
    s.add_picture("thumbs up", colour_picture("red"))
    dialog = DatasetMakerDialog(state, s)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.resize(*size)
    qtbot.waitUntil(lambda: dialog.width() == size[0], timeout=3000)
    assert dialog.minimumSizeHint().width() <= size[0] and squeezed(dialog) == []
    dialog.close()


def test_opening_a_folder_one_level_off_in_the_maker_offers_the_right_one(qtbot, state, tmp_path):
    for split in ("train", "test"):
        write_colour_folder(tmp_path / "split" / split, per_class=2)
    tab = DataTab(state)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=30000)
    tab.edit_dataset(tmp_path / "split")
    msg = tab.messages.current
    assert tab.maker_dialog is None and msg.level == "warn" and "train" in msg.label.text()
    click(qtbot, msg.fix_button)
    assert names(tab.maker_dialog.maker) == ["blue", "green", "red"]
    assert tab.maker_dialog.maker.set.root == tmp_path / "split" / "train"
    tab.shutdown()
