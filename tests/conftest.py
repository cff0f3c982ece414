import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

# the test models are tiny: one intra-op thread avoids contention with Qt and worker threads
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Nothing a test does touches the real user data dir or settings."""
    home = tmp_path / "vd-home"
    home.mkdir()
    monkeypatch.setenv("VISIONDESK_HOME", str(home))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    yield home


_TESTS_SINCE_COLLECT = [0]


@pytest.fixture(autouse=True, scope="session")
def _no_collection_in_worker_threads():
    """The garbage collector runs only here, in the GUI thread: an automatic collection that a worker thread
    happened to trigger would destroy widgets a test left in reference cycles from that thread, which
    deadlocks Qt (seen once: a job thread collecting while the training thread waited, the suite hung)."""
    import gc

    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def _collect_in_the_gui_thread():
    yield
    import gc

    _TESTS_SINCE_COLLECT[0] += 1
    if _TESTS_SINCE_COLLECT[0] >= 20:       # a full collection costs about 0.3 s with torch loaded
        _TESTS_SINCE_COLLECT[0] = 0
        gc.collect()
    else:
        gc.collect(0)


@pytest.fixture
def window(qtbot):
    """The main window, shown, with the Data tab's first data set loaded; closed without asking at the end."""
    from app.ui.main import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: not w.data_tab.is_busy(), timeout=30000)
    yield w
    w.confirm_close = lambda busy: True
    w.close()
