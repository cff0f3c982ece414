"""The Data tab: loads each kind of data set off the GUI thread, shows it, explains problems."""
from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog

import app.ui.tabs.data_tab as data_tab_module
from app.data import Cancelled
from app.data import builtin as builtin_module
from app.core.errors import OfflineError
from app.ui.state import AppState
from app.ui.tabs.data_tab import DataTab
from helpers import write_mnist_root

TIMEOUT = 15_000


def _write_images(folder, n: int, size=(12, 10), colour: bool = True, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        shape = (size[1], size[0], 3) if colour else (size[1], size[0])
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(folder / f"img{i}.png")


@pytest.fixture
def image_folder(tmp_path):
    """Three classes of small colour images, a corrupt file, and an empty class folder."""
    root = tmp_path / "pets"
    _write_images(root / "cats", 6, seed=1)
    _write_images(root / "dogs", 5, seed=2)
    _write_images(root / "fish", 4, seed=3)
    (root / "cats" / "broken.png").write_bytes(b"this is not a png at all")
    (root / "empty").mkdir()
    return root


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_tab(qtbot, settings):
    tabs = []

    def make(state=None):
        state = state or AppState(settings)
        tab = DataTab(state)
        qtbot.addWidget(tab)
        tabs.append(tab)
        return tab

    yield make
    for tab in tabs:
        tab.shutdown()


def wait_idle(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.is_busy() and tab._job_id is None, timeout=TIMEOUT)


def levels(tab):
    return [level for level, _ in tab.messages.messages()]


def test_first_start_loads_the_embedded_sample_and_shows_it(make_tab, qtbot):
    tab = make_tab()
    assert tab.current_source() == "fashion-mnist-sample"
    wait_idle(qtbot, tab)
    ds = tab.state.dataset
    assert ds is not None and ds.name == "fashion-mnist-sample"
    assert tab.state.dataset_spec == {"data": "fashion-mnist-sample", "data_root": None, "image_size": None}
    assert tab.facts["train"].text() == f"{len(ds.train):,}"
    assert tab.facts["test"].text() == f"{len(ds.test):,}"
    assert tab.facts["size"].text() == "28 × 28 pixels"
    assert "grey" in tab.facts["channels"].text()
    train, test = tab.chart.bar_heights()
    assert len(train) == 10 and sum(train) == len(ds.train) and sum(test) == len(ds.test)
    assert len(tab.chart.tick_labels()) == 10 and tab.chart.tick_labels()[1] == "Trouser"
    assert len(tab.thumbnails.page_indices) == 48
    labels = ds.train.labels.numpy()
    assert tab.thumbnails.page_labels() == [ds.classes[labels[i]] for i in tab.thumbnails.page_indices]
    assert levels(tab)[0] == "ok" and "10,000 training" in tab.messages.messages()[0][1]
    assert not tab.progress_row.isVisibleTo(tab)


def test_show_other_images_draws_a_new_random_page(make_tab, qtbot):
    tab = make_tab()
    wait_idle(qtbot, tab)
    first = list(tab.thumbnails.page_indices)
    qtbot.mouseClick(tab.other_button, Qt.MouseButton.LeftButton)
    second = list(tab.thumbnails.page_indices)
    assert len(second) == 48 and second != first
    qtbot.mouseClick(tab.thumbnails, Qt.MouseButton.LeftButton)     # a click on the grid too
    assert tab.thumbnails.page_indices != second
    tab.split_combo.setCurrentIndex(1)                                # test images
    assert max(tab.thumbnails.page_indices) < len(tab.state.dataset.test)


def test_image_folder_with_a_corrupt_file_and_an_empty_class(make_tab, qtbot, image_folder, monkeypatch):
    tab = make_tab()
    wait_idle(qtbot, tab)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(image_folder)))
    tab._set_source("folder")
    tab._set_size(32)
    qtbot.mouseClick(tab.browse_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, tab)
    ds = tab.state.dataset
    assert ds.name == "folder" and ds.classes == ["cats", "dogs", "fish"]
    assert ds.input_shape == (3, 32, 32)
    assert tab.state.dataset_spec == {"data": "folder", "data_root": str(image_folder), "image_size": 32}
    assert len(ds.train) + len(ds.test) == 15
    assert tab.facts["size"].text() == "32 × 32 pixels" and "colour" in tab.facts["channels"].text()
    train, test = tab.chart.bar_heights()
    assert [a + b for a, b in zip(train, test)] == [6, 5, 4]
    assert len(tab.thumbnails.page_indices) == len(ds.train)          # fewer than a page: all of them
    text = tab.messages.text
    assert "Left out" in text and "empty" in text                     # the empty class folder
    assert "warn" in levels(tab)
    assert any("broken.png" in line for line in tab.messages.details_lines())   # the skipped file
    assert "1 skipped file" in tab.messages.details_button.text()
    # The choice is remembered for the next start.
    assert tab.settings.value("data/name") == "folder"
    assert tab.settings.value("data/folder") == str(image_folder)
    assert int(tab.settings.value("data/image_size")) == 32


def test_folder_problems_are_explained_and_the_previous_data_set_is_kept(make_tab, qtbot, tmp_path):
    tab = make_tab()
    wait_idle(qtbot, tab)
    before = tab.state.dataset
    single = tmp_path / "single"
    _write_images(single / "only", 3)
    tab.open_folder(single)
    wait_idle(qtbot, tab)
    assert tab.state.dataset is before
    assert levels(tab) == ["error"]
    assert "Only one class" in tab.messages.text and "Still using Fashion-MNIST sample" in tab.messages.text

    flat = tmp_path / "flat"
    _write_images(flat, 3)
    tab.open_folder(flat)
    wait_idle(qtbot, tab)
    assert tab.state.dataset is before
    assert "No class sub-folders" in tab.messages.text
    tab.open_folder(tmp_path / "does-not-exist")
    wait_idle(qtbot, tab)
    assert "Folder not found" in tab.messages.text and tab.state.dataset is before
    assert tab.facts["name"].text() == "Fashion-MNIST sample"         # the display still shows it


def test_mnist_from_a_root_and_the_missing_files_message(make_tab, qtbot, tmp_path):
    tab = make_tab()
    wait_idle(qtbot, tab)
    before = tab.state.dataset
    empty_root = tmp_path / "nothing-here"
    empty_root.mkdir()
    tab.settings.setValue("data/root", str(empty_root))
    tab.source_combo.setCurrentIndex(tab.source_combo.findData("mnist"))   # selecting loads at once
    wait_idle(qtbot, tab)
    assert tab.state.dataset is before
    assert levels(tab) == ["warn"]
    assert "MNIST not found" in tab.messages.text and "Download" in tab.messages.text

    root = tmp_path / "mnist-root"
    write_mnist_root(root, n_train=120, n_test=40)
    tab.path_edit.setText(str(root))
    qtbot.mouseClick(tab.load_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, tab)
    ds = tab.state.dataset
    assert ds.name == "mnist" and len(ds.train) == 120 and len(ds.test) == 40
    assert tab.facts["train"].text() == "120" and tab.facts["test"].text() == "40"
    assert tab.chart.tick_labels()[:3] == ["0", "1", "2"]
    assert tab.state.dataset_spec == {"data": "mnist", "data_root": str(root), "image_size": None}
    assert tab.settings.value("data/root") == str(root)


def test_download_offline_shows_the_plain_message(make_tab, qtbot, tmp_path, monkeypatch):
    def offline(name, spec, root):
        raise OfflineError(f"Could not download {spec.title} into {root} (no network). Check the internet "
                           f"connection and press Download again.")

    monkeypatch.setattr(builtin_module, "_download", offline)
    tab = make_tab()
    wait_idle(qtbot, tab)
    before = tab.state.dataset
    tab.settings.setValue("data/root", str(tmp_path / "cifar-root"))
    tab._set_source("cifar10")
    assert tab.download_button.isVisibleTo(tab)
    qtbot.mouseClick(tab.download_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, tab)
    assert levels(tab) == ["error"]
    assert "Could not download CIFAR-10" in tab.messages.text and "internet" in tab.messages.text
    assert tab.state.dataset is before


def test_cancel_stops_loading_and_keeps_the_previous_data_set(make_tab, qtbot, monkeypatch):
    tab = make_tab()
    wait_idle(qtbot, tab)
    before = tab.state.dataset
    real = data_tab_module.load_dataset

    def slow_load(name, root=None, *, size=None, download=False, progress=None, cancel=None, fallback_size=None):
        if name != "folder":
            return real(name, root, size=size, download=download, progress=progress, cancel=cancel)
        for i in range(1000):                       # a big folder, read image by image
            if cancel():
                raise Cancelled("loading was cancelled")
            progress(i, 1000)
            time.sleep(0.01)
        raise AssertionError("the load was not cancelled")

    monkeypatch.setattr(data_tab_module, "load_dataset", slow_load)
    tab.open_folder("/somewhere/big")
    assert tab.is_busy() and tab.progress_row.isVisibleTo(tab) and not tab.load_button.isEnabled()
    qtbot.waitUntil(lambda: tab.progress.maximum() == 1000 and tab.progress.value() > 0, timeout=TIMEOUT)
    qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, tab)
    assert levels(tab) == ["info"] and "cancelled" in tab.messages.text
    assert tab.state.dataset is before
    assert not tab.progress_row.isVisibleTo(tab) and tab.load_button.isEnabled()


def test_drop_a_folder_onto_the_tab(make_tab, qtbot, image_folder, tmp_path):
    tab = make_tab()
    wait_idle(qtbot, tab)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image_folder))])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    tab.dropEvent(event)
    wait_idle(qtbot, tab)
    assert tab.state.dataset.name == "folder" and tab.current_source() == "folder"
    assert tab.path_edit.text() == str(image_folder)

    single_file = image_folder / "cats" / "img0.png"
    mime.setUrls([QUrl.fromLocalFile(str(single_file))])
    tab.dropEvent(QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                             Qt.KeyboardModifier.NoModifier))
    assert "Drop a folder" in tab.messages.text


def test_choices_are_restored_and_a_failing_last_choice_falls_back_to_the_sample(
        make_tab, qtbot, settings, image_folder):
    settings.setValue("data/name", "folder")
    settings.setValue("data/folder", str(image_folder))
    settings.setValue("data/image_size", 16)
    tab = make_tab()
    wait_idle(qtbot, tab)
    assert tab.state.dataset.name == "folder" and tab.state.dataset.size == (16, 16)
    assert tab.current_size() == 16 and tab.path_edit.text() == str(image_folder)
    tab.shutdown()

    settings.setValue("data/folder", str(image_folder / "gone"))
    tab2 = make_tab()
    wait_idle(qtbot, tab2)
    assert tab2.state.dataset.name == "fashion-mnist-sample"
    assert tab2.current_source() == "fashion-mnist-sample"
    assert levels(tab2)[0] == "warn"
    assert "could not be loaded" in tab2.messages.text and "Folder not found" in tab2.messages.text


def test_photos_of_mixed_sizes_are_decoded_at_the_suggested_models_size_in_the_app_and_the_engine(
        make_tab, qtbot, tmp_path):
    """A person's own photos come in many sizes: they are decoded at the side that suits the suggested
    pretrained model (192 px), not shrunk to 64 px first, and a run started from that config (command
    line, continue, reopen) loads them at the same size."""
    from app.engine.build import load_data_for
    from app.engine.config import TrainConfig
    from app.models.registry import default_classifier
    from app.models.suggest import own_pictures_side

    assert default_classifier("folder") == "efficientnet-lite0"    # the shipped weights are installed
    root = tmp_path / "photos"
    for cls, sizes in (("cat", [(300, 200), (180, 240), (500, 375)]), ("dog", [(320, 240), (200, 300), (640, 480)])):
        (root / cls).mkdir(parents=True)
        for i, wh in enumerate(sizes):
            rng = np.random.default_rng(i)
            Image.fromarray(rng.integers(0, 255, (wh[1], wh[0], 3), dtype=np.uint8)).save(root / cls / f"p{i}.jpg")
    tab = make_tab()
    wait_idle(qtbot, tab)
    tab._set_source("folder")
    tab.path_edit.setText(str(root))
    tab.load_button.click()
    wait_idle(qtbot, tab)
    ds = tab.state.dataset
    assert ds.name == "folder" and ds.size == (192, 192) == (own_pictures_side(),) * 2
    assert "192x192" in tab.messages.text
    cfg = TrainConfig(task="classify", data="folder", data_root=str(root), model="efficientnet-lite0")
    assert load_data_for(cfg).size == ds.size
