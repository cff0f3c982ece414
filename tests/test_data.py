"""The data layer: IDX files, built-in data sets, image folders, the embedded sample, device batches.

Every file these tests read is written by the tests themselves (tmp_path), except the sample that
ships in resources/.
"""
from __future__ import annotations

import gzip
import os
import pickle
import time
from urllib.error import URLError

import numpy as np
import pytest
import torch
from PIL import Image

import app.data as data
import app.data.builtin as builtin
import app.data.folder as folder
from app.data import (Augment, Cancelled, DeviceLoader, ImageDataset, ImageSplit, default_augment,
                      load_builtin, load_dataset, load_folder, load_sample, read_idx, subset_class,
                      write_idx)
from app.data.builtin import DatasetNotFound
from app.core.errors import DataError, OfflineError


@pytest.fixture(autouse=True)
def _fresh_folder_cache():
    folder.clear_cache()
    yield
    folder.clear_cache()


# --------------------------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("array", [
    np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
    np.array([-3, 0, 7, 2**30], dtype=np.int32),
    np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
    np.array([[1, -2], [300, -32768]], dtype=np.int16),
    np.zeros((0, 28, 28), dtype=np.uint8),
])
def test_idx_round_trip(tmp_path, compress, array):
    # The name says the opposite of the content: detection must use the magic bytes.
    path = tmp_path / ("plain.idx" if compress else "looks-compressed.gz")
    write_idx(path, array, gzip=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=") and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_idx_gzip_is_deterministic(tmp_path):
    a = np.arange(100, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", a, gzip=True)
    write_idx(tmp_path / "b.gz", a, gzip=True)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_idx_header_is_big_endian_mnist_layout(tmp_path):
    write_idx(tmp_path / "x", np.zeros((60, 28, 28), dtype=np.uint8))
    assert (tmp_path / "x").read_bytes()[:16] == bytes.fromhex("00000803" "0000003c" "0000001c" "0000001c")


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("content, words", [
    (b"\x12\x34\x08\x03" + bytes(12), "magic"),
    (b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + bytes(3), "type"),
    (b"\x00\x00\x08\x00", "dimensions"),
    (b"\x00\x00\x08\x09" + bytes(36), "dimensions"),
    (b"\x00\x00", "too short"),
    (b"\x00\x00\x08\x03" + (10).to_bytes(4, "big"), "header is cut short"),
    (_idx_bytes(np.zeros((5, 4, 4)))[:-7], "truncated"),
    (_idx_bytes(np.zeros((5, 4, 4))) + b"\x00\x01", "mismatch"),
    (b"\x00\x00\x08\x03" + (4_000_000_000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2, "plausible"),
])
def test_idx_rejects_bad_files(tmp_path, compress, content, words):
    path = tmp_path / "bad-idx3-ubyte"
    if compress:
        content = gzip.compress(content, mtime=0)
    path.write_bytes(content)
    with pytest.raises(DataError) as e:
        read_idx(path)
    message = str(e.value)
    assert str(path) in message and words in message


def test_idx_damaged_gzip_and_missing_file(tmp_path):
    good = gzip.compress(_idx_bytes(np.arange(256, dtype=np.uint8).reshape(16, 16)), mtime=0)
    path = tmp_path / "cut.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="gzip data is damaged or cut short"):
        read_idx(path)
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nope")


def test_write_idx_refuses_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))


# ----------------------------------------------------------------------------------- built-in sets

def _tiny_mnist(directory, n_train=50, n_test=20, compress=True, seed=0):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) * 3 % 10).astype(np.uint8),
    }
    for stem, arr in arrays.items():
        write_idx(directory / (stem + (".gz" if compress else "")), arr, gzip=compress)
    return arrays


def test_builtin_reads_idx_files_directly_in_root(tmp_path):
    arrays = _tiny_mnist(tmp_path / "fm", compress=True)
    ds = load_builtin("fashion-mnist", tmp_path / "fm")
    assert isinstance(ds, ImageDataset) and ds.name == "fashion-mnist"
    assert ds.train.images.shape == (50, 1, 28, 28) and ds.train.images.dtype == torch.uint8
    assert ds.test.images.shape == (20, 1, 28, 28)
    assert ds.train.labels.dtype == torch.int64
    np.testing.assert_array_equal(ds.train.images[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.test.labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot" and ds.num_classes == 10
    train = arrays["train-images-idx3-ubyte"] / 255.0
    assert ds.mean[0] == pytest.approx(train.mean(), abs=1e-9)
    assert ds.std[0] == pytest.approx(train.std(), abs=1e-9)
    assert ds.source == str(tmp_path / "fm")


def test_builtin_reads_torchvision_layout(tmp_path):
    arrays = _tiny_mnist(tmp_path / "MNIST" / "raw", compress=False)
    progress = []
    ds = load_builtin("mnist", tmp_path, progress=lambda d, t: progress.append((d, t)))
    assert ds.classes == [str(i) for i in range(10)]
    np.testing.assert_array_equal(ds.train.labels.numpy(), arrays["train-labels-idx1-ubyte"])
    assert progress[0] == (0, 4) and progress[-1] == (4, 4)
    with pytest.raises(Cancelled):
        load_builtin("mnist", tmp_path, cancel=lambda: True)


def test_builtin_missing_names_root_and_files(tmp_path):
    with pytest.raises(DatasetNotFound) as e:
        load_builtin("mnist", tmp_path)
    message = str(e.value)
    assert message.startswith(f"MNIST not found in {tmp_path}")
    for stem in builtin.IDX_FILES:
        assert stem in message
    assert "Download" in message and "\n" not in message
    with pytest.raises(DataError, match="CIFAR-10 not found.*data_batch_1.*test_batch"):
        load_dataset("cifar10", tmp_path)


def test_builtin_mismatched_files_are_reported(tmp_path):
    arrays = _tiny_mnist(tmp_path, compress=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", arrays["t10k-labels-idx1-ubyte"][:5])
    with pytest.raises(DataError, match="do not belong together"):
        load_builtin("mnist", tmp_path)


def test_builtin_download_offline_gives_one_clear_message(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    calls = []

    class Offline:
        def __init__(self, root, train=True, download=False):
            calls.append((root, train, download))
            raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvd, "FashionMNIST", Offline)
    with pytest.raises(OfflineError) as e:
        load_builtin("fashion-mnist", tmp_path / "dl", download=True)
    assert calls == [(str(tmp_path / "dl"), True, True)]
    message = str(e.value)
    assert "Could not download Fashion-MNIST" in message and str(tmp_path / "dl") in message
    assert "name resolution" in message and "\n" not in message


def test_builtin_download_uses_torchvision_then_reads_its_layout(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    class FakeMNIST:
        def __init__(self, root, train=True, download=False):
            assert download
            _tiny_mnist(tmp_path / "MNIST" / "raw", n_train=30, n_test=10, compress=False)

    monkeypatch.setattr(tvd, "MNIST", FakeMNIST)
    ds = load_dataset("mnist", tmp_path, download=True)
    assert (len(ds.train), len(ds.test)) == (30, 10)


def _cifar_batch(path, images, labels):
    entry = {"batch_label": "x", "labels": list(map(int, labels)),
             "data": images.reshape(len(images), -1), "filenames": ["f"] * len(labels)}
    path.write_bytes(pickle.dumps(entry, protocol=2))


def test_builtin_cifar10_batches(tmp_path):
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (5, 4, 3, 32, 32), dtype=np.uint8)
    for i in range(5):
        _cifar_batch(base / f"data_batch_{i + 1}", train[i], [i, 9 - i, 1, 2])
    test = rng.integers(0, 256, (6, 3, 32, 32), dtype=np.uint8)
    _cifar_batch(base / "test_batch", test, [0, 1, 2, 3, 4, 5])
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": builtin.CIFAR10_CLASSES}, protocol=2))
    ds = load_dataset("cifar10", tmp_path)
    assert ds.train.images.shape == (20, 3, 32, 32) and ds.test.images.shape == (6, 3, 32, 32)
    np.testing.assert_array_equal(ds.train.images.numpy(), train.reshape(20, 3, 32, 32))
    assert ds.train.labels[:4].tolist() == [0, 9, 1, 2]
    assert ds.classes == builtin.CIFAR10_CLASSES and len(ds.mean) == 3
    assert ds.input_shape == (3, 32, 32)


def test_cifar_loader_never_runs_code_from_a_pickle(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (tmp_path / name).write_bytes(pickle.dumps({"data": Evil(), "labels": [0]}, protocol=2))
    with pytest.raises(DataError, match="not a valid CIFAR-10 batch"):
        load_builtin("cifar10", tmp_path)
    assert not marker.exists()


def test_load_dataset_resizes_and_finds_default_root(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONDESK_HOME", str(tmp_path / "home"))
    assert data.default_data_root() == tmp_path / "home" / "data"
    _tiny_mnist(tmp_path / "home" / "data" / "FashionMNIST" / "raw", compress=True)
    ds = load_dataset("Fashion_MNIST", size=32, channels=3)
    assert ds.train.images.shape == (50, 3, 32, 32) and ds.train.images.dtype == torch.uint8
    assert torch.equal(ds.train.images[:, 0], ds.train.images[:, 2])
    with pytest.raises(DataError, match="Unknown data set"):
        load_dataset("imagenet")
    assert set(data.DATASETS) == {"mnist", "fashion-mnist", "cifar10", "fashion-mnist-sample", "folder"}


# ------------------------------------------------------------------------------------------ sample

def test_embedded_fashion_sample():
    ds = load_sample()
    assert ds.name == "fashion-mnist-sample" and ds.num_classes == 10
    assert ds.train.images.shape == (10_000, 1, 28, 28) and ds.test.images.shape == (2_000, 1, 28, 28)
    assert ds.train.images.dtype == torch.uint8 and ds.train.labels.dtype == torch.int64
    assert torch.bincount(ds.train.labels).tolist() == [1000] * 10
    assert torch.bincount(ds.test.labels).tolist() == [200] * 10
    assert ds.classes[0] == "T-shirt/top" and ds.classes[-1] == "Ankle boot"
    assert 0.2 < ds.mean[0] < 0.4 and 0.25 < ds.std[0] < 0.45
    assert load_dataset("fashion-mnist-sample").train.images.shape == ds.train.images.shape


# ------------------------------------------------------------------------------------------ folder

def _png(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)


def _grey(value, size=(20, 20)):
    return np.full(size, value, dtype=np.uint8)


@pytest.fixture
def mixed_folder(tmp_path):
    root = tmp_path / "images"
    # class "cats": grey PNG, RGBA PNG (fully transparent left half), palette PNG, JPEG, odd names
    _png(root / "cats" / "grey.png", _grey(10))
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[:, 10:] = (255, 0, 0, 255)
    _png(root / "cats" / "rgba.png", rgba, "RGBA")
    Image.fromarray(np.full((20, 20, 3), (0, 0, 200), dtype=np.uint8)).convert(
        "P", palette=Image.Palette.ADAPTIVE, colors=4).save(root / "cats" / "palette.png")
    Image.fromarray(np.full((30, 40, 3), 128, dtype=np.uint8)).save(root / "cats" / "photo.jpg", quality=95)
    _png(root / "cats" / "čaj – 日本語 ünïcødé.png", _grey(50))
    _png(root / "cats" / ("long-name-" * 20 + "é.png"), _grey(60))
    # class "dogs": good grey images plus every kind of bad file
    for i in range(4):
        _png(root / "dogs" / f"d{i}.png", _grey(200 + i))
    (root / "dogs" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (root / "dogs" / "zero.png").write_bytes(b"")
    (root / "dogs" / "fake.jpg").write_text("this is text, not a JPEG")
    (root / "dogs" / "notes.txt").write_text("hello")
    (root / "dogs" / ".DS_Store").write_bytes(b"\x00\x01")
    # an empty class folder
    (root / "empty").mkdir()
    return root


def test_folder_mixed_images_and_bad_files(mixed_folder):
    ds = load_folder(mixed_folder, test_fraction=0.25, seed=3)
    assert ds.name == "folder" and ds.classes == ["cats", "dogs"]
    assert ds.channels == 3 and ds.size == (64, 64)          # colour present, mixed sizes
    assert len(ds.train) + len(ds.test) == 10
    assert ds.train.images.dtype == torch.uint8 and ds.train.labels.dtype == torch.int64
    skipped = {s.split(":")[0]: s for s in ds.skipped}
    assert set(skipped) == {"dogs/corrupt.png", "dogs/zero.png", "dogs/fake.jpg", "dogs/notes.txt"}
    assert "empty file" in skipped["dogs/zero.png"] and "not an image" in skipped["dogs/fake.jpg"]
    assert any("empty" in n for n in ds.notes)               # the empty class folder was dropped
    assert any("resized to 64x64" in n for n in ds.notes)
    # stratified: one test image of each class at 25%
    assert torch.bincount(ds.test.labels, minlength=2).tolist() == [2, 1]
    assert ds.mean[0] > 0 and all(s > 0 for s in ds.std)


def test_folder_pixel_conversions(tmp_path):
    root = tmp_path / "px"
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[:, 4:] = (255, 0, 0, 255)                     # left half fully transparent
    _png(root / "a" / "rgba.png", rgba, "RGBA")
    Image.fromarray(np.full((8, 8, 3), (0, 0, 200), dtype=np.uint8)).convert(
        "P", palette=Image.Palette.ADAPTIVE, colors=2).save(root / "a" / "pal.png")
    (root / "b").mkdir()
    Image.fromarray(np.full((8, 8, 4), (255, 0, 0, 0), dtype=np.uint8), "CMYK").save(root / "b" / "cmyk.jpg")
    _png(root / "b" / "grey.png", _grey(77, (8, 8)))
    ds = load_folder(root, test_fraction=0.0)
    assert ds.size == (8, 8) and ds.channels == 3 and len(ds.test) == 0
    by_label = {}
    for img, lbl in zip(ds.train.images, ds.train.labels):
        by_label.setdefault(int(lbl), []).append(img)
    rgba_img, pal_img = by_label[0][1], by_label[0][0]        # sorted names: pal.png, rgba.png
    assert rgba_img[:, :, :4].tolist() == torch.full((3, 8, 4), 255, dtype=torch.uint8).tolist()  # white
    assert rgba_img[:, 0, 5].tolist() == [255, 0, 0]
    assert pal_img[:, 0, 0].tolist() == [0, 0, 200]
    cmyk_img, grey_img = by_label[1][0], by_label[1][1]
    assert grey_img[:, 0, 0].tolist() == [77, 77, 77]
    assert cmyk_img[0].float().mean() < 40 and cmyk_img[1].float().mean() > 200   # cyan: R low, G high


def test_folder_all_grey_same_size_and_16_bit(tmp_path):
    root = tmp_path / "g"
    for i in range(3):
        _png(root / "x" / f"{i}.png", _grey(i * 10, (12, 10)))
    deep = np.full((12, 10), 32896, dtype=np.uint16)           # 16-bit: 32896 / 257 = 128
    (root / "y").mkdir()
    Image.fromarray(deep).save(root / "y" / "deep.png")
    Image.fromarray(np.full((12, 10), 1, dtype=np.uint8) * 255).convert("1").save(root / "y" / "bw.png")
    _png(root / "y" / "g.png", _grey(90, (12, 10)))
    ds = load_folder(root, test_fraction=0.0)
    assert ds.channels == 1 and ds.size == (12, 10)              # all grey, all 12 high x 10 wide
    assert any("1 channel" in n for n in ds.notes)
    y = ds.train.images[ds.train.labels == 1]
    assert sorted(int(img[0, 0, 0]) for img in y) == [90, 128, 255]
    forced = load_folder(root, size=(6, 5), channels=3, test_fraction=0.0)
    assert forced.input_shape == (3, 6, 5)


def test_folder_keeps_large_common_size_out_and_crops_centre(tmp_path):
    root = tmp_path / "c"
    wide = np.zeros((10, 30), dtype=np.uint8)
    wide[:, 10:20] = 255                                         # the centre third is white
    _png(root / "a" / "wide.png", wide)
    _png(root / "b" / "sq.png", _grey(0, (10, 10)))
    ds = load_folder(root, size=10, test_fraction=0.0)
    img = ds.train.images[ds.train.labels == 0][0, 0]
    assert img.float().mean() > 240                               # centre crop kept only white


def test_folder_train_test_subfolders(tmp_path):
    root = tmp_path / "split"
    for cls, n in (("b", 3), ("a", 2), ("c", 2)):
        for i in range(n):
            _png(root / "train" / cls / f"{i}.png", _grey(10 * i))
    for cls in ("a", "b", "d"):
        _png(root / "test" / cls / "0.png", _grey(5))
    (root / "notes").mkdir()
    ds = load_folder(root, test_fraction=0.5)
    assert ds.classes == ["a", "b", "c"]                          # d has no training images
    assert len(ds.train) == 7 and len(ds.test) == 2
    assert torch.bincount(ds.train.labels).tolist() == [2, 3, 2]
    assert sorted(ds.test.labels.tolist()) == [0, 1]
    notes = " ".join(ds.notes)
    assert "own folders" in notes and "d" in notes and "No test images for: c" in notes
    assert "ignored the other folder(s): notes" in notes


def test_folder_split_is_seeded_and_stratified(tmp_path):
    root = tmp_path / "s"
    for cls in ("a", "b"):
        for i in range(8):
            _png(root / cls / f"{i}.png", _grey(i * 20 + (cls == "b")))
    one = load_folder(root, test_fraction=0.25, seed=1)
    again = load_folder(root, test_fraction=0.25, seed=1)
    other = load_folder(root, test_fraction=0.25, seed=2)
    assert torch.bincount(one.test.labels).tolist() == [2, 2]
    assert torch.equal(one.test.images, again.test.images)
    assert not torch.equal(one.test.images, other.test.images)


@pytest.mark.parametrize("make, words", [
    (lambda r: None, "Folder not found"),
    (lambda r: (r.mkdir(), _png(r / "loose.png", _grey(1))), "own sub-folder"),
    (lambda r: (_png(r / "only" / "1.png", _grey(1)), _png(r / "only" / "2.png", _grey(2))), "Only one class"),
    (lambda r: ((r / "a").mkdir(parents=True), (r / "b").mkdir()), "are empty"),
    (lambda r: ((r / "a").mkdir(parents=True), (r / "a" / "x.png").write_bytes(b"nope"),
                (r / "b").mkdir(), (r / "b" / "y.jpg").write_bytes(b"")), "No readable image"),
])
def test_folder_errors_in_plain_words(tmp_path, make, words):
    root = tmp_path / "data"
    make(root)
    with pytest.raises(DataError, match=words):
        load_folder(root)


def test_folder_skips_oversized_images_and_survives_link_loops(tmp_path, monkeypatch):
    root = tmp_path / "big"
    _png(root / "a" / "small.png", _grey(1, (8, 8)))
    _png(root / "a" / "huge.png", _grey(2, (40, 40)))
    _png(root / "b" / "small.png", _grey(3, (8, 8)))
    (root / "b" / "loop").symlink_to(root / "b", target_is_directory=True)
    monkeypatch.setattr(folder, "MAX_PIXELS", 1000)
    ds = load_folder(root, test_fraction=0.0)
    assert ds.skipped == ["a/huge.png: image too large (possible decompression bomb)"]
    assert ds.size == (8, 8) and len(ds.train) == 2


def test_folder_decodes_once_then_uses_the_cache(mixed_folder, monkeypatch):
    calls = []
    real = folder._decode

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(folder, "_decode", counting)
    first = load_folder(mixed_folder)
    n = len(calls)
    assert n == 12                      # 6 cats, 4 dogs, and the corrupt.png and fake.jpg attempts
    second = load_folder(mixed_folder, test_fraction=0.5)   # another split: still no decoding
    assert len(calls) == n
    assert len(first.train) + len(first.test) == len(second.train) + len(second.test) == 10
    assert len(second.test) > len(first.test)
    _png(mixed_folder / "dogs" / "new.png", _grey(1))       # the folder changed: decode again
    load_folder(mixed_folder)
    assert len(calls) > n


def test_folder_progress_and_cancel(tmp_path):
    root = tmp_path / "p"
    for cls in ("a", "b"):
        for i in range(15):
            _png(root / cls / f"{i}.png", _grey(i))
    seen = []
    start = time.monotonic()
    load_folder(root, progress=lambda d, t: seen.append((d, t)))
    elapsed = time.monotonic() - start
    assert seen[0] == (0, 30) and seen[-1] == (30, 30)
    assert len(seen) <= 3 + 20 * elapsed + 1           # throttled to about 20 reports a second
    assert len(seen) < 30
    folder.clear_cache()
    asked = []

    def cancel():
        asked.append(1)
        return len(asked) > 5

    with pytest.raises(Cancelled):
        load_folder(root, cancel=cancel)
    assert load_folder(root).train.images.shape[0] == 24   # nothing half-done was cached


# ----------------------------------------------------------------------------------------- batches

def _split(n=10, c=3, h=6, w=5):
    images = torch.arange(n * c * h * w, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(n, c, h, w)
    return ImageSplit(images, torch.arange(n))


def test_device_loader_shapes_normalisation_and_epoch_coverage():
    split = _split()
    mean, std = (0.1, 0.5, 0.9), (0.2, 0.3, 0.4)
    loader = DeviceLoader(split, 4, "cpu", mean=mean, std=std, shuffle=True)
    assert len(loader) == 3 and loader.num_samples == 10
    g = torch.Generator().manual_seed(0)
    loader.set_generator(g)
    batches = list(loader)
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3, 6, 5), (4, 3, 6, 5), (2, 3, 6, 5)]
    seen = torch.cat([y for _, y in batches])
    assert sorted(seen.tolist()) == list(range(10))       # every sample exactly once
    for x, y in batches:
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        expected = (split.images[y].float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) \
            / torch.tensor(std).view(1, 3, 1, 1)
        torch.testing.assert_close(x, expected)
    assert len(DeviceLoader(split, 4, "cpu", mean=mean, std=std, drop_last=True)) == 2
    ordered = DeviceLoader(split, 4, "cpu", mean=(0.5,), std=(0.5,), shuffle=False)
    assert torch.cat([y for _, y in ordered]).tolist() == list(range(10))


def test_device_loader_order_follows_the_generator():
    split = _split(n=32)

    def order(seed, augment=None):
        loader = DeviceLoader(split, 8, "cpu", mean=(0.5,) * 3, std=(0.5,) * 3, augment=augment)
        loader.set_generator(torch.Generator().manual_seed(seed))
        return [(x, y) for x, y in loader]

    a, b, c = order(7), order(7), order(8)
    assert torch.equal(torch.cat([y for _, y in a]), torch.cat([y for _, y in b]))
    assert not torch.equal(torch.cat([y for _, y in a]), torch.cat([y for _, y in c]))
    aug = Augment(crop_padding=2, hflip=True)
    a, b = order(3, aug), order(3, aug)
    assert all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(a, b))


def _reference_augment(x, offsets, flips, p):
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    out = torch.empty_like(x)
    h, w = x.shape[2:]
    for i in range(x.shape[0]):
        oy, ox = (int(v) for v in offsets[i]) if offsets is not None else (0, 0)
        crop = padded[i, :, oy:oy + h, ox:ox + w]
        out[i] = crop.flip(2) if flips is not None and flips[i] else crop
    return out


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("aug", [Augment(2, False), Augment(0, True), Augment(3, True)])
def test_augment_matches_a_per_sample_reference(dtype, aug):
    x = torch.randint(1, 256, (6, 3, 7, 9)).to(dtype)
    g = torch.Generator().manual_seed(11)
    offsets, flips = aug.sample(6, g)
    out = aug.apply_params(x, offsets, flips)
    assert out.shape == x.shape and out.dtype == dtype
    p = aug.crop_padding
    assert torch.equal(out, _reference_augment(x, offsets, flips, p) if p else
                       torch.where(flips.view(-1, 1, 1, 1), x.flip(3), x))
    y = aug.apply(x, torch.Generator().manual_seed(11))
    assert torch.equal(y, out)                           # apply == sample + apply_params


def test_augment_identity_and_edges():
    x = torch.randint(0, 256, (4, 1, 5, 5), dtype=torch.uint8)
    assert torch.equal(Augment().apply(x, torch.Generator()), x)
    aug = Augment(crop_padding=2)
    centre = torch.full((4, 2), 2)
    assert torch.equal(aug.apply_params(x, centre, None), x)
    corner = aug.apply_params(x, torch.zeros(4, 2, dtype=torch.int64), None)
    assert corner[:, :, :2].eq(0).all() and corner[:, :, :, :2].eq(0).all()
    assert torch.equal(corner[:, :, 2:, 2:], x[:, :, :3, :3])
    flipped = Augment(hflip=True).apply_params(x, None, torch.tensor([True, False, True, False]))
    assert torch.equal(flipped[0], x[0].flip(2)) and torch.equal(flipped[1], x[1])


def _dataset(name, c, side):
    split = ImageSplit(torch.zeros(2, c, side, side, dtype=torch.uint8), torch.tensor([0, 1]))
    return ImageDataset(name, split, split, ["a", "b"], (0.5,) * c, (0.5,) * c)


def test_default_augment_and_subset_class():
    assert default_augment(_dataset("cifar10", 3, 32)) == Augment(4, True)
    assert default_augment(_dataset("mnist", 1, 28)) == Augment(2, False)
    assert default_augment(_dataset("fashion-mnist", 1, 28)) == Augment(2, True)
    split = ImageSplit(torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1), torch.tensor([0, 1, 2, 1, 1, 0]))
    ones = subset_class(split, 1)
    assert ones.labels.tolist() == [1, 1, 1] and ones.images.flatten().tolist() == [1, 3, 4]
    with pytest.raises(DataError):
        subset_class(split, 7)
