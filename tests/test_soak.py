"""Soak: many short trainings started and stopped back to back in the window.

After 30 start/stop cycles in each training tab (Train, GAN, the Keypoints tab's 'Train your own'),
no thread is left running and neither the number of Python objects nor the resident memory grows
beyond a bound measured on this code (see BOUNDS). Warm-up runs come first, so one-time costs
(imports, kernels, caches, the first plot) are not counted as growth.
"""
from __future__ import annotations

import ctypes
import gc
import os
import threading
import time
import warnings

import numpy as np
import pytest
import torch
from PySide6.QtCore import QThread

from app.ui.main import MainWindow

from helpers import tiny_dataset

RUNS = 30
WARMUP = 3

# Measured on this code (2 CPU cores shared with other jobs, offscreen Qt, CPU torch, one torch
# thread), growth from after the warm-up runs to after 30 more start/stop cycles, resident memory
# taken after malloc_trim, over several runs of this test:
#   Train tab:      +264 objects every time: the 'Past runs' table, 30 new rows x (6 table items +
#                   RunInfo + path + list), i.e. the runs now on disk. (Before a fix there were 29 more:
#                   one logging.Logger per run, registered for the life of the process.)
#                   Resident memory +0.0 to +0.1 MiB.
#   GAN tab:        +2 to +17 objects, resident +0.6 to +9.7 MiB.
#   Keypoints tab:  +1 objects, resident -3.7 to +13.5 MiB. Over 90 runs the resident size wanders
#                   by +-20 MiB without a trend and the object count stays flat: allocator noise.
# The bounds leave room for that noise and are far below what a leak per run would add: one leaked
# trainer (task, model, optimizer, loaders, run folder, event lists) is hundreds of objects, so 30 are
# thousands; 30 leaked models or data sets are tens to hundreds of MiB.
PAST_RUN_ROW = 9                    # objects of one row in the Train tab's 'Past runs' table
BOUNDS = {
    "train": {"objects": RUNS * PAST_RUN_ROW + 150, "rss_mib": 40.0},
    "gan": {"objects": 150, "rss_mib": 40.0},
    "keypoints": {"objects": 150, "rss_mib": 40.0},
}


def _trim_heap() -> None:
    """Give freed C heap pages back to the system first (glibc), so RSS shows what is held, not
    what the allocator happens to keep cached."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def rss_mib() -> float:
    _trim_heap()
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def qthreads() -> list[QThread]:
    with warnings.catch_warnings():       # isinstance() touches deprecated module attributes
        warnings.simplefilter("ignore")
        return [o for o in gc.get_objects() if isinstance(o, QThread)]


def python_threads() -> set[threading.Thread]:
    # _DummyThread entries stand for threads Python did not start (here: QThreads that logged
    # something); Python 3.11 keeps them listed after the thread ends, so QThreads are checked
    # through Qt instead (qthreads_running)
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


def snapshot() -> dict:
    gc.collect()
    return {"objects": len(gc.get_objects()), "rss_mib": rss_mib(), "threads": python_threads(),
            "dummies": sum(isinstance(t, threading._DummyThread) for t in threading.enumerate()),
            "qthreads_running": sum(1 for t in qthreads() if t.isRunning())}


def cycle(qtbot, start, started, stop, running, timeout=30000) -> None:
    """Start a training, wait until it trains (a batch is reported), stop it, wait until it has ended."""
    start()
    qtbot.waitUntil(started, timeout=timeout)
    stop()
    qtbot.waitUntil(lambda: not running(), timeout=timeout)


def soak(qtbot, name, start, started, stop, running, settle, report):
    for _ in range(WARMUP):
        cycle(qtbot, start, started, stop, running)
    settle()
    before = snapshot()
    t0 = time.perf_counter()
    for _ in range(RUNS):
        cycle(qtbot, start, started, stop, running)
    settle()
    after = snapshot()
    # no thread left running: every Python thread started during the runs has ended, no QThread runs
    try:
        qtbot.waitUntil(lambda: not (python_threads() - before["threads"]), timeout=10000)
    except Exception:
        raise AssertionError(f"threads left running after the {name} runs: "
                             f"{[t.name for t in python_threads() - before['threads']]}") from None
    assert after["qthreads_running"] == 0 and not running()
    assert after["dummies"] - before["dummies"] <= 2      # thread idents are reused: no growth per run
    grown = {"objects": after["objects"] - before["objects"], "rss_mib": after["rss_mib"] - before["rss_mib"],
             "seconds": time.perf_counter() - t0}
    report[name] = grown
    print(f"\nsoak {name}: {RUNS} runs in {grown['seconds']:.1f} s, objects {grown['objects']:+d}, "
          f"resident {grown['rss_mib']:+.1f} MiB")
    return grown


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONDESK_WEIGHTS", str(tmp_path / "no-weights"))   # no shipped models to load
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    if w.data_tab is not None:
        qtbot.waitUntil(lambda: not w.data_tab.is_busy(), timeout=30000)
    w.confirm_close = lambda busy: True
    yield w
    w.close()
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_soak_start_stop_in_every_training_tab(qtbot, window, tmp_path):
    w = window
    report: dict = {}

    def settle():
        for page in w.pages.values():
            jobs = getattr(page, "jobs", None)
            if jobs is not None and hasattr(jobs, "pending"):
                qtbot.waitUntil(lambda: jobs.pending == 0, timeout=15000)
        qtbot.wait(50)

    # ---- Train tab
    w.state.set_model("softmax")
    w.state.set_dataset(tiny_dataset(n_train=512, n_test=64), {"data": "tiny"})
    tab = w.train_tab
    tab.set_values({"epochs": 50, "batch_size": 16, "augment": False, "device": "cpu", "schedule": "none"})
    soak(qtbot, "train", tab.start_training, lambda: tab.curves.n_batches > 0, tab.stop_training,
         tab.runner.is_running, settle, report)

    # ---- GAN tab
    gan = w.pages.get("GAN")
    if gan is not None:
        gs = gan.train.settings
        gs.refresh_data_choices()
        gs.data_choice.setCurrentIndex(gs.data_choice.findData("__state__"))
        gs.epochs.setValue(50)
        gs.batch_size.setValue(16)
        gs.latent.setValue(16)
        gs.device.setCurrentIndex(gs.device.findData("cpu"))
        soak(qtbot, "gan", gan.train.start_training, lambda: len(gan.train.views.curves.x) > 0,
             gan.train.stop_training, gan.train.session.is_running, settle, report)

    # ---- Keypoints tab: 'Train your own'
    kp = w.pages.get("Keypoints")
    if kp is not None:
        rng = np.random.default_rng(0)
        n, s = 64, 32
        np.savez(tmp_path / "faces.npz", images=rng.integers(0, 255, (n, s, s), dtype=np.uint8),
                 keypoints=(rng.uniform(8, 24, (n, 68, 2))).astype(np.float32))
        panel = kp.train_panel
        panel.header.setChecked(True)  # unfold the "Train your own model" panel
        panel.set_data(tmp_path / "faces.npz")
        panel.model_combo.setCurrentIndex(panel.model_combo.findData("kp-cnn4"))
        panel.epochs_spin.setValue(50)
        soak(qtbot, "keypoints", panel.start, lambda: panel.session.last_batch is not None,
             panel.session.stop, panel.is_running, settle, report)

    assert "train" in report
    for name, grown in report.items():
        assert grown["objects"] <= BOUNDS[name]["objects"], (name, grown)
        assert grown["rss_mib"] <= BOUNDS[name]["rss_mib"], (name, grown)
