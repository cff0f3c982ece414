"""The GAN tab's click path under pytest-qt: opens with the shipped generator, trains briefly,
generates, selects, interpolates, finds nearest real images, saves PNGs; damaged weights are refused."""
from __future__ import annotations

import json

import pytest
import torch
from PySide6.QtCore import QSettings, Qt

from app.engine.checkpoint import FORMAT, save_checkpoint
from app.models import build_model
from app.ui.state import AppState
from app.core.weights import register_weight
from helpers import tiny_dataset


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def weights(tmp_path, monkeypatch):
    """A weights/ folder with a small 'shipped' generator and classifier for the data set 'tiny'."""
    wdir = tmp_path / "weights"
    wdir.mkdir()
    monkeypatch.setenv("VISIONDESK_WEIGHTS", str(wdir))
    ds = tiny_dataset(48, 16, classes=4, size=28)
    torch.manual_seed(0)
    pair = build_model("dcgan", 1, 28, 1, latent_dim=16, g_width=8, d_width=8)
    meta = {"task": "gan", "model": "dcgan", "model_options": {"latent_dim": 16, "g_width": 8, "d_width": 8},
            "latent_dim": 16, "image_shape": [1, 28, 28], "data": "tiny", "classes": list(ds.classes),
            "class": None, "class_name": None}
    save_checkpoint({"format": FORMAT, "kind": "weights", "model": pair.generator.state_dict(), "meta": meta},
                    wdir / "gan-fashion-mnist.pt")
    register_weight("gan-fashion-mnist", wdir / "gan-fashion-mnist.pt", task="gan", model="dcgan", data="tiny",
                    epochs=1, seed=0, fd=12.5, fd_untrained=300.0, fd_real_floor=0.5, command="test")
    clf = build_model("mlp", 1, 28, 4)
    save_checkpoint({"format": FORMAT, "kind": "weights", "model": clf.state_dict(),
                     "meta": {"task": "classify", "model": "mlp", "model_options": {}, "input_shape": [1, 28, 28],
                              "classes": list(ds.classes), "mean": list(ds.mean), "std": list(ds.std),
                              "data": "tiny"}}, wdir / "classifier-tiny.pt")
    register_weight("classifier-tiny", wdir / "classifier-tiny.pt", task="classify", model="mlp", data="tiny",
                    epochs=0, seed=0, command="test")
    return wdir, ds


def make_tab(qtbot, tmp_path, ds=None):
    from app.ui.tabs.gan import GanTab

    state = AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    if ds is not None:
        state.set_dataset(ds, {"data": ds.name})
    tab = GanTab(state)
    qtbot.addWidget(tab)
    tab.resize(1200, 760)
    tab.show()
    return tab, state


def wait_jobs(qtbot, tab, timeout=20000):
    qtbot.waitUntil(lambda: tab.jobs.pending == 0, timeout=timeout)


def test_opens_with_shipped_generator_and_explores(qtbot, tmp_path, weights):
    _, ds = weights
    tab, _ = make_tab(qtbot, tmp_path, ds)
    assert tab.pages.currentIndex() == 1          # opens on Generate
    wait_jobs(qtbot, tab)
    assert tab.explore.generator is not None and "tiny" in tab.explore.gen_info.text()
    assert "FD 12.5" in tab.explore.shipped_choice.currentText()
    assert tab.explore.samples is not None and tuple(tab.explore.samples.shape) == (64, 1, 28, 28)
    first = tab.explore.samples.clone()

    # the same seed gives the same samples; a new seed others
    qtbot.mouseClick(tab.explore.generate_button, Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, tab)
    assert torch.equal(tab.explore.samples, first)
    qtbot.mouseClick(tab.explore.new_seed_button, Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, tab)
    seed = tab.explore.seed.value()
    assert tab.explore.sample_seed == seed

    # click sample 5 in the grid: enlarged, with its seed and index
    qtbot.mouseClick(tab.explore.grid, Qt.MouseButton.LeftButton, pos=tab.explore.grid.cell_rect(5).center())
    assert tab.explore.grid.selected == 5
    assert "#5" in tab.explore.closer.zoom_caption.text() and str(seed) in tab.explore.closer.zoom_caption.text()
    assert tab.explore.closer.zoom.image is not None
    qtbot.mouseClick(tab.explore.set_b_button, Qt.MouseButton.LeftButton)
    assert tab.explore.ends == [0, 5] and tab.explore.grid.marks == {0: "A", 5: "B"}

    tab.explore.steps.setValue(6)
    qtbot.mouseClick(tab.explore.interpolate_button, Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, tab)
    assert tab.explore.strip is not None and tab.explore.strip.shape == (32, 6 * 30 + 2)

    qtbot.mouseClick(tab.explore.closer.nearest_button, Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, tab)
    assert len(tab.explore.closer.nearest) == 6, tab.explore.closer.nearest_info.text()
    assert "48 training images" in tab.explore.closer.nearest_info.text()

    grid_png = tab.explore.save_grid(tmp_path / "out" / "grid.png")
    strip_png = tab.explore.save_strip(tmp_path / "out" / "strip")
    assert grid_png.is_file() and strip_png.name == "strip.png" and strip_png.is_file()
    from PIL import Image

    assert Image.open(strip_png).size == (2 * (6 * 30 + 2), 64)
    tab.shutdown()


def test_train_briefly_then_generate_from_the_run(qtbot, tmp_path, weights):
    _, ds = weights
    tab, state = make_tab(qtbot, tmp_path, ds)
    ts, tv = tab.train.settings, tab.train.views
    wait_jobs(qtbot, tab)
    tab.pages.setCurrentIndex(0)
    assert ts.data_choice.currentData() == "__state__"
    assert ts.class_choice.count() == 5
    ts.epochs.setValue(2)
    ts.batch_size.setValue(16)
    ts.latent.setValue(16)
    ts.score_samples.setValue(500)
    ts.device.setCurrentIndex(ts.device.findData("cpu"))
    busy = []
    state.busyChanged.connect(busy.append)
    import time

    t0 = time.perf_counter()
    qtbot.mouseClick(tab.train.start_button, Qt.MouseButton.LeftButton)
    assert tab.train.is_busy() and not tab.train.start_button.isEnabled()
    qtbot.waitUntil(lambda: tab.train.last_result is not None, timeout=60000)
    elapsed = time.perf_counter() - t0
    # the curves keep every point but redraw at most 20 times a second
    assert 1 <= tv.curves.throttle.redraws <= 20 * elapsed + 2
    assert type(tab.train.last_result).__name__ == "Finished", getattr(tab.train.last_result, "message", "")
    assert busy[0] and busy[-1] == ""
    assert not tab.train.is_busy() and tab.train.start_button.isEnabled()
    # live curves, the grid of every epoch with the replay slider, the score and its histogram
    assert len(tv.curves.x) == 6 and len(tv.curves.cols["d_loss"]) == 6
    assert sorted(tv.grids) == [1, 2] and tv.epoch_slider.maximum() == 2
    tv.epoch_slider.setValue(1)
    assert tv.epoch_label.text() == "epoch 1 of 2"
    assert tv.grid_view.image is tv.grids[1]
    assert len(tv.curves.fd) == 2 and sum(tv.histogram.counts) == 500
    assert (tab.train.run_dir / "samples" / "epoch_002.png").is_file()
    cfg = json.loads((tab.train.run_dir / "config.json").read_text())
    assert cfg["task"] == "gan" and cfg["extra"]["score_samples"] == 500

    qtbot.mouseClick(tab.train.use_trained_button, Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, tab)
    assert tab.pages.currentIndex() == 1
    assert tab.explore.generator.path.parent == tab.train.run_dir
    assert tab.explore.samples is not None and tab.explore.samples.shape[0] == 64

    # a new window lists the run under "Past GAN runs"; opening it replays what the live view showed
    tab2, _ = make_tab(qtbot, tmp_path, ds)
    ts2, tv2 = tab2.train.settings, tab2.train.views
    wait_jobs(qtbot, tab2)
    index = tab2.train.past.combo.findData(str(tab.train.run_dir))
    assert index >= 0 and "2/2 ep" in tab2.train.past.combo.itemText(index)
    tab2.train.past.combo.setCurrentIndex(index)
    qtbot.mouseClick(tab2.train.past.open_button, Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, tab2)
    assert sorted(tv2.grids) == [1, 2] and tv2.epoch_slider.maximum() == 2
    assert (tv2.grids[2] == tv.grids[2]).all() and tv2.grid_view.image is tv2.grids[2]
    tv2.epoch_slider.setValue(1)
    assert tv2.epoch_label.text() == "epoch 1 of 2" and (tv2.grid_view.image == tv.grids[1]).all()
    assert list(tv2.curves.x.view) == pytest.approx(list(tv.curves.x.view))
    assert list(tv2.curves.cols["g_loss"].view) == pytest.approx(list(tv.curves.cols["g_loss"].view), rel=1e-4)
    assert list(tv2.curves.fd.view) == pytest.approx(list(tv.curves.fd.view), rel=1e-4)
    assert "Fréchet distance" in tv2.score_label.text() and "2 of 2" in tab2.train.progress.format()
    assert tv2.histogram.counts == tv.histogram.counts and sum(tv2.histogram.counts) == 500
    assert tab2.train.use_trained_button.isEnabled()
    # its settings are in the form, so Start would train it again
    assert (ts2.epochs.value(), ts2.batch_size.value(), ts2.latent.value(), ts2.score_samples.value()) == \
        (2, 16, 16, 500)
    # a folder that is not a GAN run: a clear message, and what is on screen stays
    assert not tab2.train.open_run(tmp_path) and "not a VisionDesk run folder" in tab2.train.message.text
    assert sorted(tv2.grids) == [1, 2]
    tab2.shutdown()
    tab.shutdown()


def test_stop_keeps_a_checkpoint(qtbot, tmp_path, weights):
    _, ds = weights
    tab, _ = make_tab(qtbot, tmp_path, ds)
    ts, tv = tab.train.settings, tab.train.views
    wait_jobs(qtbot, tab)
    ts.epochs.setValue(50)
    ts.batch_size.setValue(8)
    ts.use_score.setChecked(False)
    qtbot.mouseClick(tab.train.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(tv.curves.x) > 0, timeout=30000)
    qtbot.mouseClick(tab.train.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.train.last_result is not None, timeout=30000)
    assert tab.train.last_result.reason == "stopped"
    assert (tab.train.run_dir / "last.pt").is_file() and tab.train.use_trained_button.isEnabled()
    tab.shutdown()


def test_missing_or_damaged_weights_give_a_clear_message(qtbot, tmp_path, weights):
    wdir, _ = weights
    (wdir / "gan-fashion-mnist.pt").write_bytes(b"damaged")
    tab, _ = make_tab(qtbot, tmp_path)
    wait_jobs(qtbot, tab)
    assert tab.explore.generator is None and tab.explore.samples is None
    assert "checksum" in tab.explore.message.text and tab.explore.message.isVisibleTo(tab)
    assert not tab.explore.generate_button.isEnabled()
    # the rest still works: the data choice and the train button
    assert tab.train.settings.data_choice.currentData() == "fashion-mnist-sample" and tab.train.start_button.isEnabled()
    (wdir / "manifest.json").unlink()
    tab2, _ = make_tab(qtbot, tmp_path)
    assert "could not be loaded" in tab2.explore.message.text and not tab2.explore.shipped_choice.isEnabled()
    tab.shutdown()
    tab2.shutdown()
