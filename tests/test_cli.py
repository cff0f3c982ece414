import json
import subprocess
import sys

import pytest

from app.cli import main
from app.engine.runs import read_metrics

from helpers import write_mnist_root


@pytest.fixture
def mnist_root(tmp_path):
    root = tmp_path / "mnist"
    write_mnist_root(root, n_train=200, n_test=50)
    return root


def test_train_evaluate_export_end_to_end(tmp_path, mnist_root, capsys):
    out = tmp_path / "run"
    rc = main(["train", "--data", "mnist", "--data-root", str(mnist_root), "--model", "classic-cnn", "--epochs", "2",
               "--batch-size", "32", "--lr", "0.01", "--optimizer", "adam", "--schedule", "cosine", "--seed", "1",
               "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr()
    assert "epoch 1/2" in printed.out and "epoch 2/2" in printed.out
    rows = read_metrics(out)
    assert [r["epoch"] for r in rows] == [1.0, 2.0]
    assert {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"} <= set(rows[0])
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"] == "classic-cnn" and cfg["epochs"] == 2 and cfg["optimizer"] == "adam"

    assert main(["evaluate", str(out)]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "confusion matrix" in text
    assert main(["evaluate", str(out / "best.pt"), "--data", "mnist", "--data-root", str(mnist_root), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n"] == 50 and len(res["confusion"]) == 10 and 0 <= res["accuracy"] <= 1

    onnx_path, ts_path = tmp_path / "m.onnx", tmp_path / "m.ts"
    assert main(["export", str(out), "--onnx", str(onnx_path), "--torchscript", str(ts_path)]) == 0
    assert onnx_path.stat().st_size > 1000 and ts_path.stat().st_size > 1000

    # re-run from the config, and continue the run for one more epoch
    assert main(["train", "--config", str(out / "config.json"), "--epochs", "1", "--out", str(tmp_path / "rerun")]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "3", "--quiet"]) == 0
    assert [r["epoch"] for r in read_metrics(out)] == [1.0, 2.0, 3.0]


def test_summary_json_and_table(capsys):
    assert main(["summary", "--model", "classic-cnn", "--input", "1x28x28", "--classes", "10", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["total_params"] == 21840
    assert main(["summary", "--model", "softmax", "--input", "1x28x28"]) == 0
    assert "7,850" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["train", "--data", "mnist", "--data-root", "/nonexistent/root", "--model", "softmax", "--epochs", "1"], "/nonexistent/root"),
    (["train", "--data", "fashion-mnist-sample", "--model", "no-such-model", "--epochs", "1"], "no-such-model"),
    (["train", "--epochs", "0", "--model", "softmax"], "epochs"),
    (["summary", "--model", "lenet5", "--input", "1x8x8"], "lenet5"),
    (["evaluate", "/nonexistent/run"], "does not exist"),
    (["export", "/nonexistent/run", "--onnx", "x.onnx"], "does not exist"),
])
def test_bad_input_gives_one_line_and_exit_2(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err


def test_bad_config_json_is_reported(tmp_path, capsys):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"epochs": "many", "model": "softmax"}')
    assert main(["train", "--config", str(cfg)]) == 2
    assert "'epochs' must be a whole number" in capsys.readouterr().err


def test_argparse_errors_are_one_line():
    proc = subprocess.run([sys.executable, "-m", "app", "train", "--epochs", "abc"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "app", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and "VisionDesk" in proc.stdout
