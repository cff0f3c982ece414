"""Property-based: random bytes and random-but-plausible headers thrown at every parser.

The only property: a parser either returns, or raises a ``UserError`` subclass (which the CLI prints
as one line and the GUI shows as a message). Any other exception is a crash a person would see.

Runs are derandomized (a fixed seed: the CI gate never flakes) and small (a few seconds in all);
raise ``max_examples`` locally to dig deeper.
"""
from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import UserError

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def only_user_errors(fn, *args, **kwargs):
    """Call ``fn``; a UserError is a clean refusal, anything else fails the test (with its type)."""
    try:
        return fn(*args, **kwargs)
    except UserError as exc:
        assert str(exc).strip(), "a UserError must say something"
        return exc


# ---------------------------------------------------------------------------------------------- IDX
IDX_CODES = st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0x42, 0xFF])


@st.composite
def idx_files(draw) -> bytes:
    """Random bytes, or an IDX header (right or wrong) followed by a random amount of data."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    magic = draw(st.sampled_from([b"\x00\x00", b"\x00\x01", b"\x1f\x8b", b"\xff\xff"]))
    ndim = draw(st.integers(0, 12))
    dims = draw(st.lists(st.one_of(st.integers(0, 6), st.integers(0, 2**32 - 1)), min_size=0, max_size=ndim))
    header = magic + bytes([draw(IDX_CODES), ndim]) + b"".join(struct.pack(">I", d) for d in dims)
    return header + draw(st.binary(max_size=300))


@FUZZ
@given(data=idx_files(), compress=st.sampled_from(["no", "gzip", "gzip-cut"]))
def test_read_idx_random(data, compress):
    from app.data.idx import read_idx

    if compress != "no":
        data = gzip.compress(data)
        if compress == "gzip-cut":
            data = data[: len(data) // 2]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x-idx3-ubyte"
        path.write_bytes(data)
        out = only_user_errors(read_idx, path)
        if isinstance(out, np.ndarray):
            assert out.ndim >= 1


# ---------------------------------------------------------------------------------------------- image folders
IMAGE_NAMES = st.sampled_from(["a.png", "b.jpg", "c.gif", "d.bmp", "e.tif", "f.webp", "g.ppm", "h.ico", "i.txt"])
IMAGE_HEADS = st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"II*\x00",
                               b"RIFF\x00\x00\x00\x00WEBP", b"P6\n4 4\n255\n", b"\x00\x00\x01\x00"])


@FUZZ
@given(files=st.lists(st.tuples(st.sampled_from(["cats", "dogs", "cats/sub"]), IMAGE_NAMES, IMAGE_HEADS,
                                st.binary(max_size=120)), min_size=1, max_size=8))
def test_load_folder_of_random_bytes(files):
    from app.data.folder import clear_cache, load_folder

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for i, (cls, name, head, body) in enumerate(files):
            (root / cls).mkdir(parents=True, exist_ok=True)
            (root / cls / f"{i}{name}").write_bytes(head + body)
        clear_cache()
        ds = only_user_errors(load_folder, root)
        if not isinstance(ds, UserError):
            assert len(ds.train) + len(ds.test) + len(ds.skipped) == len(files)


# ---------------------------------------------------------------------------------------------- keypoint files
CELLS = st.sampled_from(["", "1", "2.5", "-7", "nan", "NaN", "inf", "1e999", "x", "f0.png", "../f0.png",
                         "Image", "image_name", "p0_x", "p0_y", "p1_x", "p1_y", "0 0 0 0", "1 2 3",
                         "\"quoted, comma\"", "\x00", "é"])


@st.composite
def csv_texts(draw) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=200))
    width = draw(st.integers(0, 7))
    rows = draw(st.lists(st.lists(CELLS, min_size=max(0, width - 1), max_size=width + 1), max_size=6))
    return "\n".join(",".join(r) for r in rows).encode("utf-8")


@FUZZ
@given(text=csv_texts(), name=st.sampled_from(["points.csv", "training.csv"]))
def test_keypoint_csv_random(text, name):
    from PIL import Image

    from app.data.keypoints import load_keypoints

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        Image.new("RGB", (40, 30), (90, 90, 90)).save(root / "f0.png")
        (root / name).write_bytes(text)
        only_user_errors(load_keypoints, root / name, size=16)
        only_user_errors(load_keypoints, root, size=16)        # the folder form


def _array(shape, kind, fill):
    if kind == "U2":
        return np.full(shape, "ab")
    with np.errstate(invalid="ignore"):       # nan/inf cast to integers on purpose
        return np.full(shape, fill).astype(kind)


ARRAYS = st.builds(
    _array,
    st.lists(st.integers(0, 3), max_size=4).map(tuple),
    st.sampled_from(["uint8", "float32", "float64", "int64", "bool", "complex64", "U2"]),
    st.sampled_from([0, 1, 0.5, 300, -4, float("nan"), float("inf")]),
)


@FUZZ
@given(arrays=st.dictionaries(st.sampled_from(["images", "keypoints", "names", "other"]), ARRAYS, max_size=3),
       raw=st.one_of(st.none(), st.binary(max_size=100)))
def test_keypoint_npz_random(arrays, raw):
    from app.data.keypoints import load_keypoints

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "faces.npz"
        if raw is not None:
            path.write_bytes(raw)
        else:
            np.savez(path, **arrays)
        only_user_errors(load_keypoints, path)


# ---------------------------------------------------------------------------------------------- config
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
              st.sampled_from(["", "cnn4", "softmax", "sgd", "adam", "cuda", "cuda:7", "onecycle", "auto", "x"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)


@FUZZ
@given(raw=st.one_of(
    st.dictionaries(st.sampled_from(["task", "data", "data_root", "image_size", "model", "model_options", "epochs",
                                     "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay",
                                     "schedule", "step_size", "gamma", "augment", "label_smoothing", "seed",
                                     "device", "amp", "extra", "version", "bogus"]), JSON_VALUES, max_size=8),
    JSON_VALUES))
def test_train_config_from_random_json(raw):
    from app.engine.config import TrainConfig

    cfg = only_user_errors(TrainConfig.from_dict, raw)
    if isinstance(cfg, TrainConfig):     # what passes validation round-trips through config.json
        assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_train_config_load_random_file(data):
    from app.engine.config import TrainConfig

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "config.json"
        path.write_bytes(data)
        only_user_errors(TrainConfig.load, path)


# ---------------------------------------------------------------------------------------------- checkpoints
@FUZZ
@given(data=st.binary(max_size=400), keep_zip_head=st.booleans())
def test_load_checkpoint_random_bytes(data, keep_zip_head):
    from app.engine.checkpoint import load_checkpoint

    if keep_zip_head:                   # start like a real torch.save file, then garbage
        buf = io.BytesIO()
        torch.save({"model": {"w": torch.zeros(3)}}, buf)
        data = buf.getvalue()[: len(data)] + data
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "last.pt"
        path.write_bytes(data)
        only_user_errors(load_checkpoint, path)


META_VALUES = st.one_of(st.none(), st.integers(-3, 70), st.text(max_size=4), st.just(float("nan")),
                        st.sampled_from(["cnn4", "softmax", "dcgan", "kp-cnn4", "classify", "gan", "keypoints",
                                         "last", "weights"]),
                        st.lists(st.integers(-1, 32), max_size=4), st.just({}), st.just({"bogus": 1}),
                        st.just(["a", "b"]), st.just([1, 28, 28]), st.just([0.5]))
META = st.dictionaries(st.sampled_from(["task", "model", "model_options", "input_shape", "classes", "mean",
                                        "std", "input_size", "num_points", "latent_dim", "image_shape"]),
                       META_VALUES, max_size=11)


@FUZZ
@given(meta=META, kind=st.sampled_from([None, "last", "weights"]), with_task=st.booleans(),
       weights=st.sampled_from(["none", "empty", "tensor", "text"]))
def test_model_loaders_on_random_but_safe_checkpoints(meta, kind, with_task, weights):
    """A checkpoint that loads safely (only tensors and plain data) but describes nonsense."""
    from app.engine.checkpoint import save_checkpoint
    from app.engine.gan import load_generator
    from app.engine.keypoints import load_keypoint_model
    from app.engine.predict import load_classifier

    state = {"none": None, "empty": {}, "tensor": {"w": torch.zeros(2)}, "text": {"w": "x"}}[weights]
    obj: dict = {"meta": meta, "model": state}
    if kind:
        obj["kind"] = kind
    if with_task:
        obj["task"] = {"model": state, "meta": meta} if kind == "last" else "nonsense"
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "best.pt"
        save_checkpoint(obj, path)
        for loader in (load_classifier, load_keypoint_model, load_generator):
            only_user_errors(loader, path)


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["task", "epoch", "step", "best", "rng", "scaler", "batch_in_epoch"]),
                              st.one_of(META_VALUES, st.just({"torch": [1]}), st.just({"python": [1, 2]})),
                              max_size=7),
       real_task=st.booleans())
def test_resume_from_random_but_safe_checkpoint(fields, real_task):
    from app.engine.checkpoint import save_checkpoint
    from app.engine.classification import ClassificationTask
    from app.engine.trainer import Trainer

    from helpers import tiny_dataset

    ds = tiny_dataset(n_train=8, n_test=4, size=8)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "last.pt"
        task = ClassificationTask(ds, "softmax", batch_size=8, epochs=1, schedule="none", augment=False)
        # a file that passes the format check: the right format tag and (sometimes) a real task state
        ckpt = {"format": "visiondesk-checkpoint-1", "task": {}, **fields}
        if real_task:
            donor = ClassificationTask(ds, "softmax", batch_size=8, epochs=1, schedule="none", augment=False)
            donor.setup(Trainer(donor, epochs=1, device="cpu"))
            ckpt["task"] = donor.state_dict()
        save_checkpoint(ckpt, path)
        tr = Trainer(task, epochs=1, device="cpu")
        try:
            tr.fit(resume_from=path)
        except UserError:
            pass


# ---------------------------------------------------------------------------------------------- CIFAR batches
PICKLE_VALUES = st.one_of(st.none(), st.integers(-2, 12), st.text(max_size=3), st.binary(max_size=4),
                          st.lists(st.one_of(st.integers(-1, 11), st.text(max_size=2)), max_size=4),
                          st.builds(lambda n, w: np.zeros((n, w), np.uint8), st.integers(0, 3),
                                    st.sampled_from([3072, 5])),
                          st.just(np.zeros(3, np.float32)))


CIFAR_DATA = st.builds(lambda n, w, kind: np.zeros((n, w), kind), st.integers(0, 3), st.sampled_from([3072, 5]),
                       st.sampled_from(["uint8", "float32"]))


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200),
                     st.dictionaries(st.sampled_from([b"data", b"labels", "data", "labels", "fine_labels"]),
                                     PICKLE_VALUES, max_size=3),
                     st.fixed_dictionaries({b"data": CIFAR_DATA, b"labels": PICKLE_VALUES}),
                     PICKLE_VALUES))
def test_cifar_batch_reader_random(raw):
    from app.data.builtin import _cifar_batch

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "data_batch_1"
        path.write_bytes(raw if isinstance(raw, bytes) else pickle.dumps(raw, protocol=2))
        out = only_user_errors(_cifar_batch, path)
        if isinstance(out, tuple):
            data, labels = out
            assert data.shape[1] == 3072 and len(labels) == len(data)



# ---------------------------------------------------------------------------------------------- numeric options
# (command, option) pairs: the command fails after the option check on a missing file, so a value that
# passes costs nothing; the property: exit status 2, one line, and an out-of-range value is named
OPTION_COMMANDS = [
    (["train", "--data", "folder", "--data-root", "/nonexistent/visiondesk"], o)
    for o in ("--epochs", "--batch-size", "--lr", "--momentum", "--weight-decay", "--label-smoothing", "--seed",
              "--image-size")
] + [(["gan", "generate", "/nonexistent/g.pt", "--out", "/nonexistent/x.png"], o)
     for o in ("--n", "--nrow", "--scale", "--seed")] + [
    (["gan", "score", "/nonexistent/g.pt"], "--samples"),
    (["gan", "train", "--data", "folder", "--data-root", "/nonexistent/visiondesk"], "--beta1"),
    (["keypoints", "train", "--data", "/nonexistent/faces.npz", "--model", "kp-cnn4"], "--beta"),
    (["keypoints", "video", "/nonexistent/face.mp4"], "--threads"),
    (["keypoints", "video", "/nonexistent/face.mp4"], "--max-frames"),
    (["summary", "--model", "no-such-model"], "--classes"),
]
NUMBERS = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(["nan", "-inf", "1e400", "0x10", "", " ", "½", "1_000", "--"]))


@FUZZ
@given(pick=st.sampled_from(OPTION_COMMANDS), value=NUMBERS)
def test_every_numeric_option_is_checked_in_one_line(pick, value, capsys):
    from app.cli import main
    from app.core.options import RANGES, check_value

    command, option = pick
    text = str(value)
    try:
        rc = main([*command, f"{option}={text}"])
    except SystemExit as exc:                        # argparse's own refusal (not a number at all)
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    name = option[2:].replace("-", "_")
    try:
        number = (int if RANGES[name].whole else float)(text)
    except (ValueError, OverflowError):
        return                                       # argparse's own one line
    try:
        check_value(name, number)
    except UserError:
        assert option in err, err                    # refused by the one check, naming the option and range


CKPT_FIELD_VALUES = st.one_of(
    st.none(), st.integers(-2**40, 2**40), st.floats(allow_nan=True), st.text(max_size=5),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=3), st.floats(allow_nan=True)), max_size=5),
    st.just(["a"] * 200_001), st.just([[1, 2]]), st.just({"a": 1}), st.just([1, 10**9, 10**9]),
    st.just([0.5, "x", 0.5]), st.just([0.0]))


@FUZZ
@given(field=st.sampled_from(["classes", "mean", "std", "input_shape", "model", "model_options"]),
       value=CKPT_FIELD_VALUES)
def test_a_real_classifier_file_with_one_field_replaced(field, value, tmp_path_factory):
    """A checkpoint that a real training wrote, with one field of its description made hostile: loading,
    predicting and evaluating either work or refuse in plain words (checked after the safe load)."""
    from app.cli import main
    from app.engine.checkpoint import load_checkpoint, save_checkpoint
    from app.engine.predict import load_classifier

    src = _real_classifier(tmp_path_factory)
    ckpt = load_checkpoint(src)
    ckpt["meta"] = {**ckpt["meta"], field: value}
    path = tmp_path_factory.mktemp("hostile") / "best.pt"
    save_checkpoint(ckpt, path)
    clf = only_user_errors(load_classifier, path)
    if not isinstance(clf, UserError):
        only_user_errors(clf.top_k, np.zeros((8, 8), np.uint8))
    assert main(["export", str(path), "--torchscript", str(path.with_suffix(".ts"))]) in (0, 2)


_REAL: dict = {}


def _real_classifier(factory) -> Path:
    if "path" not in _REAL:
        from app.engine.build import make_trainer
        from app.engine.config import TrainConfig

        from helpers import tiny_dataset

        run = factory.mktemp("real") / "run"
        cfg = TrainConfig(data="tiny", model="softmax", epochs=1, batch_size=8, schedule="none", augment=False,
                          device="cpu")
        make_trainer(cfg, out=run, dataset=tiny_dataset(n_train=16, n_test=8, size=8)).fit()
        _REAL["path"] = run / "best.pt"
    return _REAL["path"]
