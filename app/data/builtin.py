"""MNIST, Fashion-MNIST and CIFAR-10 from a local folder, downloaded through torchvision when asked.

Accepted layouts under ``root``:

* the four IDX files directly in ``root`` (``train-images-idx3-ubyte[.gz]`` ...), or in
  ``root/mnist`` / ``root/fashion-mnist``;
* torchvision's layout: ``root/MNIST/raw/``, ``root/FashionMNIST/raw/``, ``root/cifar-10-batches-py/``;
* for CIFAR-10, the python batches (``data_batch_1`` ... ``test_batch``) directly in ``root``.

Downloading uses torchvision's own classes (``torchvision.datasets.MNIST(root, download=True)`` ...),
so files land in torchvision's layout. Parsing is ours: IDX via ``read_idx`` (one ``frombuffer``
per file) and the CIFAR batches through a restricted unpickler that can only rebuild numpy arrays
and plain containers, so a tampered file cannot run code.
"""
from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import numpy as np
import torch

from app.core.errors import DataError, OfflineError
from app.core.paths import default_data_root

from .base import ImageDataset, ImageSplit
from .common import CancelFn, Progress, ProgressFn, channel_stats
from .idx import read_idx

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILES = ("test_batch",)

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]


@dataclass(frozen=True)
class _Spec:
    title: str              # for messages
    tv_class: str           # torchvision.datasets class name
    subdirs: tuple[str, ...]  # where under root the files may be (in search order)
    classes: tuple[str, ...]
    kind: str               # "idx" or "cifar"


SPECS: dict[str, _Spec] = {
    "mnist": _Spec("MNIST", "MNIST", ("", "MNIST/raw", "mnist"), tuple(MNIST_CLASSES), "idx"),
    "fashion-mnist": _Spec("Fashion-MNIST", "FashionMNIST",
                           ("", "FashionMNIST/raw", "fashion-mnist"), tuple(FASHION_CLASSES), "idx"),
    "cifar10": _Spec("CIFAR-10", "CIFAR10", ("cifar-10-batches-py", ""), tuple(CIFAR10_CLASSES), "cifar"),
}


class DatasetNotFound(DataError):
    """A built-in data set is not in the folder (the GUI can offer to download it)."""

    def __init__(self, message: str, name: str, root: Path, expected: tuple[str, ...]) -> None:
        super().__init__(message)
        self.name = name
        self.root = root
        self.expected = expected


def _find_idx(directory: Path) -> list[Path] | None:
    """The four IDX files in ``directory`` (plain or .gz), or None if any is missing."""
    found = []
    for stem in IDX_FILES:
        for candidate in (directory / stem, directory / (stem + ".gz")):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            return None
    return found


def _find_cifar(directory: Path) -> list[Path] | None:
    files = [directory / f for f in CIFAR_TRAIN_FILES + CIFAR_TEST_FILES]
    return files if all(f.is_file() for f in files) else None


def _locate(spec: _Spec, root: Path) -> tuple[Path, list[Path]] | None:
    finder = _find_idx if spec.kind == "idx" else _find_cifar
    for sub in spec.subdirs:
        directory = root / sub if sub else root
        files = finder(directory)
        if files is not None:
            return directory, files
    return None


def _expected(spec: _Spec) -> tuple[str, ...]:
    if spec.kind == "idx":
        return tuple(f + ".gz" for f in IDX_FILES)
    return CIFAR_TRAIN_FILES + CIFAR_TEST_FILES


def _missing_message(spec: _Spec, root: Path) -> str:
    expected = ", ".join(_expected(spec))
    if spec.kind == "idx":
        where = f"{root} (or {root / spec.subdirs[1]})"
        extra = " (gzip-compressed or not)"
    else:
        where = f"{root / spec.subdirs[0]} (or {root})"
        extra = ""
    return (f"{spec.title} not found in {root}: expected {expected}{extra} in {where}. "
            f"Press Download when online, or copy the files there.")


def _download(name: str, spec: _Spec, root: Path) -> None:
    import torchvision.datasets as tvd

    cls = getattr(tvd, spec.tv_class)
    try:
        root.mkdir(parents=True, exist_ok=True)
        # Constructing the training split downloads (and checks) every file of the data set.
        cls(str(root), train=True, download=True)
    except (URLError, OSError, RuntimeError) as e:
        lines = [ln.strip() for ln in str(getattr(e, "reason", None) or e).splitlines() if ln.strip()]
        reason = lines[-1] if lines else type(e).__name__
        raise OfflineError(
            f"Could not download {spec.title} into {root} ({reason}). Check the internet connection and "
            f"press Download again, or copy {', '.join(_expected(spec))} into {root}."
        ) from None


def load_builtin(name: str, root=None, *, download: bool = False, progress: ProgressFn = None,
                 cancel: CancelFn = None) -> ImageDataset:
    """Load ``"mnist"``, ``"fashion-mnist"`` or ``"cifar10"`` from ``root`` (default: the user data dir).

    With ``download=True`` a missing data set is downloaded by torchvision into ``root``;
    offline, that raises ``OfflineError``. Missing with ``download=False`` raises
    ``DatasetNotFound`` (a ``DataError``) naming the root and the expected files.
    """
    if name not in SPECS:
        raise DataError(f"Unknown built-in data set {name!r}; choose one of {', '.join(SPECS)}.")
    spec = SPECS[name]
    root = Path(root).expanduser() if root is not None else default_data_root()
    if root.exists() and not root.is_dir():
        raise DataError(f"{root} is a file; choose the folder that holds the {spec.title} files.")
    located = _locate(spec, root)
    if located is None and download:
        _download(name, spec, root)
        located = _locate(spec, root)
    if located is None:
        raise DatasetNotFound(_missing_message(spec, root), name, root, _expected(spec))
    directory, files = located
    steps = Progress(len(files), progress, cancel)
    steps(0, force=True)
    if spec.kind == "idx":
        train, test = _load_idx_splits(files, spec, steps)
        classes = list(spec.classes)
    else:
        train, test, classes = _load_cifar_splits(directory, files, steps)
    mean, std = channel_stats(train.images)
    return ImageDataset(
        name=name, train=train, test=test, classes=classes, mean=mean, std=std,
        source=str(directory),
        notes=[f"{spec.title}: {len(train)} training and {len(test)} test images from {directory}."],
    )


def _load_idx_splits(files: list[Path], spec: _Spec, steps: Progress) -> tuple[ImageSplit, ImageSplit]:
    arrays = []
    for i, f in enumerate(files):
        steps.check()
        arrays.append(read_idx(f, already=sum(a.nbytes for a in arrays)))   # one bound for all the files
        steps(i + 1)
    splits = []
    for images, labels, img_file, lbl_file in ((arrays[0], arrays[1], files[0], files[1]),
                                               (arrays[2], arrays[3], files[2], files[3])):
        if images.dtype != np.uint8 or images.ndim != 3:
            raise DataError(f"{img_file} should hold uint8 images (N, height, width), "
                            f"but holds {images.dtype} {images.shape}.")
        if labels.ndim != 1 or labels.dtype.kind not in "ui":
            raise DataError(f"{lbl_file} should hold one integer label per image, "
                            f"but holds {labels.dtype} {labels.shape}.")
        if labels.shape[0] != images.shape[0]:
            raise DataError(f"{img_file} holds {images.shape[0]} images but {lbl_file} holds "
                            f"{labels.shape[0]} labels; the files do not belong together.")
        if labels.size and (labels.min() < 0 or labels.max() >= len(spec.classes)):
            raise DataError(f"{lbl_file} has labels outside 0..{len(spec.classes) - 1}.")
        splits.append(ImageSplit(torch.from_numpy(images).unsqueeze(1),
                                 torch.from_numpy(labels.astype(np.int64))))
    tr, te = splits[0].images.shape[2:], splits[1].images.shape[2:]
    if tr != te:        # checked now, not after a whole epoch of training
        raise DataError(f"{files[0].name} holds {tr[1]}x{tr[0]} images but {files[2].name} holds {te[1]}x{te[0]} "
                        f"images; the training and test files must have images of one size.")
    return splits[0], splits[1]


class _SafeUnpickler(pickle.Unpickler):
    """Rebuilds only numpy arrays and plain Python containers; anything else is refused."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "_codecs":
            import _codecs
            return _codecs.encode
        if name in ("ndarray", "dtype"):
            return getattr(np, name)
        if name == "_frombuffer":
            from numpy._core import numeric
            return numeric._frombuffer
        from numpy._core import multiarray
        return getattr(multiarray, name)


def _unpickle(path: Path) -> dict:
    try:
        data = path.read_bytes()
        obj = _SafeUnpickler(io.BytesIO(data), encoding="latin1").load()
    except OSError as e:
        raise DataError(f"Cannot read {path}: {e.strerror or e}.") from None
    except Exception as e:  # any unpickling failure means the file is not a CIFAR batch
        raise DataError(f"{path} is not a valid CIFAR-10 batch file ({e}).") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path} is not a valid CIFAR-10 batch file (no dictionary inside).")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    entry = _unpickle(path)
    data = entry.get("data")
    labels = entry.get("labels", entry.get("fine_labels"))
    if not isinstance(data, np.ndarray) or labels is None:
        raise DataError(f"{path} is not a valid CIFAR-10 batch file (no 'data' or 'labels').")
    try:
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{path} is not a valid CIFAR-10 batch file (the labels are not whole numbers).") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise DataError(f"{path} is not a valid CIFAR-10 batch file (data {data.dtype} {data.shape}, "
                        f"{labels.shape[0]} labels).")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path} has labels outside 0..9.")
    return data, labels


def _load_cifar_splits(directory: Path, files: list[Path], steps: Progress):
    parts = []
    for i, f in enumerate(files):
        steps.check()
        parts.append(_cifar_batch(f))
        steps(i + 1)
    n_train = len(CIFAR_TRAIN_FILES)

    def split(chunk) -> ImageSplit:
        images = np.concatenate([d for d, _ in chunk]).reshape(-1, 3, 32, 32)
        labels = np.concatenate([lbl for _, lbl in chunk])
        return ImageSplit(torch.from_numpy(images), torch.from_numpy(labels))

    classes = list(CIFAR10_CLASSES)
    meta = directory / "batches.meta"
    if meta.is_file():
        try:
            names = _unpickle(meta).get("label_names")
        except DataError:
            names = None
        if isinstance(names, list) and len(names) == 10:
            classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return split(parts[:n_train]), split(parts[n_train:]), classes
