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


@pytest.fixture(autouse=True)
def _collect_in_the_gui_thread():
    """Widgets a test left in reference cycles are freed here, in the GUI thread, after the test: a
    collection that a later test's worker thread happened to run would destroy them from that thread,
    which deadlocks Qt (seen once: a training thread and a job thread both waiting, the suite hung)."""
    yield
    import gc

    gc.collect()


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
