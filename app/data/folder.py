"""Image folders: one sub-folder per class (torchvision ``ImageFolder`` layout).

``root/<class>/**/<image>``, or ``root/train/<class>/...`` plus ``root/test/<class>/...``.
Every image is decoded once (Pillow), converted to grey or RGB, centre-cropped to the target
aspect ratio and resized, and stored as uint8 (N, C, H, W). Files that cannot be read are
skipped and listed, never fatal. The decoded result is kept in a small in-memory cache keyed by
the folder's contents (names, sizes, modification times) and the requested size and channels.
"""
from __future__ import annotations

import hashlib
import os
import stat
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import DataError
from app.core.files import inside

from .base import ImageDataset, ImageSplit
from .common import CancelFn, Progress, ProgressFn, channel_stats, parse_size

IMAGE_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".gif", ".tif", ".tiff", ".webp",
    ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".ico",
})
# Files that operating systems leave in folders; ignored without a word.
_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})
_SYSTEM_DIRS = frozenset({"__macosx", "@eadir"})

MAX_PIXELS = 64_000_000          # larger images are skipped (decompression-bomb guard)
MAX_DEFAULT_SIDE = 256           # same-size images larger than this are resized to the fallback size
#: the size mixed-size (or large) pictures get when the caller names none; the app passes the side that
#: suits the model it suggests (``app.models.suggest``: 192 px for the pretrained EfficientNet-Lite0)
FALLBACK_SIZE = (64, 64)
MAX_BYTES = 6 << 30              # refuse to build a data set that would not fit in memory
CACHE_ENTRIES = 2

# Decompression-bomb guard: Pillow refuses images over twice this size and warns above it; the
# warning is made an error so such files are skipped (``_open`` also checks, whatever Pillow's limit).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


@dataclass
class _Entry:
    path: str
    rel: str        # for messages: relative to the root, forward slashes
    label: int      # index into the class list
    split: int      # 0 train, 1 test, -1 not decided (split later)
    nbytes: int     # file size; -1 when it could not be read


@dataclass
class _Decoded:
    images: torch.Tensor      # uint8 (N, C, H, W)
    labels: np.ndarray        # int64 (N,)
    splits: np.ndarray        # int8 (N,): 0 train, 1 test, -1 split later
    classes: list[str]
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)   # (test_fraction, seed) -> (mean, std) of the train split


_cache: "OrderedDict[tuple, _Decoded]" = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _display(text: str) -> str:
    """A file name as text that can always be shown (undecodable bytes become U+FFFD)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in _SYSTEM_FILES


def _subdirs(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as it:
            dirs = [Path(e.path) for e in it
                    if e.is_dir() and not _is_hidden(e.name) and e.name.lower() not in _SYSTEM_DIRS]
    except PermissionError:
        raise DataError(f"No permission to read the folder {path}.") from None
    return sorted(dirs, key=lambda p: p.name)


NOT_A_FILE = -2     # an entry's size when it is a pipe, device or socket (never opened)


def _files(class_dir: Path, root: Path | None = None,
           notes: list[str] | None = None) -> list[tuple[str, int, int]]:
    """Every non-hidden file under ``class_dir`` (recursive, sorted by name) with its size and mtime.

    A linked folder inside ``root`` is not followed (its images are already counted where they are, and
    a link to a folder above it loops); a linked folder outside ``root`` is followed and said in
    ``notes``. Pipes, devices and sockets are listed with size ``NOT_A_FILE`` (never opened)."""
    out = []
    stack = [str(class_dir)]
    visited: set[tuple[int, int]] = set()   # followed links must not loop
    real_root = os.path.realpath(root) if root is not None else None
    while stack:
        directory = stack.pop()
        try:
            st = os.stat(directory)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in visited:
            continue
        visited.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(directory) as it:
                items = sorted(it, key=lambda d: d.name)
        except OSError:
            # e.g. no permission: listed as a folder that could not be read, never silently dropped
            out.append((directory, -1, -1))
            continue
        subdirs = []
        for d in items:
            if _is_hidden(d.name):
                continue
            try:
                if d.is_dir():
                    if d.name.lower() in _SYSTEM_DIRS:
                        continue
                    if d.is_symlink() and real_root is not None:
                        target = os.path.realpath(d.path)
                        shown = _display(os.path.relpath(d.path, str(root)))
                        if inside(target, real_root):
                            if notes is not None:
                                notes.append(f"Did not follow the link {shown}: it points inside the data folder "
                                             f"({_display(os.path.relpath(target, real_root)) or '.'}), whose "
                                             f"images would be counted twice.")
                            continue
                        if notes is not None:
                            notes.append(f"Followed the link {shown} to {_display(target)}, outside the data folder.")
                    subdirs.append(d.path)
                    continue
                st = d.stat()
                if not stat.S_ISREG(st.st_mode):
                    out.append((d.path, NOT_A_FILE, 0))
                    continue
                out.append((d.path, st.st_size, st.st_mtime_ns))
            except OSError:
                out.append((d.path, -1, -1))
        stack.extend(reversed(subdirs))
    return out


_TRAIN_NAMES = ("train", "training")
_TEST_NAMES = ("test", "testing", "val", "valid", "validation")
TRAIN_TEST_NAMES = (_TRAIN_NAMES, _TEST_NAMES)     # the folder names of a train/test layout, lower case


def _scan(root: Path):
    """Find the layout, classes and files.

    Returns (entries, classes, content digest, has train/test folders, notes).
    """
    top = _subdirs(root)
    by_name = {d.name.lower(): d for d in top}
    train_dir = next((by_name[n] for n in _TRAIN_NAMES if n in by_name), None)
    test_dir = next((by_name[n] for n in _TEST_NAMES if n in by_name), None)
    split_layout = train_dir is not None and test_dir is not None
    notes: list[str] = []
    class_dirs: dict[str, list[tuple[int, Path]]] = {}
    real_root = os.path.realpath(root)

    def linked_class(d: Path) -> bool:
        """A class folder that is a link: one to a folder inside the data folder is left out (its images
        would count twice), one elsewhere is followed; both are said."""
        if not d.is_symlink():
            return False
        target = os.path.realpath(d)
        shown = _display(os.path.relpath(d, root))
        if inside(target, real_root):
            notes.append(f"Did not follow the link {shown}: it points inside the data folder "
                         f"({_display(os.path.relpath(target, real_root)) or '.'}), whose images would be counted twice.")
            return True
        notes.append(f"Followed the link {shown} to {_display(target)}, outside the data folder.")
        return False

    if split_layout:
        for split, base in ((0, train_dir), (1, test_dir)):
            for d in _subdirs(base):
                if linked_class(d):
                    continue
                class_dirs.setdefault(d.name, []).append((split, d))
        others = [d.name for d in top if d not in (train_dir, test_dir)]
        if others:
            notes.append(f"Used {train_dir.name}/ for training and {test_dir.name}/ for testing; "
                         f"ignored the other folder(s): {', '.join(_display(o) for o in others)}.")
    else:
        for d in top:
            if linked_class(d):
                continue
            class_dirs.setdefault(d.name, []).append((-1, d))
    with os.scandir(root) as it:
        loose = sum(1 for e in it if not _is_hidden(e.name) and e.is_file()
                    and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS)
    if not class_dirs:
        where = f"{train_dir} and {test_dir}" if split_layout else str(root)
        hint = f" ({loose} images lie directly in it)" if loose else ""
        raise DataError(f"No class sub-folders in {where}{hint}: put each class's images in its own "
                        f"sub-folder, e.g. cats/ and dogs/.")
    if loose:
        notes.append(f"Ignored {loose} image(s) lying directly in {root}: only images inside a class "
                     f"sub-folder are used.")

    digest = hashlib.blake2b(digest_size=16)
    prefix = len(os.path.join(str(root), ""))
    entries: list[_Entry] = []
    per_class: dict[str, list[_Entry]] = {}
    for name in sorted(class_dirs):
        for split, d in class_dirs[name]:
            for p, size, mtime in _files(d, root, notes):
                rel = _display(p[prefix:].replace(os.sep, "/"))
                digest.update(f"{rel}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
                e = _Entry(p, rel, -1, split, size)
                per_class.setdefault(name, []).append(e)
    classes = sorted(class_dirs)
    for label, name in enumerate(classes):
        for e in per_class.get(name, []):
            e.label = label
            entries.append(e)
    return entries, classes, digest.hexdigest(), split_layout, notes


def _pil_errors_to_reason(e: BaseException) -> str:
    if isinstance(e, UnidentifiedImageError):
        return "not an image, or an image format that cannot be read"
    if isinstance(e, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return "image too large (possible decompression bomb)"
    text = str(e).strip() or type(e).__name__
    if "truncated" in text.lower():
        return f"damaged or cut-short image ({text})"
    return f"cannot be read ({text})"


def _open(path: str) -> Image.Image:
    # opened without blocking and checked to be an ordinary file: a pipe (or device) that replaced an
    # image after the scan would otherwise block the load for ever
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    f = os.fdopen(fd, "rb")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not an ordinary file (a pipe, device or socket)")
        im = Image.open(f)
    except BaseException:
        f.close()
        raise
    im._exclusive_fp = True           # the image closes the file, as when PIL opens it itself
    w, h = im.size
    if w * h > MAX_PIXELS:
        im.close()
        raise Image.DecompressionBombError(f"{w}x{h} pixels is more than the {MAX_PIXELS} limit")
    return im


def _is_grey(im: Image.Image) -> bool:
    if im.mode in _GREY_MODES:
        return True
    if im.mode == "P":
        pal = im.getpalette() or []
        rgb = np.asarray(pal[: len(pal) // 3 * 3], dtype=np.int32).reshape(-1, 3)
        return bool(rgb.size) and bool((rgb[:, 0] == rgb[:, 1]).all() and (rgb[:, 1] == rgb[:, 2]).all())
    return False


def _exif_swaps(im: Image.Image) -> bool:
    try:
        return im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:  # a broken EXIF block does not make the image unreadable
        return False


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float grey images -> 8-bit grey, scaled (not clipped)."""
    arr = np.asarray(im)
    if im.mode.startswith("I;16"):
        out = (arr.astype(np.uint32) * 255 + 32767) // 65535
    elif im.mode == "I":
        peak = int(arr.max()) if arr.size else 0
        if peak > 255:
            out = (np.clip(arr, 0, 65535).astype(np.int64) * 255 + 32767) // 65535
        else:
            out = np.clip(arr, 0, 255)
    else:  # "F"
        arr = np.nan_to_num(arr.astype(np.float32))
        scale = 255.0 if arr.size and float(arr.max()) <= 1.0 else 1.0
        out = np.clip(np.rint(arr * scale), 0, 255)
    return Image.fromarray(out.astype(np.uint8), "L")


def _convert(im: Image.Image, channels: int) -> Image.Image:
    if im.mode in _HIGH_DEPTH_MODES:
        im = _to_8bit(im)
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        # Transparent parts become white, as most viewers show them on a light background.
        rgba = im.convert("RGBA")
        im = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im.alpha_composite(rgba)
    target = "L" if channels == 1 else "RGB"
    return im if im.mode == target else im.convert(target)


def _fit(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Centre-crop ``im`` to the aspect ratio of ``size`` (height, width) and resize to it."""
    th, tw = size
    w, h = im.size
    if (w, h) == (tw, th):
        return im
    if w * th > h * tw:      # wider than the target: keep the centre columns
        cw = h * tw / th
        box = ((w - cw) / 2, 0.0, (w + cw) / 2, float(h))
    else:                    # taller: keep the centre rows
        ch = w * th / tw
        box = (0.0, (h - ch) / 2, float(w), (h + ch) / 2)
    return im.resize((tw, th), Image.Resampling.BILINEAR, box=box, reducing_gap=3.0)


def _decode(path: str, choose_size: Callable[[tuple[int, int]], tuple[int, int]],
            channels: int) -> tuple[np.ndarray, bool, tuple[int, int]]:
    """One file -> (uint8 array (H, W) or (H, W, 3), whether it is grey, its own (height, width)).

    ``choose_size((height, width))`` gets the image's own size (after EXIF rotation) from the
    header, before any pixel is decoded, and returns the size to produce.
    """
    with _open(path) as im:
        w, h = im.size
        # Only look at EXIF when there is some: for PNG, getexif() would decode the whole image.
        has_exif = "exif" in im.info or im.format in ("TIFF", "MPO")
        if has_exif and _exif_swaps(im):
            w, h = h, w
        grey = _is_grey(im)
        th, tw = choose_size((h, w))
        if im.format == "JPEG" and (th, tw) != (h, w):
            # Let libjpeg decode at a reduced scale when the image is much larger than needed.
            side = max(th, tw)
            im.draft("L" if channels == 1 else "RGB", (side, side))
        im.load()
        if has_exif or "exif" in im.info:
            im = ImageOps.exif_transpose(im)
        im = _fit(_convert(im, channels), (th, tw))
        return np.asarray(im), grey, (h, w)


class _SizeChooser:
    """Picks the output size while decoding, from each image's header.

    With a size given, that size. Otherwise the first image's own size, as long as every image has
    it (and it is at most MAX_DEFAULT_SIDE); at the first image of another size it switches to
    ``fallback``, and the images decoded so far (all still at their own size)
    are resized in memory.
    """

    def __init__(self, size: Optional[tuple[int, int]], fallback: tuple[int, int]) -> None:
        self.fixed = size is not None
        self.size = size
        self.fallback = tuple(fallback)
        self.switched = False
        self.reason = ""

    @staticmethod
    def _usable(hw: tuple[int, int]) -> bool:
        return max(hw) <= MAX_DEFAULT_SIDE and min(hw) >= 4

    def __call__(self, hw: tuple[int, int]) -> tuple[int, int]:
        """The size to decode an image of size ``hw`` to (decides nothing yet)."""
        if self.fixed or self.switched:
            return self.size
        if self._usable(hw) and self.size in (None, hw):
            return hw
        return self.fallback

    def commit(self, hw: tuple[int, int]) -> None:
        """An image of size ``hw`` was decoded: adopt its size, or switch to the fallback."""
        if self.fixed or self.switched:
            return
        if self._usable(hw) and self.size in (None, hw):
            self.size = hw
            return
        self.reason = ("some images are larger than {} pixels".format(MAX_DEFAULT_SIDE)
                       if not self._usable(hw) else "the images have different sizes")
        self.switched = True
        self.size = self.fallback


#: peak memory of a load over the bytes of the decoded images: the decode buffer, the (N, C, H, W) copy,
#: and the training and test parts indexed out of it (measured about 2.3 on cnn4-sized folders)
PEAK_FACTOR = 2.5


def _alloc(n: int, size: tuple[int, int], channels: int) -> np.ndarray:
    from app.core.memory import check_fits, gib

    h, w = size
    stored = n * channels * h * w
    if stored > MAX_BYTES:
        raise DataError(f"{n} images at {w}x{h} would need {gib(stored * PEAK_FACTOR)} of "
                        f"memory; choose a smaller image size.")
    check_fits(int(stored * PEAK_FACTOR), f"Loading {n} images at {w}x{h}",
               "choose a smaller image size (e.g. 64 or 128) or fewer images.")
    return np.empty((n, h, w, channels), dtype=np.uint8)


def _read_all(entries: list[_Entry], size: Optional[tuple[int, int]], channels: Optional[int],
              steps: Progress, skipped: list[str], notes: list[str],
              fallback: tuple[int, int]) -> tuple[torch.Tensor, list[_Entry]]:
    """Decode every entry in one pass; returns (uint8 images (N, C, H, W), the entries kept)."""
    chooser = _SizeChooser(size, fallback)
    decode_channels = channels or 3      # unknown: decode as RGB, keep one channel if all are grey
    out: Optional[np.ndarray] = None
    kept: list[_Entry] = []
    all_grey = True
    for i, e in enumerate(entries):
        steps.check()
        before = chooser.size
        try:
            arr, grey, native = _decode(e.path, chooser, decode_channels)
        except Exception as err:  # any failure to read one file: skip it, never fatal
            skipped.append(f"{e.rel}: {_pil_errors_to_reason(err)}")
            steps(i + 1)
            continue
        chooser.commit(native)
        if out is None or chooser.size != before:
            # First image, or the size just switched to the fallback: (re)allocate and resize
            # what was decoded so far (still at its own size, so this equals decoding it anew).
            old, out = out, _alloc(len(entries), chooser.size, decode_channels)
            for j in range(len(kept)):
                src = old[j] if decode_channels == 3 else old[j, :, :, 0]
                out[j] = np.asarray(_fit(Image.fromarray(src), chooser.size)).reshape(out.shape[1:])
        out[len(kept)] = arr.reshape(out.shape[1:])
        kept.append(e)
        all_grey = all_grey and grey
        steps(i + 1)
    if out is None:
        return torch.empty((0, 1, 1, 1), dtype=torch.uint8), kept
    if channels is None and all_grey:
        out = out[..., :1]
        notes.append("All images are grey, so the data set has 1 channel.")
    if chooser.switched:
        h, w = chooser.size
        notes.append(f"Every picture was resized to {w}x{h} (centre kept) because {chooser.reason}; "
                     f"choose another image size if needed.")
    images = torch.from_numpy(np.ascontiguousarray(out[: len(kept)].transpose(0, 3, 1, 2)))
    return images, kept


def _build(root: Path, entries: list[_Entry], classes: list[str], split_layout: bool,
           size: Optional[tuple[int, int]], channels: Optional[int],
           steps: Progress, fallback: tuple[int, int]) -> _Decoded:
    skipped: list[str] = []
    notes: list[str] = []
    candidates = []
    for e in entries:
        if e.nbytes == NOT_A_FILE:
            skipped.append(f"{e.rel}: not an ordinary file (a pipe, device or socket)")
        elif e.nbytes == 0:
            skipped.append(f"{e.rel}: empty file (0 bytes)")
        elif e.nbytes < 0:
            skipped.append(f"{e.rel}: cannot be read (no permission or vanished)")
        elif os.path.splitext(e.path)[1].lower() not in IMAGE_EXTENSIONS:
            ext = os.path.splitext(e.path)[1]
            skipped.append(f"{e.rel}: not an image file ({ext or 'no extension'})")
        else:
            candidates.append(e)

    steps.total = max(len(candidates), 1)
    steps(0, force=True)
    images, kept = _read_all(candidates, size, channels, steps, skipped, notes, fallback)
    steps(steps.total, force=True)
    if not entries:
        raise DataError(f"The class sub-folders in {root} ({', '.join(_display(c) for c in classes)}) "
                        f"are empty: put each class's images in its own sub-folder.")
    if not kept:
        raise DataError(f"No readable image in {root} ({len(skipped)} files could not be used"
                        + (f", e.g. {skipped[0]}" if skipped else "") + ").")

    labels = np.fromiter((e.label for e in kept), dtype=np.int64, count=len(kept))
    splits = np.fromiter((e.split for e in kept), dtype=np.int8, count=len(kept))

    # Drop classes with no usable training image; renumber the rest.
    train_mask = splits != 1
    train_counts = np.bincount(labels[train_mask], minlength=len(classes))
    test_counts = np.bincount(labels[splits == 1], minlength=len(classes))
    keep = train_counts > 0
    dropped = [c for c, k in zip(classes, keep) if not k]
    if dropped:
        shown = ", ".join(_display(c) for c in dropped)
        where = "training images" if split_layout else "readable images"
        notes.append(f"Left out class folder(s) with no {where}: {shown}.")
    if split_layout:
        no_test = [c for c, k, t in zip(classes, keep, test_counts) if k and t == 0]
        if no_test:
            notes.append(f"No test images for: {', '.join(_display(c) for c in no_test)}.")
    remap = np.cumsum(keep) - 1
    sel = keep[labels]
    images = images[torch.from_numpy(sel)] if not sel.all() else images
    labels = remap[labels[sel]]
    splits = splits[sel]
    classes = [_display(c) for c, k in zip(classes, keep) if k]
    if len(classes) < 2:
        only = f" ({classes[0]})" if classes else ""
        raise DataError(f"Only one class{only} with images in {root}: training a classifier needs at "
                        f"least two classes, each in its own sub-folder (e.g. cats/ and dogs/).")
    return _Decoded(images, labels, splits, classes, skipped, notes)


def _split(decoded: _Decoded, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Indices of train and test samples: the folders' own split, else stratified and seeded."""
    if (decoded.splits >= 0).all():
        train = np.flatnonzero(decoded.splits == 0)
        test = np.flatnonzero(decoded.splits == 1)
        return train, test, "Training and test images come from their own folders."
    rng = np.random.Generator(np.random.PCG64(seed))
    train_parts, test_parts = [], []
    for k in range(len(decoded.classes)):
        members = np.flatnonzero(decoded.labels == k)
        n = members.size
        n_test = int(round(n * test_fraction)) if n >= 2 else 0
        if test_fraction > 0 and n >= 2:
            n_test = min(max(n_test, 1), n - 1)
        perm = rng.permutation(members)
        test_parts.append(perm[:n_test])
        train_parts.append(perm[n_test:])
    train = np.sort(np.concatenate(train_parts))
    test = np.sort(np.concatenate(test_parts))
    note = (f"{round(test_fraction * 100)}% of each class's images were set aside for testing "
            f"(seed {seed}).")
    return train, test, note


# ---------------------------------------------------------------------------------------------- wrong level
class WrongLevel(DataError):
    """The chosen folder is one level too high or too low; ``suggestion`` is the folder that looks right."""

    def __init__(self, message: str, suggestion: Path, others: list[Path] | None = None):
        super().__init__(message)
        self.suggestion = suggestion
        self.others = list(others or [])


def _has_images(path: Path) -> bool:
    try:
        with os.scandir(path) as it:
            return any(e.is_file() and not _is_hidden(e.name) and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
                       for e in it)
    except OSError:
        return False


def _is_split_parent(path: Path) -> bool:
    names = {d.name.lower() for d in _subdirs(path)}
    return any(n in names for n in _TRAIN_NAMES) and any(n in names for n in _TEST_NAMES)


def check_level(root: Path) -> None:
    """Raise ``WrongLevel`` when ``root`` is not the folder of class folders but one level off:

    - a folder holding one folder that holds the class folders (``root/my-set/{cats,dogs}``);
    - a folder of data sets: sub-folders that each hold ``train/`` and ``test/``, or the same class folders;
    - one class folder (pictures, no sub-folders) whose parent holds the other classes.

    Loading such a folder would give a nonsense set (one class, or the data sets' names as classes)."""
    root = Path(root)
    top = _subdirs(root)
    if _is_split_parent(root):
        return
    if not top:
        parent = root.parent
        if _has_images(root) and parent != root and sum(_has_images(d) for d in _subdirs(parent)) >= 2:
            raise WrongLevel(f"{_display(root.name)} looks like one class folder (its pictures lie directly in it); "
                             f"the data set is the folder above it, {_display(parent.name)}, whose sub-folders are "
                             f"the classes.", parent)
        return
    if any(_has_images(d) for d in top):
        return
    nested = {d: [c.name for c in _subdirs(d)] for d in top}
    sets = [d for d in top if _is_split_parent(d)]
    if not sets and len(top) == 1 and len(nested[top[0]]) >= 2:
        sets = top
    if not sets and len(top) >= 2 and all(len(n) >= 2 for n in nested.values()):
        first = set(nested[top[0]])
        if all(set(n) == first for n in nested.values()):
            sets = top
    if not sets:
        return
    pick = sets[0]
    inside = ", ".join(_display(n) for n in nested[pick][:4]) + (", …" if len(nested[pick]) > 4 else "")
    if len(sets) == 1:
        what = f"{_display(root.name)} holds one folder, {_display(pick.name)}, which holds the classes ({inside})"
    else:
        what = (f"the sub-folders of {_display(root.name)} ({', '.join(_display(d.name) for d in sets[:4])}) are "
                f"data sets themselves, each with its own sub-folders ({inside} in {_display(pick.name)})")
    raise WrongLevel(f"This is not the folder of classes: {what}. Use {_display(pick.name)} instead"
                     + (" (or one of the others)." if len(sets) > 1 else "."), pick, sets[1:])


def load_folder(path, *, size=None, channels: Optional[int] = None, test_fraction: float = 0.2,
                seed: int = 0, progress: ProgressFn = None, cancel: CancelFn = None,
                fallback_size=None) -> ImageDataset:
    """Load an image folder with one sub-folder per class (see the module doc).

    ``size``: None (the images' own size when they all share one and are at most MAX_DEFAULT_SIDE, else
    ``fallback_size``: an int or (height, width), default FALLBACK_SIZE), an int or (height, width).
    ``channels``: None (1 when every image is grey, else 3), 1 or 3.
    ``progress(done, total)`` is called at most about 20 times a second; ``cancel()`` returning
    True stops with ``Cancelled``. Raises ``DataError`` with a plain-language message when the
    folder cannot be used.
    """
    size = parse_size(size)
    fallback = parse_size(fallback_size) or FALLBACK_SIZE
    if channels not in (None, 1, 3):
        raise DataError(f"Channels must be 1 (grey) or 3 (colour), not {channels!r}.")
    if not 0.0 <= float(test_fraction) < 1.0:
        raise DataError(f"The test fraction must be at least 0 and below 1, not {test_fraction!r}.")
    if path is None or str(path).strip() == "":
        raise DataError("Choose a folder of images first.")
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"Folder not found: {root}.")
    if not root.is_dir():
        raise DataError(f"{root} is a file, not a folder; choose the folder that holds one sub-folder per class.")
    root = root.resolve()
    check_level(root)      # one level too high or too low: say which folder to use instead

    steps = Progress(1, progress, cancel)
    entries, classes, digest, split_layout, scan_notes = _scan(root)
    key = (str(root), digest, size, channels, fallback)
    with _cache_lock:
        decoded = _cache.get(key)
        if decoded is not None:
            _cache.move_to_end(key)
    if decoded is None:
        decoded = _build(root, entries, classes, split_layout, size, channels, steps, fallback)
        with _cache_lock:
            _cache[key] = decoded
            _cache.move_to_end(key)
            while len(_cache) > CACHE_ENTRIES:
                _cache.popitem(last=False)
    else:
        steps.total = 1
        steps(1, force=True)

    train_idx, test_idx, split_note = _split(decoded, float(test_fraction), int(seed))
    labels = torch.from_numpy(decoded.labels)
    train = ImageSplit(decoded.images[torch.from_numpy(train_idx)], labels[torch.from_numpy(train_idx)])
    test = ImageSplit(decoded.images[torch.from_numpy(test_idx)], labels[torch.from_numpy(test_idx)])
    stats_key = (None, None) if (decoded.splits >= 0).all() else (float(test_fraction), int(seed))
    if stats_key not in decoded.stats:
        decoded.stats[stats_key] = channel_stats(train.images)
    mean, std = decoded.stats[stats_key]
    h, w = decoded.images.shape[2:]
    summary = (f"{len(train) + len(test)} images in {len(decoded.classes)} classes from {root}, "
               f"{w}x{h}, {'grey' if decoded.images.shape[1] == 1 else 'colour'}: "
               f"{len(train)} for training, {len(test)} for testing.")
    notes = [summary, split_note, *scan_notes, *decoded.notes]
    if decoded.skipped:
        notes.append(f"{len(decoded.skipped)} file(s) could not be used; see the list of skipped files.")
    return ImageDataset(
        name="folder", train=train, test=test, classes=list(decoded.classes), mean=mean, std=std,
        source=str(root), skipped=list(decoded.skipped), notes=notes,
    )
