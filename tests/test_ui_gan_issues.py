"""Issue 13 in the GAN tab, under pytest-qt: nothing clipped, no sideways jump (9), true status after
Stop / Done / Failed (10), the generator combo names the generator explored (11), no raw exception text (14),
and a plain explanation wherever FD, D(x), D(G(z)), latent size, slerp or momentum appears (15)."""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractButton, QComboBox, QGroupBox, QLabel, QStyle, QStyleOptionComboBox,
                               QWidget)

from app.ui.tabs.gan.glossary import GLOSSARY
from test_ui_gan import make_tab, wait_jobs, weights  # noqa: F401 (the fixture)

SIZES = [(1024, 700), (1280, 800)]


def _field_width(combo: QComboBox) -> int:
    opt = QStyleOptionComboBox()
    combo.initStyleOption(opt)
    return combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                        QStyle.SubControl.SC_ComboBoxEditField, combo).width()


def _shown_text(combo: QComboBox) -> str:
    opt = QStyleOptionComboBox()
    combo.initStyleOption(opt)          # what the combo paints (an eliding combo puts its elided text here)
    return opt.currentText


def _clipped(page: QWidget) -> list[str]:
    """Visible combos whose shown text is wider than their text field, buttons narrower than their text."""
    bad = []
    for combo in page.findChildren(QComboBox):
        if combo.isVisible():
            text = _shown_text(combo)
            if combo.fontMetrics().horizontalAdvance(text) > _field_width(combo):
                bad.append(f"combo {text!r}: {combo.fontMetrics().horizontalAdvance(text)} > {_field_width(combo)}")
    for b in page.findChildren(QAbstractButton):
        if b.isVisible() and b.text() and b.width() < b.minimumSizeHint().width():
            bad.append(f"button {b.text()!r}: {b.width()} < {b.minimumSizeHint().width()}")
    return bad


def _fake_gan_run(home, data="fashion-mnist-sample"):
    run = home / "runs" / "2026-12-01T05-30-44_fashion-mnist-sample_dcgan"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"task": "gan", "data": data, "model": "dcgan", "epochs": 20}))
    (run / "metrics.csv").write_text("epoch,fd\n1,30.5\n2,20.1\n")
    return run


@pytest.mark.parametrize("size", SIZES)
def test_nothing_clipped_and_every_data_set_readable(qtbot, tmp_path, weights, _isolated_home, size):
    _, ds = weights
    _fake_gan_run(_isolated_home)
    tab, _ = make_tab(qtbot, tmp_path, ds)
    tab.resize(*size)
    wait_jobs(qtbot, tab)
    for page in (1, 0):
        tab.pages.setCurrentIndex(page)
        qtbot.wait(20)
        assert _clipped(tab.pages.currentWidget()) == []
    # every data set the person can choose is readable in full in the combo
    combo = tab.train.settings.data_choice
    for i in range(combo.count()):
        combo.setCurrentIndex(i)
        qtbot.wait(5)
        assert combo.fontMetrics().horizontalAdvance(combo.itemText(i)) <= _field_width(combo), combo.itemText(i)
    tab.shutdown()


def test_nearest_images_do_not_move_the_layout(qtbot, tmp_path, weights):
    _, ds = weights
    tab, _ = make_tab(qtbot, tmp_path, ds)
    tab.resize(1024, 700)
    wait_jobs(qtbot, tab)
    ex = tab.explore
    ex.grid.select(3)
    qtbot.wait(20)
    before = (ex.grid.geometry(), ex.closer.geometry())
    qtbot.mouseClick(ex.closer.nearest_button, Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, tab)
    qtbot.wait(20)
    assert len(ex.closer.nearest) == 6
    assert (ex.grid.geometry(), ex.closer.geometry()) == before
    tab.shutdown()


def _train(qtbot, tab, epochs, batch_size=16):
    s = tab.train.settings
    s.epochs.setValue(epochs)
    s.batch_size.setValue(batch_size)
    s.latent.setValue(16)
    s.use_score.setChecked(False)
    s.device.setCurrentIndex(s.device.findData("cpu"))
    qtbot.mouseClick(tab.train.start_button, Qt.MouseButton.LeftButton)


def test_status_after_done_stop_and_failed(qtbot, tmp_path, weights):
    _, ds = weights
    tab, _ = make_tab(qtbot, tmp_path, ds)
    wait_jobs(qtbot, tab)
    tr = tab.train
    # Done: no speed or time left stays behind
    _train(qtbot, tab, 1)
    qtbot.waitUntil(lambda: tr.last_result is not None, timeout=60000)
    assert tr.last_result.reason == "completed"
    assert tr.speed.text() == "" and tr.progress.format().startswith("Done")
    # Stop during the first epoch: it says so, and the bar is not full
    _train(qtbot, tab, 5, batch_size=2)
    qtbot.waitUntil(lambda: len(tr.views.curves.x) > 0, timeout=30000)
    qtbot.mouseClick(tr.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tr.last_result is not None, timeout=30000)
    assert tr.last_result.reason == "stopped" and tr.last_result.epoch == 0
    assert tr.speed.text() == ""
    assert "during epoch 1" in tr.progress.format() and tr.progress.value() < tr.progress.maximum()
    assert "after 0" not in tr.message.text and "during epoch 1" in tr.message.text
    # Failed (a data set the DCGAN cannot draw): plain words, no stale speed
    tr.speed.setText("1,000 images/s · about 0:30 left")
    tr.settings.model_choice.setCurrentIndex(tr.settings.model_choice.findData("dcgan"))
    state_ds = tab.state.dataset
    from helpers import tiny_dataset

    tab.state.set_dataset(tiny_dataset(32, 8, classes=2, size=30), {"data": "tiny"})
    _train(qtbot, tab, 1)
    qtbot.waitUntil(lambda: tr.last_result is not None and not tr.is_busy(), timeout=30000)
    assert type(tr.last_result).__name__ == "Failed"
    assert tr.speed.text() == "" and tr.progress.format() == "Failed" and tr.message.level == "error"
    assert "28, 32 or 64" in tr.message.text
    tab.state.set_dataset(state_ds, {"data": "tiny"})
    tab.shutdown()


def test_explored_generator_is_named_in_the_combo(qtbot, tmp_path, weights):
    _, ds = weights
    tab, _ = make_tab(qtbot, tmp_path, ds)
    wait_jobs(qtbot, tab)
    combo = tab.explore.shipped_choice
    shipped_text = combo.currentText()
    _train(qtbot, tab, 1)
    qtbot.waitUntil(lambda: tab.train.last_result is not None, timeout=60000)
    qtbot.mouseClick(tab.train.use_trained_button, Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, tab)
    run_dir = tab.train.run_dir
    assert tab.explore.generator.path.parent == run_dir
    assert combo.currentText() != shipped_text and combo.currentText().startswith("tiny dcgan, ")
    assert combo.currentText().endswith(f"({tab.explore.generator.path.name})")
    assert combo.currentData() == str(tab.explore.generator.path)
    # the shipped generator is still one choice away, and choosing it loads it again
    i = combo.findText(shipped_text)
    assert i >= 0
    combo.setCurrentIndex(i)
    combo.activated.emit(i)
    wait_jobs(qtbot, tab)
    assert tab.explore.generator.path.name == "gan-fashion-mnist.pt" and combo.currentText() == shipped_text
    tab.shutdown()


def test_no_raw_exception_text_in_messages(qtbot, tmp_path, weights, monkeypatch):
    _, ds = weights
    tab, _ = make_tab(qtbot, tmp_path, ds)
    wait_jobs(qtbot, tab)
    ex = tab.explore
    reported = []
    monkeypatch.setattr("app.ui.tabs.gan.messages.report_error", lambda s, d: reported.append((s, d)))

    def broken(*_a, **_k):
        raise RuntimeError("CUDA error: device-side assert triggered")

    monkeypatch.setattr(ex.generator, "generate", broken)
    qtbot.mouseClick(ex.generate_button, Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, tab)
    assert ex.message.level == "error"
    assert "RuntimeError" not in ex.message.text and "CUDA error" not in ex.message.text
    assert "CUDA error" in ex.message.current.details and reported
    monkeypatch.undo()

    ex.grid.select(2)
    monkeypatch.setattr("app.engine.gan.find_nearest_real",
                        lambda *a, **k: (_ for _ in ()).throw(ValueError("shapes (1,64) and (3,7) not aligned")))
    monkeypatch.setattr("app.ui.tabs.gan.messages.report_error", lambda s, d: reported.append((s, d)))
    qtbot.mouseClick(ex.closer.nearest_button, Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, tab)
    assert "ValueError" not in ex.closer.nearest_info.text() and "not aligned" not in ex.closer.nearest_info.text()
    assert "not aligned" in reported[-1][1]

    # a bug inside the training: plain words in the tab, the technical text behind 'Copy details'
    import app.engine.gan as gan

    monkeypatch.setattr(gan.GanTask, "train_step", lambda self, batch, trainer: 1 / 0)
    _train(qtbot, tab, 1)
    qtbot.waitUntil(lambda: tab.train.last_result is not None and not tab.train.is_busy(), timeout=30000)
    msg = tab.train.message
    assert msg.level == "error" and "ZeroDivisionError" not in msg.text and "division by zero" not in msg.text
    assert "division by zero" in msg.current.details
    tab.shutdown()


TERMS = {"FD": "FD", "D(x)": "D(x)", "D(G(z))": "D(G(z))", "latent": "latent size", "slerp": "slerp",
         "momentum": "momentum"}


def _texts(w: QWidget) -> list[str]:
    if isinstance(w, QComboBox):
        return [w.itemText(i) for i in range(w.count())]
    if isinstance(w, (QLabel, QAbstractButton)):
        return [w.text()]
    if isinstance(w, QGroupBox):
        return [w.title()]
    return []


def test_every_term_is_explained_where_it_appears(qtbot, tmp_path, weights):
    _, ds = weights
    tab, _ = make_tab(qtbot, tmp_path, ds)
    wait_jobs(qtbot, tab)
    seen = set()
    for w in tab.findChildren(QWidget):
        for text in _texts(w):
            for needle, term in TERMS.items():
                if needle.lower() in text.lower() if needle.islower() else needle in text:
                    seen.add(term)
                    assert GLOSSARY[term] in w.toolTip(), f"{text!r} does not explain {term}"
    # the charts name D(x) and D(G(z)) and FD in their titles and legends
    views = tab.train.views
    for term in ("D(x)", "D(G(z))"):
        assert GLOSSARY[term] in views.curves.d_view.toolTip()
    assert GLOSSARY["FD"] in views.curves.score_view.toolTip()
    assert seen >= {"FD", "latent size", "slerp", "momentum"}
    for term, text in GLOSSARY.items():           # short plain sentences, not more jargon
        assert len(text) < 240 and "(" not in text.split("—")[0][len(term):]
    tab.shutdown()
