"""Bad input, each tried once: the person gets a plain message (or a 'skipped' line), never a crash.

Image folders (damaged, empty, fake, huge-declared, exotic pixel formats, odd names, no permission),
IDX files through the same entry point the app uses, keypoint CSVs, and hand-edited config.json
files through the CLI (exit status 2, one line on stderr).

Unreadable permissions: the tests run as root in CI, where ``chmod 000`` does not stop reads, so
they simulate the refusal by making ``PIL.Image.open`` / ``os.scandir`` raise ``PermissionError``
for the chosen path (and additionally use a real ``chmod 000`` when not running as root).
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.cli import main
from app.data import load_dataset
from app.data import folder as folder_mod
from app.data.folder import clear_cache, load_folder
from app.data.idx import write_idx
from app.data.keypoints import load_keypoints
from app.core.errors import DataError, UserError

from helpers import separable_images


# ---------------------------------------------------------------------------------------------- helpers
def _rgb(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 50000, height: int = 50000) -> bytes:
    """A valid PNG header that declares width x height pixels (2.5 gigapixels), with almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


def _encoded(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


LONG_NAME = "a-very-long-file-name-" + "x" * 200 + ".png"     # 226 bytes: near the 255-byte limit
NON_ASCII = "chat_été_猫_Ünïcödé.png"
NON_UTF8 = b"caf\xe9-latin1.png"                             # not valid UTF-8: shown with U+FFFD
BAD_NON_UTF8 = b"vide-\xe9.jpg"


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """A folder with every kind of bad and odd file; returns (root, loaded data set)."""
    root = tmp_path_factory.mktemp("messy") / "pictures"
    cats, dogs = root / "cats", root / "dogs"
    cats.mkdir(parents=True)
    dogs.mkdir()
    for i in range(3):
        _rgb(20, 20, i).save(cats / f"ok{i}.png")
        _rgb(20, 20, 10 + i).save(dogs / f"ok{i}.jpg")
    jpeg = _encoded(_rgb(40, 40, 1), "JPEG")
    png = _encoded(_rgb(40, 40, 2), "PNG")
    (cats / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (cats / "truncated.png").write_bytes(png[: len(png) // 2])
    corrupt = bytearray(png)
    corrupt[60:90] = b"\x00" * 30                      # inside the compressed pixel data
    (cats / "corrupt.png").write_bytes(bytes(corrupt))
    (cats / "empty.jpg").write_bytes(b"")
    (cats / "letter.png").write_text("Dear reader, this is not a picture.")
    (cats / "notes.txt").write_text("not an image extension either")
    (dogs / "bomb.png").write_bytes(bomb_png())
    # odd but valid pictures: all kept
    Image.fromarray(np.random.default_rng(3).integers(0, 65535, (20, 20)).astype(np.uint16)).save(dogs / "deep16.png")
    _rgb(20, 20, 4).convert("P", palette=Image.Palette.ADAPTIVE).save(dogs / "palette.png")
    _rgb(20, 20, 5).convert("CMYK").save(dogs / "cmyk.jpg")
    _rgb(3000, 20, 6).save(dogs / "panorama.png")
    _rgb(2, 3, 7).save(dogs / "tiny.png")
    (dogs / "nested" / "deeper").mkdir(parents=True)
    _rgb(20, 20, 8).save(dogs / "nested" / "deeper" / "inner.png")
    _rgb(20, 20, 9).save(dogs / NON_ASCII)
    _rgb(20, 20, 10).save(dogs / LONG_NAME)
    with open(os.path.join(os.fsencode(dogs), NON_UTF8), "wb") as f:
        f.write(_encoded(_rgb(20, 20, 11), "PNG"))
    with open(os.path.join(os.fsencode(cats), BAD_NON_UTF8), "wb"):
        pass                                           # empty, so it is listed with its odd name
    (root / "empty_class").mkdir()
    clear_cache()
    return root, load_folder(root)


def test_damaged_empty_fake_and_bomb_files_are_skipped_and_listed(messy):
    _root, ds = messy
    skipped = {line.split(":", 1)[0]: line.split(":", 1)[1] for line in ds.skipped}
    assert "damaged or cut-short" in skipped["cats/truncated.jpg"]
    assert "damaged or cut-short" in skipped["cats/truncated.png"]
    assert "cannot be read" in skipped["cats/corrupt.png"]
    assert "empty file (0 bytes)" in skipped["cats/empty.jpg"]
    assert "not an image" in skipped["cats/letter.png"]
    assert "not an image file (.txt)" in skipped["cats/notes.txt"]
    assert "too large (possible decompression bomb)" in skipped["dogs/bomb.png"]
    assert "empty file (0 bytes)" in skipped["cats/vide-\ufffd.jpg"]
    assert len(ds.skipped) == 8
    assert any("8 file(s) could not be used" in n for n in ds.notes)


def test_odd_but_valid_pictures_are_all_kept(messy):
    _root, ds = messy
    # 3 cats + 3 dogs + 16-bit, palette, CMYK, panorama, tiny, nested, non-ASCII, long, non-UTF-8 name
    assert len(ds.train) + len(ds.test) == 3 + 3 + 9
    assert ds.classes == ["cats", "dogs"]          # the empty class folder is left out ...
    assert any("empty_class" in n for n in ds.notes)  # ... and said so
    assert ds.channels == 3 and ds.size == (64, 64)   # wildly different sizes: one common size
    assert any("resized to 64x64" in n for n in ds.notes)
    assert ds.train.images.dtype == torch.uint8 and int(ds.train.images.max()) > 0


def test_nothing_but_bad_files_or_one_class_or_empty_classes_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad"
    for c in ("a", "b"):
        (bad / c).mkdir(parents=True)
        (bad / c / "x.jpg").write_bytes(b"")
        (bad / c / "y.png").write_bytes(bomb_png())
    with pytest.raises(DataError, match=r"No readable image .*4 files could not be used"):
        load_folder(bad)

    one = tmp_path / "one"
    (one / "only").mkdir(parents=True)
    for i in range(3):
        _rgb(8, 8, i).save(one / "only" / f"{i}.png")
    with pytest.raises(DataError, match=r"Only one class \(only\).*at least two classes"):
        load_folder(one)

    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    with pytest.raises(DataError, match="are empty"):
        load_folder(empty)

    flat = tmp_path / "flat"
    flat.mkdir()
    _rgb(8, 8).save(flat / "loose.png")
    with pytest.raises(DataError, match=r"No class sub-folders .*1 images lie directly in it"):
        load_folder(flat)


def _two_classes(root: Path, n: int = 3) -> None:
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(n):
            _rgb(8, 8, i).save(root / c / f"{i}.png")


def test_unreadable_file_is_skipped(tmp_path, monkeypatch):
    root = tmp_path / "perm"
    _two_classes(root)
    locked = root / "a" / "1.png"
    real_open = os.open

    def refuse(fp, *args, **kwargs):
        if str(fp) == str(locked):
            raise PermissionError(13, "Permission denied", str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)  # as root, chmod 000 would not stop the read
    clear_cache()
    ds = load_folder(root)
    assert len(ds.train) + len(ds.test) == 5
    assert ds.skipped == ["a/1.png: cannot be read ([Errno 13] Permission denied: '%s')" % locked]


def test_unreadable_folders(tmp_path, monkeypatch):
    root = tmp_path / "perm"
    _two_classes(root)
    (root / "b" / "sub").mkdir()
    _rgb(8, 8).save(root / "b" / "sub" / "x.png")
    real_scandir = os.scandir
    blocked = {str(root / "b" / "sub")}

    def scandir(path="."):
        if str(path) in blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(folder_mod.os, "scandir", scandir)
    clear_cache()
    ds = load_folder(root)                       # an unreadable sub-folder is listed, not silently lost
    assert "b/sub: cannot be read (no permission or vanished)" in ds.skipped
    assert len(ds.train) + len(ds.test) == 6

    blocked.add(str(root))                       # the chosen folder itself
    clear_cache()
    with pytest.raises(DataError, match="No permission to read the folder"):
        load_folder(root)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_real_chmod_000_file_is_skipped(tmp_path):
    root = tmp_path / "perm"
    _two_classes(root)
    (root / "a" / "0.png").chmod(0)
    try:
        clear_cache()
        ds = load_folder(root)
        assert any(s.startswith("a/0.png: cannot be read") for s in ds.skipped)
    finally:
        (root / "a" / "0.png").chmod(0o644)


def test_names_are_shown_readably(messy):
    root, ds = messy
    # the long and non-ASCII names decode; the non-UTF-8 name is shown with a replacement character
    names = {p.name for p in (root / "dogs").iterdir()}
    assert LONG_NAME in names and NON_ASCII in names
    text = "\n".join(ds.skipped + ds.notes + ds.classes)
    assert text.encode("utf-8")                  # every message can be shown (no lone surrogates)


# ---------------------------------------------------------------------------------------------- IDX
def _mnist_root(root: Path) -> None:
    root.mkdir(parents=True)
    xtr, ytr = separable_images(40, 10, 28, 1, seed=0)
    xte, yte = separable_images(20, 10, 28, 1, seed=1)
    write_idx(root / "train-images-idx3-ubyte", xtr[:, 0].numpy())
    write_idx(root / "train-labels-idx1-ubyte", ytr.numpy().astype(np.uint8))
    write_idx(root / "t10k-images-idx3-ubyte", xte[:, 0].numpy())
    write_idx(root / "t10k-labels-idx1-ubyte", yte.numpy().astype(np.uint8))


def _wrong_magic(p: Path) -> None:
    p.write_bytes(b"\x12\x34\x08\x03" + p.read_bytes()[4:])


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _too_long(p: Path) -> None:
    p.write_bytes(p.read_bytes() + b"\x00" * 100)


def _header_lies(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[4:8] = struct.pack(">I", 41)            # 41 images declared, 40 stored
    p.write_bytes(bytes(data))


def _labels_mismatch(root: Path) -> None:
    write_idx(root / "train-labels-idx1-ubyte", np.zeros(39, np.uint8))


@pytest.mark.parametrize("damage, words", [
    (_wrong_magic, "wrong magic number"),
    (_truncate, "truncated"),
    (_too_long, "header/size mismatch"),
    (_header_lies, "truncated"),
    (None, "do not belong together"),
])
def test_damaged_idx_files_name_the_file_and_what_is_wrong(tmp_path, capsys, damage, words):
    root = tmp_path / "mnist"
    _mnist_root(root)
    if damage is None:
        _labels_mismatch(root)
    else:
        damage(root / "train-images-idx3-ubyte")
    with pytest.raises(DataError, match=words):
        load_dataset("mnist", root)
    rc = main(["train", "--data", "mnist", "--data-root", str(root), "--model", "softmax", "--epochs", "1",
               "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert words in err and "train-" in err


# ---------------------------------------------------------------------------------------------- keypoint CSVs
@pytest.fixture
def face_pictures(tmp_path):
    d = tmp_path / "faces"
    d.mkdir()
    for i in range(6):
        _rgb(80, 60, i).save(d / f"f{i}.jpg")
    return d


def _kp_csv(d: Path, rows: list[str], header: str | None = None) -> Path:
    header = header or "image_name," + ",".join(f"p{k}_x,p{k}_y" for k in range(3))
    path = d / "points.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _row(name: str, pts) -> str:
    return name + "," + ",".join(str(v) for xy in pts for v in xy)


GOOD = [(20, 20), (40, 25), (30, 40)]


def test_keypoint_csv_nan_outside_and_missing_images(face_pictures):
    nan = float("nan")
    rows = [_row(f"f{i}.jpg", GOOD) for i in range(4)]
    rows.append(_row("f4.jpg", [(nan, nan)] * 3))                 # no point at all
    rows.append(_row("f5.jpg", [(20, 20), (500, -300), (30, nan)]))  # one far outside, one half-missing
    rows.append(_row("missing.jpg", GOOD))                         # no such picture
    rows.append("f0.jpg,1,2")                                      # too few values
    ds = load_keypoints(_kp_csv(face_pictures, rows), size=32)
    assert len(ds.train) + len(ds.test) == 5
    assert "f4.jpg: no keypoints in the CSV" in ds.skipped
    assert any(s.startswith("missing.jpg: no such image") for s in ds.skipped)
    assert any("3 values instead of 7" in s for s in ds.skipped)
    assert any("1 point(s) in points.csv lay outside their picture" in n for n in ds.notes)
    pts = ds.train.points if "f5.jpg" in ds.train.names else ds.test.points
    names = ds.train.names if "f5.jpg" in ds.train.names else ds.test.names
    p5 = pts[names.index("f5.jpg")]
    assert not p5[0].isnan().any() and p5[1].isnan().all() and p5[2].isnan().all()
    finite = pts[~pts.isnan()]
    assert float(finite.min()) >= -0.5 and float(finite.max()) <= 31.5


@pytest.mark.parametrize("header, rows, words", [
    ("image_name,p0_x", ["f0.jpg,3"], "an image name column and then x, y pairs"),
    ("image_name,a,b,c", ["f0.jpg,1,2,3"], "it has 4 columns"),
    (None, [], "has a header but no rows"),
    (None, [_row(f"nope{i}.jpg", GOOD) for i in range(3)], "None of the images named"),
    ("p0_x,p1_x,Image", ["1,2,3 4"], "missing: p0_y, p1_y"),
    ("p0_x,p0_y,Image", ["1,2,not numbers at all", "3,4,5 6 7"], "no usable rows"),
])
def test_keypoint_csv_missing_columns_and_unusable_rows(face_pictures, header, rows, words):
    path = _kp_csv(face_pictures, rows, header)
    with pytest.raises(DataError, match=words):
        load_keypoints(path)


def test_keypoint_csv_naming_a_decompression_bomb_skips_it(face_pictures):
    (face_pictures / "bomb.png").write_bytes(bomb_png())
    rows = [_row(f"f{i}.jpg", GOOD) for i in range(4)] + [_row("bomb.png", GOOD)]
    ds = load_keypoints(_kp_csv(face_pictures, rows), size=32)
    assert len(ds.train) + len(ds.test) == 4
    assert any(s.startswith("bomb.png: not a readable image") for s in ds.skipped)


def test_keypoint_npz_that_is_empty_or_holds_text(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_keypoints(tmp_path / "empty.npz")
    np.savez(tmp_path / "text.npz", images=np.array([["a"]]), keypoints=np.zeros((1, 3, 2)))
    with pytest.raises(DataError, match="must hold numbers"):
        load_keypoints(tmp_path / "text.npz")


# ---------------------------------------------------------------------------------------------- config.json
@pytest.mark.parametrize("text, words", [
    ('{"batch_size": "32"}', "'batch_size' must be a whole number"),
    ('{"augment": "yes"}', "'augment' must be true or false"),
    ('{"model_options": [1, 2]}', "'model_options' must be an object"),
    ('{"model": null}', "'model' must be text"),
    ('{"epochs": Infinity}', "'epochs' must be a whole number"),
    ('{"lr": NaN}', "learning rate must be a positive number"),
    ('{"epochz": 3}', "unknown setting(s): epochz"),
    ('{"epochs": 1,,}', "is not valid JSON"),
    ("[1, 2, 3]", "must be a JSON object"),
    ('{"model": "resnet9000", "epochs": 1}', "There is no model called 'resnet9000'"),
    ('{"model": "dcgan", "epochs": 1}', "'dcgan' is a GAN model"),
    ('{"task": "segment", "epochs": 1}', "Unknown task 'segment'"),
    ('{"data": "imagenet", "epochs": 1}', "Unknown data set 'imagenet'"),
    ('{"model": "cnn4", "model_options": {"dropout": 7}, "epochs": 1}', "dropout of cnn4 must be between 0 and 1"),
    ('{"model": "softmax", "model_options": {"wings": 3}, "epochs": 1}', "softmax has no option 'wings'"),
    ('{"task": "gan", "model": "dcgan", "extra": {"score_every": "often"}, "epochs": 1}',
     "must be whole numbers"),
    ('{"task": "keypoints", "model": "kp-cnn4", "data_root": "/nonexistent/faces", "epochs": 1}',
     "There is no file or folder /nonexistent/faces"),
    (b"\xff\xfe\x00\x80 binary", "is not valid JSON"),
])
def test_hand_edited_config_json_gives_one_line_and_exit_2(tmp_path, capsys, text, words):
    cfg = tmp_path / "config.json"
    if isinstance(text, bytes):
        cfg.write_bytes(text)
    else:
        cfg.write_text(text)
    rc = main(["train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert words in lines[0]
    assert not (tmp_path / "run" / "last.pt").exists()


def test_config_json_with_wrong_extra_types_is_a_user_error():
    from app.engine.build import build_task
    from app.engine.config import TrainConfig

    from helpers import tiny_dataset

    with pytest.raises(UserError, match="extra.score_every"):
        build_task(TrainConfig(task="gan", model="dcgan", extra={"score_every": "often"}), dataset=tiny_dataset())
