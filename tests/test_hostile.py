"""Issue 16: never lose or clobber the person's files, never crash on hostile input.

Every case goes through the command line (``app.cli.main``, or ``python -m app`` for the races): exit
status 2, one line on stderr, no traceback; and whatever was at the paths involved is byte-for-byte the
same afterwards (run.log aside).
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.cli import main
from app.core.errors import UserError
from app.core.files import atomic_write_bytes, output_path
from app.engine.runs import new_run_dir, read_metrics

from helpers import write_mnist_root

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    write_mnist_root(root, n_train=64, n_test=16)
    return root


def _train_args(root, *extra):
    return ["train", "--data", "mnist", "--data-root", str(root), "--model", "mlp", "--epochs", "1",
            "--batch-size", "16", "--schedule", "none", "--device", "cpu", "--quiet", *extra]


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (run.log aside) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "run.log"}


def _refused(capsys, rc, *words):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def earlier_run(mnist_root, tmp_path_factory):
    """A finished one-epoch run, made once; tests copy it."""
    run = tmp_path_factory.mktemp("earlier") / "run"
    assert main(_train_args(mnist_root, "--out", str(run))) == 0
    return run


def _copy_run(earlier_run, tmp_path) -> Path:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(earlier_run, run)
    return run


# ---------------------------------------------------------------------------------------------- section 1
def test_out_on_a_folder_of_other_files_is_refused_and_left_as_it_was(mnist_root, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    (mine / "metrics.csv").write_text("year,sales\n2025,10\n")
    (mine / "batches.csv").write_text("my first line\n1,2\n")
    (mine / ".draft.tmp").write_text("keep me")
    before = _snapshot(mine)
    rc = main(_train_args(mnist_root, "--out", str(mine)))
    _refused(capsys, rc, "not a VisionDesk run")
    assert _snapshot(mine) == before and not (mine / "run.log").exists()


def test_out_on_a_folder_the_file_browser_touched_is_still_empty(mnist_root, tmp_path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    assert main(_train_args(mnist_root, "--out", str(fresh))) == 0
    assert (fresh / ".DS_Store").read_bytes() == b"\0\0\0\1Bud1" and (fresh / "best.pt").is_file()


def test_out_on_an_earlier_run_needs_overwrite(mnist_root, earlier_run, tmp_path, capsys):
    run = _copy_run(earlier_run, tmp_path)
    before = _snapshot(run)
    rc = main(_train_args(mnist_root, "--out", str(run), "--seed", "5"))
    _refused(capsys, rc, "already holds a run", "--overwrite")
    assert _snapshot(run) == before
    # asked for: the new run replaces the old one whole (no rows or checkpoints of the old run left)
    (run / "samples").mkdir()
    assert main(_train_args(mnist_root, "--out", str(run), "--seed", "5", "--overwrite")) == 0
    assert [r["epoch"] for r in read_metrics(run)] == [1.0]
    assert (run / "best.pt").read_bytes() != before["best.pt"]
    assert '"seed": 5' in (run / "config.json").read_text()
    assert "replaces the earlier run" in (run / "run.log").read_text()
    # --overwrite is no option of a resume
    rc = main(["train", "--resume", str(run), "--epochs", "2", "--overwrite"])
    _refused(capsys, rc, "--overwrite")


@pytest.mark.parametrize("where", ["file", "devnull", "proc", "home-file"])
def test_out_that_cannot_be_a_run_folder_is_one_line(mnist_root, tmp_path, capsys, monkeypatch, where):
    target = {"file": tmp_path / "notes.txt", "devnull": Path("/dev/null"),
              "proc": Path("/proc/visiondesk-run"), "home-file": None}[where]
    if where == "file":
        target.write_text("my notes")
    if where == "home-file":
        home = tmp_path / "home-is-a-file"
        home.write_text("x")
        monkeypatch.setenv("VISIONDESK_HOME", str(home))
        rc = main(_train_args(mnist_root))
        _refused(capsys, rc, "VISIONDESK_HOME")
        assert home.read_text() == "x"
        return
    rc = main(_train_args(mnist_root, "--out", str(target)))
    _refused(capsys, rc)
    if where == "file":
        assert target.read_text() == "my notes"


@pytest.mark.parametrize("which", ["out", "home"])
def test_read_only_folders_are_one_line(mnist_root, tmp_path, capsys, monkeypatch, which):
    from app.engine import runs

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # as root (CI), chmod 555 does not stop writes: the check sees a read-only folder as the system says it
    monkeypatch.setattr(runs.os, "access", lambda p, mode: False if Path(p) == locked / ("runs" if which == "home" else "")
                        or Path(p) == locked else real_access(p, mode))
    if which == "home":
        (locked / "runs").mkdir()
        monkeypatch.setenv("VISIONDESK_HOME", str(locked))
        rc = main(_train_args(mnist_root))
    else:
        rc = main(_train_args(mnist_root, "--out", str(locked)))
    _refused(capsys, rc, "read-only")
    assert [p.name for p in locked.iterdir()] == (["runs"] if which == "home" else [])
    if which == "home":
        assert list((locked / "runs").iterdir()) == []


def test_default_run_folder_names_are_claimed_atomically(tmp_path):
    paths: list[Path] = []
    barrier = threading.Barrier(8)

    def make():
        barrier.wait()
        paths.append(new_run_dir("mnist", "mlp", root=tmp_path))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(paths)) == 8 and all(p.is_dir() for p in paths)


def test_outputs_keep_links_normal_permissions_and_refuse_special_files(tmp_path):
    # a link is followed on purpose: its target gets the data, the link stays a link
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"
    # a new file gets what the umask allows (not the temporary file's 0600); a replaced one keeps its mode
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "fresh.bin", b"x")
        assert stat.S_IMODE((tmp_path / "fresh.bin").stat().st_mode) == 0o644
        (tmp_path / "group.bin").write_bytes(b"a")
        os.chmod(tmp_path / "group.bin", 0o640)
        atomic_write_bytes(tmp_path / "group.bin", b"b")
        assert stat.S_IMODE((tmp_path / "group.bin").stat().st_mode) == 0o640
    finally:
        os.umask(old)
    # a pipe, a device or a folder is never replaced by a file
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for bad in (fifo, Path("/dev/full"), Path("/dev/null"), tmp_path):
        with pytest.raises(UserError):
            atomic_write_bytes(bad, b"data")
    assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_ISCHR(os.stat("/dev/full").st_mode)
    with pytest.raises(UserError, match="also the input"):
        output_path(link, inputs=[real])


def test_run_files_are_not_private_to_the_owner(earlier_run):
    for name in ("config.json", "metrics.csv", "best.pt", "last.pt"):
        assert stat.S_IMODE((earlier_run / name).stat().st_mode) & 0o044, name


@pytest.mark.parametrize("flag,name", [("--torchscript", "best.pt"), ("--onnx", "last.pt"),
                                       ("--torchscript", "/dev/null")])
def test_export_never_overwrites_its_input_or_a_device(earlier_run, tmp_path, capsys, flag, name):
    run = _copy_run(earlier_run, tmp_path)
    before = _snapshot(run)
    target = name if name.startswith("/") else str(run / name)
    rc = main(["export", str(run), flag, target])
    _refused(capsys, rc)
    assert _snapshot(run) == before
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_keypoints_video_refuses_to_write_over_its_source(tmp_path, capsys):
    video = tmp_path / "face.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    before = video.read_bytes()
    rc = main(["keypoints", "video", str(video), "--out", str(video)])
    _refused(capsys, rc, "input")
    assert video.read_bytes() == before


def test_gan_generate_refuses_a_device_and_its_own_checkpoint(tmp_path, capsys):
    ckpt = tmp_path / "g.pt"
    ckpt.write_bytes(b"not even a checkpoint")
    rc = main(["gan", "generate", str(ckpt), "--out", str(ckpt)])
    _refused(capsys, rc, "input")
    rc = main(["gan", "generate", str(ckpt), "--out", "/dev/full"])
    _refused(capsys, rc, "not an ordinary file")
    assert ckpt.read_bytes() == b"not even a checkpoint"


# ---------------------------------------------------------------------------------------------- the race
def _spawn(args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-u", "-m", "app", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def test_two_trainings_on_one_run_folder_the_second_is_refused(mnist_root, tmp_path, capsys):
    run = tmp_path / "run"
    first = _spawn(["train", "--data", "mnist", "--data-root", str(mnist_root), "--model", "mlp", "--epochs",
                    "1000", "--batch-size", "16", "--schedule", "none", "--device", "cpu", "--out", str(run)])
    try:
        for line in first.stdout:                  # one line per finished epoch: the run is under way
            if line.startswith("epoch 1/"):
                break
        assert first.poll() is None, first.stderr.read()
        # this test's own process is the second trainer (no second interpreter to start)
        for args in (["--resume", str(run)], ["--out", str(run), "--overwrite", "--data", "mnist", "--data-root",
                                              str(mnist_root), "--model", "mlp"]):
            capsys.readouterr()
            _refused(capsys, main(["train", *args, "--device", "cpu", "--quiet"]), "in use")
        first.send_signal(signal.SIGKILL)             # dies holding the lock: the system drops it
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        first.stdout.close()
        first.stderr.close()
    done = max(int(r["epoch"]) for r in read_metrics(run))
    rc = main(["train", "--resume", str(run), "--epochs", str(done + 1), "--quiet"])
    assert rc == 0 and max(int(r["epoch"]) for r in read_metrics(run)) == done + 1
    pairs = [(int(r["epoch"]), int(r["batch"])) for r in read_metrics(run, "batches.csv")]
    assert len(pairs) == len(set(pairs))


# ---------------------------------------------------------------------------------------------- section 5
@pytest.mark.parametrize("argv,option", [
    (["train", "--data", "mnist", "--seed", "99999999999999999999"], "--seed"),
    (["train", "--data", "mnist", "--seed", "-3"], "--seed"),
    (["train", "--data", "mnist", "--weight-decay", "nan"], "--weight-decay"),
    (["train", "--data", "mnist", "--weight-decay", "inf"], "--weight-decay"),
    (["train", "--data", "mnist", "--lr", "nan"], "--lr"),
    (["train", "--data", "mnist", "--epochs", "0"], "--epochs"),
    (["evaluate", "RUN", "--device", "banana"], "--device"),
    (["evaluate", "RUN", "--device", "cuda:x"], "--device"),
    (["gan", "generate", "G", "--out", "x.png", "--nrow", "-3"], "--nrow"),
    (["gan", "score", "G", "--samples", "0"], "--samples"),
    (["gan", "score", "G", "--samples", "1"], "--samples"),
    (["gan", "score", "G", "--samples", "-10"], "--samples"),
    (["gan", "score", "G", "--samples", "100000000"], "--samples"),
    (["gan", "train", "--data", "mnist", "--beta1", "2"], "--beta1"),
    (["keypoints", "video", "V.mp4", "--threads", "-4"], "--threads"),
    (["keypoints", "video", "V.mp4", "--threads", "100000"], "--threads"),
    (["keypoints", "video", "V.mp4", "--max-frames", "-5"], "--max-frames"),
    (["keypoints", "train", "--data", "F.npz", "--model", "kp-cnn4", "--beta", "-1"], "--beta"),
    (["keypoints", "train", "--data", "F.npz", "--model", "kp-cnn4", "--beta", "nan"], "--beta"),
    (["summary", "--model", "mlp", "--classes", "1000000000"], "--classes"),
])
def test_numeric_options_are_checked_once_with_their_range(argv, option, tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    line = _refused(capsys, main(argv), option, "must be")
    assert any(ch.isdigit() for ch in line) or option == "--device"      # the allowed range is named
    assert sorted(p.name for p in work.iterdir()) == []                    # nothing was written
    assert not (Path(os.environ["VISIONDESK_HOME"]) / "runs").exists()


@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_gpu_that_is_not_there_is_one_line(earlier_run, tmp_path, capsys, monkeypatch, command):
    from app.engine import devices

    monkeypatch.setattr(devices, "cuda_available", lambda: False)    # as on a machine without a GPU
    argv = {"evaluate": ["evaluate", str(earlier_run), "--device", "cuda:99"],
            "resume": ["train", "--resume", str(earlier_run), "--epochs", "2", "--device", "cuda"]}[command]
    before = _snapshot(earlier_run)
    _refused(capsys, main(argv), "GPU")
    assert _snapshot(earlier_run) == before


def test_a_huge_seed_in_config_json_is_refused_before_a_run_folder_exists(mnist_root, earlier_run, tmp_path, capsys):
    import json

    cfg = json.loads((earlier_run / "config.json").read_text())
    cfg["seed"] = 2**70
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    rc = main(["train", "--config", str(path), "--out", str(tmp_path / "run")])
    _refused(capsys, rc, "seed")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key,value", [("betas", [2, 0.999]), ("betas", [0.5, float("nan")]), ("score_samples", -5),
                                       ("grid", -3), ("score_every", 0), ("noise_seed", -1)])
def test_gan_settings_in_config_json_are_checked_like_the_options(tmp_path, capsys, key, value):
    import json

    from app.engine.gan import gan_config

    cfg = gan_config("fashion-mnist-sample", epochs=1).to_dict()
    cfg["extra"] = {**cfg["extra"], key: value}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    rc = main(["gan", "train", "--config", str(path), "--device", "cpu", "--out", str(tmp_path / "run")])
    _refused(capsys, rc, f"extra.{key}")
    assert not (tmp_path / "run" / "config.json").exists()


@pytest.mark.parametrize("field,value", [("classes", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), ("classes", ["c"] * 100_001),
                                         ("mean", ["0.1"]), ("std", "x"), ("std", [0.0]),
                                         ("input_shape", [1, 28, -28]), ("input_shape", "1x28x28")])
def test_checkpoint_fields_of_the_wrong_kind_are_one_line(earlier_run, tmp_path, capsys, field, value):
    from app.engine.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(earlier_run / "best.pt")
    ckpt["meta"][field] = value
    path = tmp_path / "best.pt"
    save_checkpoint(ckpt, path)
    for argv in (["evaluate", str(path), "--data", "mnist"], ["export", str(path), "--onnx", str(tmp_path / "m.onnx")]):
        _refused(capsys, main(argv), field)
    assert not (tmp_path / "m.onnx").exists()


def test_mnist_test_images_of_another_size_are_refused_before_training(tmp_path, capsys):
    import numpy as np

    from helpers import write_idx

    root = tmp_path / "mnist"
    write_mnist_root(root, n_train=32, n_test=8)
    write_idx(root / "t10k-images-idx3-ubyte.gz", np.zeros((8, 32, 32), np.uint8))
    rc = main(_train_args(root, "--out", str(tmp_path / "run")))
    _refused(capsys, rc, "28x28", "32x32")
    assert not (tmp_path / "run").exists() or run_is_empty(tmp_path / "run")


def run_is_empty(folder: Path) -> bool:
    return all(p.name == "run.log" for p in folder.iterdir())


# ---------------------------------------------------------------------------------------------- sections 4 and 6
def _image_folder(root: Path, classes=("cats", "dogs"), n=6, size=12) -> Path:
    import numpy as np
    from PIL import Image

    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = np.full((size, size), 40 + 150 * k, np.uint8)
            a[i % size, :] = 255 - a[i % size, :]
            Image.fromarray(a).save(root / name / f"{i}.png")
    return root


def _load_with_timeout(root, seconds=30):
    from app.data.folder import clear_cache, load_folder

    clear_cache()
    box: dict = {}

    def run():
        try:
            box["ds"] = load_folder(root)
        except BaseException as exc:            # noqa: BLE001 - reported below
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "load_folder hangs"
    if "error" in box:
        raise box["error"]
    return box["ds"]


def test_a_pipe_in_an_image_folder_never_hangs_the_load(tmp_path, monkeypatch):
    from app.data import folder as folder_mod

    root = _image_folder(tmp_path / "pics")
    os.mkfifo(root / "cats" / "pipe.png")                      # there when the folder is scanned
    real_scan = folder_mod._scan

    def scan_then_swap(path):                                   # and one that replaces an image after the scan
        found = real_scan(path)
        (root / "dogs" / "0.png").unlink()
        os.mkfifo(root / "dogs" / "0.png")
        return found

    monkeypatch.setattr(folder_mod, "_scan", scan_then_swap)
    ds = _load_with_timeout(root)
    assert len(ds.train) + len(ds.test) == 11
    assert sorted(s.split(":")[0] for s in ds.skipped) == ["cats/pipe.png", "dogs/0.png"]
    assert all("not an ordinary file" in s for s in ds.skipped)


@pytest.mark.parametrize("argv", [["train", "--config", "PIPE"],
                                  ["train", "--data", "csv", "--data-root", "PIPE", "--model", "logistic"],
                                  ["keypoints", "train", "--data", "PIPE", "--model", "kp-cnn4"],
                                  ["evaluate", "PIPE"]])
def test_a_pipe_given_as_an_input_file_never_hangs(tmp_path, capsys, argv):
    pipe = tmp_path / "input.csv"
    os.mkfifo(pipe)
    args = [str(pipe) if a == "PIPE" else a for a in argv]
    box: dict = {}
    t = threading.Thread(target=lambda: box.setdefault("rc", main(args)), daemon=True)
    t.start()
    t.join(30)
    if t.is_alive():                        # let the blocked reader go, then fail
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        t.join(10)
        pytest.fail("the command hangs on a pipe")
    _refused(capsys, box["rc"], "input.csv")


def test_linked_folders_are_not_counted_twice_and_links_out_are_said(tmp_path):
    root = _image_folder(tmp_path / "pics")
    (root / "cats" / "loop").symlink_to(root / "dogs")          # another class's images, a second time
    (root / "dogs" / "up").symlink_to(root)                     # a loop
    outside = _image_folder(tmp_path / "elsewhere", classes=("more",), n=3) / "more"
    (root / "cats" / "extra").symlink_to(outside)
    (root / "kittens").symlink_to(root / "cats")                # a class folder that is another class
    (root / "birds").symlink_to(tmp_path / "elsewhere" / "more")  # a class folder elsewhere
    ds = _load_with_timeout(root)
    assert len(ds.train) + len(ds.test) == 6 + 6 + 3 + 3
    assert ds.classes == ["birds", "cats", "dogs"]
    text = " ".join(ds.notes)
    assert "Did not follow the link cats/loop" in text and "Did not follow the link dogs/up" in text
    assert "Followed the link cats/extra" in text and "Followed the link birds" in text
    assert "Did not follow the link kittens" in text


def test_skipped_files_and_dropped_classes_are_said_by_the_cli_and_run_log(tmp_path, capsys):
    root = _image_folder(tmp_path / "pics")
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG not really")
    (root / "birds").mkdir()
    (root / "birds" / "photo.heic").write_bytes(b"....ftypheic")
    run = tmp_path / "run"
    rc = main(["train", "--data", "folder", "--data-root", str(root), "--model", "mlp", "--epochs", "1",
               "--batch-size", "4", "--device", "cpu", "--out", str(run), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "Skipped 2 file(s)" in err and "cats/broken.png" in err and "birds/photo.heic" in err
    assert "Left out class folder(s)" in err and "birds" in err
    log = (run / "run.log").read_text()
    assert "cats/broken.png" in log and "Left out class folder(s)" in log


def test_evaluate_matches_classes_by_name_or_refuses(earlier_run, tmp_path, capsys):
    import json

    from app.engine.predict import load_classifier

    names = load_classifier(earlier_run / "best.pt").classes
    other = _image_folder(tmp_path / "pets", size=28)
    rc = main(["evaluate", str(earlier_run), "--data", "folder", "--data-root", str(other)])
    _refused(capsys, rc, "does not know", "cats")
    same = _image_folder(tmp_path / "digits", classes=(names[7], names[2]), size=28)
    rc = main(["evaluate", str(earlier_run), "--data", "folder", "--data-root", str(same), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0 and "matched by name" in err
    res = json.loads(out)
    rows = [sum(r) for r in res["confusion"]]                    # the true classes are the model's 2 and 7
    assert res["n"] == sum(rows) and {i for i, r in enumerate(rows) if r} <= {2, 7}


# ---------------------------------------------------------------------------------------------- section 3
def _npz_claiming(path: Path, shape) -> None:
    """A tiny .npz whose 'images' header declares ``shape`` (uncompressed members, no data)."""
    import io
    import zipfile

    import numpy as np

    def member(arr_shape, dtype):
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": np.dtype(dtype).str, "fortran_order": False,
                                                   "shape": tuple(arr_shape)})
        return buf.getvalue()

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("images.npy", member(shape, "u1"))
        zf.writestr("keypoints.npy", member((shape[0], 68, 2), "<f4"))


@pytest.mark.parametrize("case", ["huge-shape", "expands-past-free-memory"])
def test_npz_declared_sizes_are_checked_before_loading(tmp_path, capsys, monkeypatch, case):
    import numpy as np

    path = tmp_path / "faces.npz"
    if case == "huge-shape":
        _npz_claiming(path, (3_000_000, 1024, 1024))
        assert path.stat().st_size < 1000
    else:
        np.savez_compressed(path, images=np.zeros((800, 256, 256), np.uint8),
                            keypoints=np.zeros((800, 68, 2), np.float32))
        assert path.stat().st_size < 2_000_000
        monkeypatch.setenv("VISIONDESK_MEMORY_LIMIT", str(64 << 20))
    rc = main(["keypoints", "train", "--data", str(path), "--model", "kp-cnn4", "--epochs", "1",
               "--out", str(tmp_path / "run")])
    _refused(capsys, rc, "faces.npz")


def test_idx_headers_are_checked_against_one_bound_for_all_files(tmp_path, capsys, monkeypatch):
    import gzip
    import struct

    from app.data import idx

    root = tmp_path / "mnist"
    write_mnist_root(root, n_train=32, n_test=8)
    # a header claiming 3.6 GiB (under the 4 GiB per-file cap) with almost no data, on a computer with
    # 4 GiB free: refused from the header, before anything is allocated
    n = 3_900_000_000 // (28 * 28)
    with gzip.open(root / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", n, 28, 28) + b"\0" * 1000)
    monkeypatch.setenv("VISIONDESK_MEMORY_LIMIT", str(4 << 30))
    rc = main(_train_args(root, "--out", str(tmp_path / "run")))
    _refused(capsys, rc, "memory", "3.63 GiB")
    # files each under the per-file cap are bounded together (two 3.6 GiB files were 7.2 GiB)
    monkeypatch.delenv("VISIONDESK_MEMORY_LIMIT")
    write_mnist_root(root, n_train=32, n_test=8)
    monkeypatch.setattr(idx, "MAX_TOTAL_BYTES", 32 * 28 * 28 + 32 + 100)
    rc = main(_train_args(root, "--out", str(tmp_path / "run")))
    _refused(capsys, rc, "t10k-images", "more than a data set can be")


def test_a_folder_too_big_for_free_memory_is_refused_before_decoding(tmp_path, capsys, monkeypatch):
    root = _image_folder(tmp_path / "pics", n=20, size=64)
    monkeypatch.setenv("VISIONDESK_MEMORY_LIMIT", str(200_000))
    rc = main(["train", "--data", "folder", "--data-root", str(root), "--image-size", "64", "--model", "mlp",
               "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "run")])
    _refused(capsys, rc, "memory", "smaller image size")


def test_a_batch_that_cannot_fit_is_refused_before_the_first_step(tmp_path, capsys, monkeypatch):
    from app.engine.footprint import training_step_bytes
    from app.models import build_model

    import torch

    root = _image_folder(tmp_path / "pics", n=8, size=64)
    need = training_step_bytes(build_model("cnn4", 1, (64, 64), 2), (1, 64, 64), 16, torch.device("cpu"))
    # the data fits (a few kilobytes) but a step of 16 images at 64x64 does not
    monkeypatch.setenv("VISIONDESK_MEMORY_LIMIT", str(need // 2))
    run = tmp_path / "run"
    rc = main(["train", "--data", "folder", "--data-root", str(root), "--image-size", "64", "--model", "cnn4",
               "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--out", str(run)])
    _refused(capsys, rc, "batch size of about", "64x64")
    assert not (run / "config.json").exists()
    monkeypatch.setenv("VISIONDESK_MEMORY_LIMIT", str(need * 4))
    assert main(["train", "--data", "folder", "--data-root", str(root), "--image-size", "64", "--model", "cnn4",
                 "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--out", str(run), "--quiet"]) == 0


def test_running_out_of_computer_memory_mid_step_is_one_line(mnist_root, tmp_path, capsys, monkeypatch):
    from app.engine.classification import ClassificationTask

    def no_memory(self, batch, trainer):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] . DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 4294967296 bytes.")

    monkeypatch.setattr(ClassificationTask, "train_step", no_memory)
    rc = main(_train_args(mnist_root, "--out", str(tmp_path / "run")))
    _refused(capsys, rc, "ran out of memory", "batch size")


def test_a_run_folder_is_locked_for_the_whole_fit_in_one_process_too(tmp_path):
    """The GUI's Continue on a run that is training (in another window or process) is refused the same way."""
    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig
    from app.engine.events import EpochEnd
    from app.engine.runs import RunInUse

    from helpers import tiny_dataset

    run = tmp_path / "run"
    cfg = TrainConfig(data="tiny", model="softmax", epochs=2, batch_size=16, schedule="none", augment=False,
                      device="cpu")
    ds = tiny_dataset(n_train=32, n_test=8, size=8)
    seen: list = []

    def second_trainer(ev):
        if isinstance(ev, EpochEnd) and ev.epoch == 1:
            before = _snapshot(run)
            with pytest.raises(RunInUse, match="in use"):
                make_trainer(cfg, out=run, dataset=ds).fit(resume_from=run / "last.pt")
            seen.append(_snapshot(run) == before)

    fin = make_trainer(cfg, out=run, dataset=ds, callbacks=[second_trainer]).fit()
    assert fin.reason == "completed" and seen == [True]
    # the lock went with the first fit: continuing now works
    assert make_trainer(cfg.replace(epochs=3), out=run, dataset=ds).fit(resume_from=run / "last.pt").epoch == 3


def test_a_pipe_opened_as_a_picture_never_hangs(tmp_path):
    """Try it and image-folder video sources read single pictures through open_image."""
    from app.core.errors import DataError
    from app.data.images import open_image

    pipe = tmp_path / "photo.png"
    os.mkfifo(pipe)
    box: dict = {}

    def run():
        try:
            open_image(pipe)
        except DataError as exc:
            box["error"] = str(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(20)
    if t.is_alive():
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("open_image hangs on a pipe")
    assert "not a picture file" in box["error"]
