"""Issue 18, export that works elsewhere: a freshly trained model exported to a folder, the README's example run as
written in another process on a picture of a class."""
import json
import re
import subprocess
import sys

import pytest
from PIL import Image

from app.cli import main
from app.engine.predict import load_classifier

from teach_helpers import COLOURS, colour_picture, write_colour_folder

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    data = write_colour_folder(base / "colours", per_class=10)
    run = base / "run"
    rc = main(["train", "--data", "folder", "--data-root", str(data), "--model", "softmax", "--epochs", "4",
               "--batch-size", "8", "--lr", "0.05", "--optimizer", "adam", "--schedule", "none", "--no-augment",
               "--device", "cpu", "--seed", "0", "--out", str(run), "--quiet"])
    assert rc == 0
    return run


def _readme_code(readme: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(blocks) == 1, "the README holds one Python example"
    return blocks[0]


def test_export_folder_with_labels_and_a_readme_example_that_runs_as_written(trained_run, tmp_path, capsys):
    out = tmp_path / "shared model"
    assert main(["export", str(trained_run), "--to", str(out), "--with-torchscript"]) == 0
    assert "README.md" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "labels.txt", "model.onnx", "model.torchscript.pt",
                                                     "predict.py"]
    classes = load_classifier(trained_run).classes
    assert classes == sorted(COLOURS)
    assert (out / "labels.txt").read_text().splitlines() == classes

    # the ONNX file describes itself: labels, input size, channel order, normalisation
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["classes"]) == classes
    assert json.loads(meta["input_shape"]) == [3, 24, 24] and meta["input_size"] == "24x24"
    assert meta["channel_order"] == "RGB" and len(json.loads(meta["mean"])) == 3 and len(json.loads(meta["std"])) == 3

    # the second step: the README's example, as written, in a fresh process in another folder copy
    code = _readme_code((out / "README.md").read_text())
    assert code == (out / "predict.py").read_text()
    (out / "example.py").write_text(code)
    for k, name in enumerate(classes):
        picture = tmp_path / f"a {name} thing.png"
        Image.fromarray(colour_picture(name, seed=900 + k, size=48)).save(picture)
        done = subprocess.run([sys.executable, "example.py", str(picture)], cwd=out, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[0] == name, done.stdout


def test_export_old_flags_keep_working_and_carry_the_labels(trained_run, tmp_path):
    onnx_file = tmp_path / "m.onnx"
    assert main(["export", str(trained_run), "--onnx", str(onnx_file), "--torchscript", str(tmp_path / "m.ts")]) == 0
    meta = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"]).get_modelmeta()
    assert json.loads(meta.custom_metadata_map["classes"]) == sorted(COLOURS)
    assert (tmp_path / "m.ts").stat().st_size > 0


def test_export_refuses_a_file_as_folder_and_says_what_to_do(trained_run, tmp_path, capsys):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    assert main(["export", str(trained_run), "--to", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "Traceback" not in err and err.count("\n") == 1
    assert blocker.read_text() == "not a folder"
    assert main(["export", str(trained_run)]) == 2
    assert "--to FOLDER" in capsys.readouterr().err
    # a folder with someone's own README is not written over; an earlier export is
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# my project")
    assert main(["export", str(trained_run), "--to", str(project)]) == 2
    assert "not from an earlier VisionDesk export" in capsys.readouterr().err
    assert (project / "README.md").read_text() == "# my project" and not (project / "model.onnx").exists()
    again = tmp_path / "again"
    assert main(["export", str(trained_run), "--to", str(again)]) == 0
    assert main(["export", str(trained_run), "--to", str(again)]) == 0


def test_train_tab_exports_a_past_run_to_a_folder_to_share(qtbot, trained_run, tmp_path, monkeypatch):
    import shutil

    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QFileDialog

    from app.engine.runs import runs_root
    from app.ui.state import AppState
    from app.ui.tabs.train import TrainTab
    from app.ui.tabs.train.tab import SHARE_FILTER

    run = shutil.copytree(trained_run, runs_root() / trained_run.name)
    tab = TrainTab(AppState(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(tab)
    tab.show()
    assert tab.runs_page.select(run)
    out = tmp_path / "for my phone app"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), SHARE_FILTER)))
    qtbot.mouseClick(tab.runs_page.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.jobs.pending == 0, timeout=60000)
    assert tab.message.level == "ok" and "README" in tab.message.text
    assert (out / "labels.txt").read_text().splitlines() == sorted(COLOURS)
    meta = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"]).get_modelmeta()
    assert json.loads(meta.custom_metadata_map["classes"]) == sorted(COLOURS)
    # the same button still saves plain PyTorch weights when that is what the person picks
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(tmp_path / "weights"), "PyTorch weights (*.pt)")))
    qtbot.mouseClick(tab.runs_page.export_button, Qt.MouseButton.LeftButton)
    assert load_classifier(tmp_path / "weights.pt").classes == sorted(COLOURS)
    tab.shutdown()
