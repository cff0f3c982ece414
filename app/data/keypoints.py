"""Facial keypoint data sets: loaders for three layouts, and batch augmentation on the device.

A ``KeypointDataset`` holds grey square face crops as uint8 tensors ``(N, 1, S, S)`` and their points
as float32 ``(N, P, 2)`` ``(x, y)`` in crop pixels (pixel centres at integers, origin at the centre
of the top-left pixel), with NaN for a point that is missing. Layouts ``load_keypoints`` reads:

* the ``.npz`` form (``images (N, H, W) uint8``, ``keypoints (N, P, 2)``, optional ``names``): a folder
  with ``train.npz`` + ``test.npz``, or one ``.npz`` file (split into train/test by ``seed``);
* the original CSV + images layout (``image_name, x0, y0, x1, y1, ...`` in pixels of the picture, any
  picture size): a square of twice the keypoints' extent is cut around the points (shifted inside the
  picture when it fits, padded with black when it does not), turned grey and resized to ``S``;
  the points are mapped exactly: ``k' = (k + 0.5 - corner) * S / side - 0.5``;
* the Kaggle Facial Keypoints layout: a CSV with ``<name>_x, <name>_y`` columns and an ``Image``
  column of space-separated pixel values of a square grey picture (96 x 96). Missing values become
  NaN and the row is kept (the loss masks missing points).

Augmentation (``KeypointAugment``) runs on whole batches on the training device and moves the points
with the pixels (one affine matrix per image for both).
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from app.core.errors import DataError

ProgressFn = Optional[Callable[[int, int], None]]

# --------------------------------------------------------------------------------------------- layouts
#: the mirror permutation of the 68-point iBUG / Multi-PIE markup: after a horizontal flip, point i of
#: the flipped face is point ``IBUG68_FLIP[i]`` of the original (jaw reversed, brows, eyes, nostrils
#: and mouth corners swapped left/right; the centre line maps to itself).
IBUG68_FLIP: list[int] = (
    list(range(16, -1, -1))                                    # jaw 0..16
    + list(range(26, 16, -1))                                  # brows 17..26
    + [27, 28, 29, 30]                                         # nose bridge
    + [35, 34, 33, 32, 31]                                     # nostrils
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]         # eyes 36..47
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]         # outer lip 48..59
    + [64, 63, 62, 61, 60, 67, 66, 65]                         # inner lip 60..67
)

IBUG68_NAMES: list[str] = (
    [f"jaw_{i}" for i in range(17)] + [f"right_brow_{i}" for i in range(5)] + [f"left_brow_{i}" for i in range(5)]
    + [f"nose_bridge_{i}" for i in range(4)] + [f"nostril_{i}" for i in range(5)]
    + [f"right_eye_{i}" for i in range(6)] + [f"left_eye_{i}" for i in range(6)]
    + [f"outer_lip_{i}" for i in range(12)] + [f"inner_lip_{i}" for i in range(8)]
)

#: outer eye corners of the 68-point layout (image left, image right): NME divides by their distance
IBUG68_EYE_CORNERS = (36, 45)

#: the 15 points of the Kaggle "Facial Keypoints Detection" CSV, in its column order
KAGGLE15_NAMES: list[str] = [
    "left_eye_center", "right_eye_center", "left_eye_inner_corner", "left_eye_outer_corner",
    "right_eye_inner_corner", "right_eye_outer_corner", "left_eyebrow_inner_end", "left_eyebrow_outer_end",
    "right_eyebrow_inner_end", "right_eyebrow_outer_end", "nose_tip", "mouth_left_corner",
    "mouth_right_corner", "mouth_center_top_lip", "mouth_center_bottom_lip",
]


def flip_permutation_from_names(names: Sequence[str]) -> list[int]:
    """Mirror permutation from point names: ``left`` <-> ``right`` swapped, other points fixed."""
    index = {n: i for i, n in enumerate(names)}
    perm = []
    for i, n in enumerate(names):
        swapped = re.sub(r"left|right", lambda m: "right" if m.group(0) == "left" else "left", n)
        perm.append(index.get(swapped, i))
    return perm


def eye_corners_from_names(names: Sequence[str]) -> Optional[tuple[int, int]]:
    """Indices of the two outer eye corners, when the names say which they are."""
    if len(names) == 68 and list(names) == IBUG68_NAMES:
        return IBUG68_EYE_CORNERS
    outer = [i for i, n in enumerate(names) if "eye_outer_corner" in n]
    if len(outer) == 2:
        return outer[0], outer[1]
    return None


def layout_for(num_points: int) -> tuple[list[str], list[int], Optional[tuple[int, int]]]:
    """(point names, flip permutation, outer eye corners) of a known point layout."""
    if num_points == 68:
        return list(IBUG68_NAMES), list(IBUG68_FLIP), IBUG68_EYE_CORNERS
    if num_points == 15:
        return list(KAGGLE15_NAMES), flip_permutation_from_names(KAGGLE15_NAMES), eye_corners_from_names(KAGGLE15_NAMES)
    # an unknown markup: no mirror pairs known, so flipping keeps the indices (flip augmentation is off)
    return [f"p{i}" for i in range(num_points)], list(range(num_points)), None


# --------------------------------------------------------------------------------------------- data set
@dataclass
class KeypointSplit:
    images: torch.Tensor               # uint8 (N, 1, S, S)
    points: torch.Tensor               # float32 (N, P, 2), NaN = missing
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index) -> "KeypointSplit":
        index = torch.as_tensor(index, dtype=torch.long)
        names = [self.names[i] for i in index.tolist()] if self.names else []
        return KeypointSplit(self.images[index], self.points[index], names)


@dataclass
class KeypointDataset:
    name: str
    train: KeypointSplit
    test: KeypointSplit
    point_names: list[str]
    flip_permutation: list[int]
    source: str = ""
    eye_corners: Optional[tuple[int, int]] = None     # outer eye corners for NME
    mean: float = 0.5                                   # pixel mean / std on the 0..1 scale (train split)
    std: float = 0.25
    skipped: list[str] = field(default_factory=list)  # "what: why" of rows/files left out
    notes: list[str] = field(default_factory=list)

    @property
    def num_points(self) -> int:
        return int(self.train.points.shape[1])

    point_count = num_points

    @property
    def size(self) -> int:
        return int(self.train.images.shape[-1])

    def describe(self) -> str:
        miss = float(torch.isnan(self.train.points[..., 0]).float().mean()) if len(self.train) else 0.0
        return (f"{self.name}: {len(self.train)} train / {len(self.test)} test faces, {self.num_points} points, "
                f"{self.size}x{self.size} grey" + (f", {100 * miss:.0f}% of points missing" if miss else ""))


def _finish(name: str, train: KeypointSplit, test: KeypointSplit, source: str, skipped: list[str],
            notes: list[str], point_names: Optional[list[str]] = None) -> KeypointDataset:
    p = int(train.points.shape[1])
    names, perm, eyes = layout_for(p)
    if point_names is not None and len(point_names) == p:
        names = list(point_names)
        perm = flip_permutation_from_names(names) if p != 68 else list(IBUG68_FLIP)
        eyes = eye_corners_from_names(names) if p != 68 else IBUG68_EYE_CORNERS
    for split_name, split in (("training", train), ("test", test)):
        split.points = _outside_to_nan(split.points, split.images.shape[-1], notes, split_name)
        keep = ~torch.isnan(split.points[..., 0]).all(dim=1)
        if not bool(keep.all()):
            dropped = (~keep).nonzero().flatten().tolist()
            skipped.extend(f"{split.names[i] if split.names else f'{split_name} row {i}'}: no keypoints"
                           for i in dropped)
            kept = split.subset(keep.nonzero().flatten())
            split.images, split.points, split.names = kept.images, kept.points, kept.names
    if len(train) == 0:
        raise DataError(f"{source} has no usable training faces (every row was missing or unreadable).")
    if len(test) == 0:
        raise DataError(f"{source} has no usable test faces.")
    x = train.images.float() / 255
    mean, std = float(x.mean()), float(x.std().clamp(min=1e-3))
    return KeypointDataset(name, train, test, names, perm, source, eyes, mean, std, skipped, notes)


def _outside_to_nan(points: torch.Tensor, size: int, notes: list[str], split: str) -> torch.Tensor:
    pts = points.clone()
    bad = ((pts < -0.5) | (pts > size - 0.5)).any(-1) & ~torch.isnan(pts).any(-1)
    half = torch.isnan(pts).any(-1)       # x given but y missing (or the other way round)
    pts[bad | half] = float("nan")
    if int(bad.sum()):
        notes.append(f"{int(bad.sum())} {split} points lay outside their image and are treated as missing.")
    return pts


def _resize(images: torch.Tensor, points: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Resize square uint8 images (N, 1, H, H) to ``size`` and map the points exactly."""
    src = int(images.shape[-1])
    if src == size:
        return images, points
    out = []
    for i in range(0, len(images), 1024):
        x = images[i:i + 1024].float()
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        out.append(x.round().clamp(0, 255).to(torch.uint8))
    scale = size / src
    return torch.cat(out) if out else images.new_zeros((0, 1, size, size)), (points + 0.5) * scale - 0.5


def _split(images: torch.Tensor, points: torch.Tensor, names: list[str], test_fraction: float, seed: int
           ) -> tuple[KeypointSplit, KeypointSplit]:
    n = len(images)
    if n < 2:
        raise DataError("A keypoint data set needs at least 2 faces to have a training and a test part.")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = min(n - 1, max(1, round(n * test_fraction)))
    test_idx, train_idx = perm[:n_test].sort().values, perm[n_test:].sort().values
    full = KeypointSplit(images, points, names)
    return full.subset(train_idx), full.subset(test_idx)


# --------------------------------------------------------------------------------------------- people
_FRAME_NUMBER = re.compile(r"_\d+$")


def person_of(name: str) -> str:
    """The person a face picture shows, from its file name: ``Luis_Fonsi_21.jpg`` -> ``Luis_Fonsi`` (the
    YouTube Faces / Udacity naming: the person's name, then the frame number)."""
    stem = Path(str(name)).stem
    return _FRAME_NUMBER.sub("", stem) or stem


def split_by_person(split: KeypointSplit, fraction: float = 0.15, seed: int = 0
                    ) -> tuple[KeypointSplit, KeypointSplit]:
    """(kept, held out): whole people held out, about ``fraction`` of the faces, chosen by ``seed``.

    Frames of one person are near-duplicates, so a split by frame flatters a model: it is scored on
    people it was trained on. This one scores it on people it never saw."""
    if not split.names or len(split.names) != len(split):
        raise DataError("Holding out whole people needs the picture names (they carry the person).")
    if not 0 < fraction < 1:
        raise DataError(f"The held-out share must be between 0 and 1, not {fraction}.")
    people = sorted({person_of(n) for n in split.names})
    if len(people) < 2:
        raise DataError("Holding out whole people needs pictures of at least two people.")
    order = torch.randperm(len(people), generator=torch.Generator().manual_seed(seed)).tolist()
    count: dict[str, int] = {}
    for n in split.names:
        count[person_of(n)] = count.get(person_of(n), 0) + 1
    held, target = set(), fraction * len(split)
    for i in order:
        if sum(count[p] for p in held) >= target or len(held) == len(people) - 1:
            break
        held.add(people[i])
    mask = torch.tensor([person_of(n) in held for n in split.names])
    return split.subset(torch.nonzero(~mask).flatten()), split.subset(torch.nonzero(mask).flatten())


def hold_out_people(dataset: KeypointDataset, fraction: float = 0.15, seed: int = 0) -> KeypointDataset:
    """``dataset`` with its training faces split by person: the kept people train, the held-out people
    become the test split (the data set's own test split is left out of it)."""
    kept, held = split_by_person(dataset.train, fraction, seed)
    return _finish(f"{dataset.name} (people held out)", kept, held, dataset.source, [], [],
                   list(dataset.point_names))


# --------------------------------------------------------------------------------------------- .npz
MAX_NPZ_BYTES = 16 << 30        # a keypoint .npz declaring more than this is not a real data set


def _check_npz_sizes(path: Path) -> None:
    """The arrays' declared sizes (read from their headers, nothing decompressed) against a total bound and
    the free memory: a tiny file claiming a huge shape, or a small one that expands to gigabytes, is
    refused before numpy allocates it."""
    import zipfile

    from app.core.memory import check_fits, gib

    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read(f)
                n = int(np.prod(shape, dtype=object)) * int(dtype.itemsize)
                total += n
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, TypeError, OverflowError):
        return          # not a readable .npz: np.load says so in its own plain message below
    if total > MAX_NPZ_BYTES:
        raise DataError(f"{path.name} declares arrays of {gib(total)} in all, which is not plausible for a keypoint "
                        f"data set (at most {gib(MAX_NPZ_BYTES)}); the file is damaged or not a data set.")
    check_fits(3 * total, f"Loading {path.name} ({gib(total)} of arrays)",
               "use a smaller file, or free some memory.")


def _read_npz(path: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    _check_npz_sizes(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            missing = {"images", "keypoints"} - files
            if missing:
                raise DataError(f"{path.name} has no {' and no '.join(sorted(missing))} array "
                                f"(a keypoint .npz needs 'images' (N, H, W) and 'keypoints' (N, P, 2)).")
            images, kps = z["images"], z["keypoints"]
            names = [str(s) for s in np.atleast_1d(z["names"])] if "names" in files else []
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as exc:   # EOFError: an empty file
        raise DataError(f"{path.name} is not a readable .npz file ({exc}).".replace("\n", " ")) from None
    for key, arr in (("images", images), ("keypoints", kps)):
        if arr.dtype.kind not in "biuf":
            raise DataError(f"{path.name}: '{key}' must hold numbers, not {arr.dtype}.")
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise DataError(f"{path.name}: 'images' must be square grey pictures (N, S, S), not {images.shape}.")
    if kps.ndim != 3 or kps.shape[2] != 2 or kps.shape[0] != images.shape[0]:
        raise DataError(f"{path.name}: 'keypoints' must be (N, P, 2) with N = {images.shape[0]}, not {kps.shape}.")
    if images.dtype != np.uint8:
        images = np.nan_to_num(images.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        if images.size and images.max() <= 1.0:
            images = images * 255.0
        images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    imgs = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)
    pts = torch.from_numpy(np.ascontiguousarray(kps, dtype=np.float32))
    return imgs, pts, names if len(names) == len(imgs) else []


def load_npz(path: str | Path, size: Optional[int] = None, test_fraction: float = 0.15, seed: int = 0
             ) -> KeypointDataset:
    """A folder with ``train.npz`` and ``test.npz``, or one ``.npz`` file (split by ``seed``)."""
    path = Path(path)
    if path.is_dir():
        tr, te = path / "train.npz", path / "test.npz"
        if not tr.is_file():
            raise DataError(f"{path} has no train.npz.")
        ti, tp, tn = _read_npz(tr)
        if te.is_file():
            vi, vp, vn = _read_npz(te)
            if vp.shape[1] != tp.shape[1]:
                raise DataError(f"train.npz has {tp.shape[1]} points per face but test.npz has {vp.shape[1]}.")
            if vi.shape[-1] != ti.shape[-1]:
                vi, vp = _resize(vi, vp, ti.shape[-1])
            train, test = KeypointSplit(ti, tp, tn), KeypointSplit(vi, vp, vn)
        else:
            train, test = _split(ti, tp, tn, test_fraction, seed)
        name = path.name
    else:
        imgs, pts, names = _read_npz(path)
        train, test = _split(imgs, pts, names, test_fraction, seed)
        name = path.stem
    if size:
        train.images, train.points = _resize(train.images, train.points, size)
        test.images, test.points = _resize(test.images, test.points, size)
    return _finish(name, train, test, str(path), [], [])


# --------------------------------------------------------------------------------------------- CSV + images
def square_crop_box(points: np.ndarray, width: int, height: int, factor: float = 2.0) -> tuple[float, float, float]:
    """The square crop ``(x0, y0, side)`` around ``points`` (P, 2) of a ``width`` x ``height`` picture.

    ``side = factor * max(extent)`` centred on the points' bounding box, shifted as little as possible
    to lie inside the picture along each axis where it fits (the data set README's rule; ``x0, y0`` are
    edge coordinates, so pixel ``i`` spans ``[i, i + 1)`` in the same convention as the CSV + 0.5).
    """
    ok = ~np.isnan(points).any(1)
    p = points[ok]
    lo, hi = p.min(0), p.max(0)
    ext = float(max(hi - lo))
    side = max(factor * ext, 8.0)
    cx, cy = (lo + hi) / 2 + 0.5            # in edge coordinates
    x0, y0 = cx - side / 2, cy - side / 2
    if side <= width:
        x0 = min(max(x0, 0.0), width - side)
    if side <= height:
        y0 = min(max(y0, 0.0), height - side)
    return float(x0), float(y0), float(side)


def crop_grey(image, box: tuple[float, float, float], size: int):
    """Cut the square ``box`` (x0, y0, side) out of a PIL image, grey, resized to ``size`` (black outside)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGB")
    grey = image.convert("L")
    x0, y0, side = box
    w, h = grey.size
    pad = int(math.ceil(max(0.0, -x0, -y0, x0 + side - w, y0 + side - h))) + 1
    if pad > 1:
        canvas = Image.new("L", (w + 2 * pad, h + 2 * pad), 0)
        canvas.paste(grey, (pad, pad))
        grey, x0, y0 = canvas, x0 + pad, y0 + pad
    out = grey.resize((size, size), Image.BICUBIC, box=(x0, y0, x0 + side, y0 + side))
    return np.asarray(out, dtype=np.uint8)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return text.strip().lower() in ("", "nan")


def _to_float(text: str) -> float:
    text = text.strip()
    try:
        return float(text) if text and text.lower() != "nan" else float("nan")
    except ValueError:
        return float("nan")


def _read_point_csv(csv_path: Path) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """(image names, points (N, P, 2), skipped rows, point names or []) of an ``image, x0, y0, ...`` CSV."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{csv_path.name} cannot be read as a CSV file ({exc}).") from None
    if not rows:
        raise DataError(f"{csv_path.name} is empty.")
    header: list[str] = []
    if not all(_is_number(c) for c in rows[0][1:]) or all(c.strip().isdigit() for c in rows[0][1:]) and \
            [int(c) for c in rows[0][1:]] == list(range(len(rows[0]) - 1)):
        header, rows = rows[0], rows[1:]
    if not rows:
        raise DataError(f"{csv_path.name} has a header but no rows.")
    ncols = len(header) if header else len(rows[0])
    if ncols < 3 or (ncols - 1) % 2:
        raise DataError(f"{csv_path.name} must have an image name column and then x, y pairs "
                        f"(x0, y0, x1, y1, ...); it has {ncols} columns.")
    p = (ncols - 1) // 2
    names, pts, skipped = [], [], []
    for i, r in enumerate(rows, start=2 if header else 1):
        if len(r) != ncols:
            skipped.append(f"{csv_path.name} line {i}: {len(r)} values instead of {ncols}")
            continue
        names.append(r[0].strip())
        pts.append([_to_float(v) for v in r[1:]])
    point_names: list[str] = []
    if header and all(h.strip().lower().endswith("_x") for h in header[1::2]):
        point_names = [h.strip()[:-2] for h in header[1::2]]
    arr = np.asarray(pts, dtype=np.float32).reshape(-1, p, 2) if pts else np.zeros((0, p, 2), np.float32)
    return names, arr, skipped, point_names


def _image_folder_for(csv_path: Path, names: list[str]) -> Path:
    """The folder holding the CSV's images: next to it, or a sub-folder (``training/`` for
    ``training_frames_keypoints.csv``, ``images/``, ...), whichever has the most of the names."""
    d = csv_path.parent
    stem = csv_path.stem.lower()
    candidates = [d] + [c for c in sorted(d.iterdir()) if c.is_dir()]
    probe = names[:50]
    best, best_hits = d, -1
    for c in candidates:
        hits = sum((c / n).is_file() for n in probe)
        bonus = 0.5 if c.name.lower() in stem else 0.0
        if hits + bonus > best_hits:
            best, best_hits = c, hits + bonus
    return best


def _load_csv_images(csv_path: Path, size: int, progress: ProgressFn, skipped: list[str],
                     notes: list[str]) -> tuple[KeypointSplit, list[str]]:
    from PIL import Image, UnidentifiedImageError

    names, pts, bad_rows, point_names = _read_point_csv(csv_path)
    skipped.extend(bad_rows)
    folder = _image_folder_for(csv_path, names) if names else csv_path.parent
    images, points, kept = [], [], []
    n_outside = 0
    for i, (name, p) in enumerate(zip(names, pts)):
        if progress:
            progress(i, len(names))
        if np.isnan(p).any(1).all():
            skipped.append(f"{name}: no keypoints in the CSV")
            continue
        path = folder / name
        if not path.is_file():
            skipped.append(f"{name}: no such image in {folder}")
            continue
        try:
            with Image.open(path) as im:
                im.load()
                # a point outside the picture is a typo in the CSV: treat it as missing, or it would
                # blow up the crop around the face
                outside = ~np.isnan(p).any(1) & ((p[:, 0] < -0.5) | (p[:, 0] > im.width - 0.5)
                                                  | (p[:, 1] < -0.5) | (p[:, 1] > im.height - 0.5))
                if outside.any():
                    p = p.copy()
                    p[outside] = np.nan
                    n_outside += int(outside.sum())
                if np.isnan(p).any(1).all():
                    skipped.append(f"{name}: every keypoint lies outside the picture")
                    continue
                box = square_crop_box(p, im.width, im.height)
                crop = crop_grey(im, box, size)
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError,
                Image.DecompressionBombWarning) as exc:
            skipped.append(f"{name}: not a readable image ({type(exc).__name__})")
            continue
        x0, y0, side = box
        k = p.copy()
        k[:, 0] = (p[:, 0] + 0.5 - x0) * size / side - 0.5
        k[:, 1] = (p[:, 1] + 0.5 - y0) * size / side - 0.5
        images.append(crop)
        points.append(k)
        kept.append(name)
    if progress:
        progress(len(names), len(names))
    if n_outside:
        notes.append(f"{n_outside} point(s) in {csv_path.name} lay outside their picture and are treated as missing.")
    n_p = pts.shape[1]
    imgs = torch.from_numpy(np.stack(images)).unsqueeze(1) if images else torch.zeros((0, 1, size, size), dtype=torch.uint8)
    ptt = torch.from_numpy(np.stack(points).astype(np.float32)) if points else torch.zeros((0, n_p, 2))
    return KeypointSplit(imgs, ptt, kept), point_names


def load_csv_images(path: str | Path, size: int = 128, test_fraction: float = 0.15, seed: int = 0,
                    progress: ProgressFn = None) -> KeypointDataset:
    """The original layout: a CSV (``image_name, x0, y0, ...``) and its images.

    ``path``: a CSV file (split into train/test by ``seed``) or a folder. A folder with a CSV whose name
    has "train" and one whose name has "test" uses them as the two splits (the Udacity layout
    ``training_frames_keypoints.csv`` + ``training/``, ``test_frames_keypoints.csv`` + ``test/``).
    """
    path = Path(path)
    skipped: list[str] = []
    notes: list[str] = []
    if path.is_dir():
        csvs = sorted(path.glob("*.csv"))
        train_csv = [c for c in csvs if "train" in c.name.lower()]
        test_csv = [c for c in csvs if "test" in c.name.lower()]
        if train_csv and test_csv:
            train, pn = _load_csv_images(train_csv[0], size, progress, skipped, notes)
            test, _ = _load_csv_images(test_csv[0], size, progress, skipped, notes)
            if len(train) and len(test) and train.points.shape[1] != test.points.shape[1]:
                raise DataError(f"{train_csv[0].name} and {test_csv[0].name} have different numbers of points.")
            return _finish(path.name, train, test, str(path), skipped, notes, pn or None)
        if len(csvs) != 1:
            raise DataError(f"{path} must hold one keypoint CSV (or one with 'train' and one with 'test' in "
                            f"the name); found {len(csvs)}.")
        path = csvs[0]
    full, pn = _load_csv_images(path, size, progress, skipped, notes)
    if len(full) == 0:
        raise DataError(f"None of the images named in {path.name} could be used "
                        f"({len(skipped)} skipped, e.g. {skipped[0] if skipped else 'no rows'}).")
    train, test = _split(full.images, full.points, full.names, test_fraction, seed)
    return _finish(path.stem, train, test, str(path), skipped, notes, pn or None)


# --------------------------------------------------------------------------------------------- Kaggle
def _kaggle_csv(path: Path) -> bool:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError):
        return False
    return any(h.strip() == "Image" for h in header)


def load_kaggle(path: str | Path, size: Optional[int] = None, test_fraction: float = 0.15, seed: int = 0,
                progress: ProgressFn = None) -> KeypointDataset:
    """The Kaggle Facial Keypoints CSV (``training.csv``: ``<name>_x, <name>_y`` columns + ``Image``).

    ``path``: the CSV, or a folder holding it (``training.csv``; a ``test.csv`` without points is
    ignored because it cannot be scored). Rows keep their missing points as NaN. Split into train and
    test by ``seed``.
    """
    path = Path(path)
    if path.is_dir():
        found = [c for c in sorted(path.glob("*.csv")) if _kaggle_csv(c) and "test" not in c.name.lower()]
        if not found:
            raise DataError(f"{path} holds no CSV with an 'Image' column and keypoint columns.")
        path = found[0]
    csv.field_size_limit(1 << 28)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            rows = list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name} cannot be read as a CSV file ({exc}).") from None
    if "Image" not in header:
        raise DataError(f"{path.name} has no 'Image' column (the pixel values of each face).")
    xs = [h for h in header if h.endswith("_x")]
    point_names = [h[:-2] for h in xs]
    missing = [f"{n}_y" for n in point_names if f"{n}_y" not in header]
    if not xs or missing:
        raise DataError(f"{path.name} needs pairs of '<point>_x' and '<point>_y' columns"
                        + (f"; missing: {', '.join(missing)}." if missing else "; it has none."))
    ix = [header.index(f"{n}_x") for n in point_names]
    iy = [header.index(f"{n}_y") for n in point_names]
    iimg = header.index("Image")
    images, points, names, skipped = [], [], [], []
    side = None
    for i, r in enumerate(rows, start=2):
        if progress and i % 500 == 0:
            progress(i, len(rows))
        if len(r) != len(header):
            skipped.append(f"{path.name} line {i}: {len(r)} values instead of {len(header)}")
            continue
        try:
            pix = np.array(r[iimg].split(), dtype=np.float32) if r[iimg].strip() else np.zeros(0, np.float32)
        except ValueError:
            skipped.append(f"{path.name} line {i}: the Image column holds something other than numbers")
            continue
        pix = np.nan_to_num(pix, nan=0.0, posinf=255.0, neginf=0.0)
        s = int(round(math.sqrt(len(pix)))) if len(pix) else 0
        if s == 0 or s * s != len(pix) or (side is not None and s != side):
            skipped.append(f"{path.name} line {i}: the Image column does not hold a square picture"
                           + (f" of {side}x{side}" if side else ""))
            continue
        side = s
        images.append(np.clip(pix, 0, 255).astype(np.uint8).reshape(s, s))
        points.append([[_to_float(r[a]), _to_float(r[b])] for a, b in zip(ix, iy)])
        names.append(f"row {i}")
    if progress:
        progress(len(rows), len(rows))
    if not images:
        raise DataError(f"{path.name} has no usable rows.")
    imgs = torch.from_numpy(np.stack(images)).unsqueeze(1)
    pts = torch.tensor(points, dtype=torch.float32)
    train, test = _split(imgs, pts, names, test_fraction, seed)
    if size:
        train.images, train.points = _resize(train.images, train.points, size)
        test.images, test.points = _resize(test.images, test.points, size)
    miss = float(torch.isnan(pts[..., 0]).float().mean())
    notes = [f"{100 * miss:.0f}% of the points are missing; training masks them out."] if miss else []
    return _finish(path.stem, train, test, str(path), skipped, notes, point_names)


# --------------------------------------------------------------------------------------------- dispatch
def load_keypoints(path: str | Path, size: Optional[int] = None, *, test_fraction: float = 0.15, seed: int = 0,
                   progress: ProgressFn = None) -> KeypointDataset:
    """Load a keypoint data set from whatever ``path`` holds (see the module notes for the layouts).

    ``size``: the square side of the crops (``None``: keep the data's own size; 128 for CSV + images).
    """
    if path is None or str(path).strip() == "":
        raise DataError("Choose a keypoint data set: a folder with train.npz/test.npz, a .npz file, "
                        "a CSV with its images, or the Kaggle training.csv.")
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"There is no file or folder {path}.")
    if size is not None and not (16 <= int(size) <= 1024):
        raise DataError(f"The crop size must be between 16 and 1024 pixels, not {size}.")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return load_npz(path, size, test_fraction, seed)
        if suffix == ".csv":
            if _kaggle_csv(path):
                return load_kaggle(path, size, test_fraction, seed, progress)
            return load_csv_images(path, size or 128, test_fraction, seed, progress)
        raise DataError(f"{path.name} is not a keypoint data file (.npz or .csv).")
    if (path / "train.npz").is_file():
        return load_npz(path, size, test_fraction, seed)
    csvs = sorted(path.glob("*.csv"))
    if any(_kaggle_csv(c) for c in csvs):
        return load_kaggle(path, size, test_fraction, seed, progress)
    if csvs:
        return load_csv_images(path, size or 128, test_fraction, seed, progress)
    npzs = sorted(path.glob("*.npz"))
    if len(npzs) == 1:
        return load_npz(npzs[0], size, test_fraction, seed)
    raise DataError(f"{path} holds no keypoint data: expected train.npz (+ test.npz), a .npz file, "
                    f"a CSV of image names and points with the images, or the Kaggle training.csv.")


# --------------------------------------------------------------------------------------------- coordinates
def to_unit(points: torch.Tensor, size: int) -> torch.Tensor:
    """Pixels -> normalised ``u = (x - (S - 1) / 2) / (S / 2)`` (``F.affine_grid``'s align_corners=False)."""
    return (points - (size - 1) / 2) / (size / 2)


def from_unit(u: torch.Tensor, size: int) -> torch.Tensor:
    return u * (size / 2) + (size - 1) / 2


# --------------------------------------------------------------------------------------------- augmentation
# Face-detector crop jitter. At run time the webcam pipeline cuts its square crop from an OpenCV Haar
# box (haarcascade_frontalface_default.xml), not from the keypoints, so the face sits a little
# differently in the crop than in the data set's own crops. Measured by running that cascade on the
# 3114 train crops of ../shared/data/facial-keypoints (128 px; scaleFactor 1.1, minNeighbors 5,
# minSize 40x40; the largest box per crop; `scripts/train_keypoints.py --measure-haar` repeats it):
#   a box was found in 99.3% of the crops (3093). With b = the Haar box side (sqrt(w * h)):
#   keypoint extent / b: median 0.889 (5%-95%: 0.78-1.02), so the data's crop side (2 x extent)
#       is 1.78 b on average;
#   keypoint-box centre - Haar-box centre: x +0.007 b, y +0.167 b (median; the Haar box sits higher,
#       it covers the brows and forehead, the keypoints go down to the chin);
#   spread (robust std = 1.4826 x MAD): log(extent / b) 0.080, centre x 0.100 b, centre y 0.034 b.
# ``face_box_to_crop`` (app.engine.keypoints) uses the medians to place the crop around a detector box;
# the augmentation adds the spread, converted to fractions of the crop side (side = 1.78 b: x 0.056,
# y 0.019), as a log-normal scale and a normal shift, so the model is used to crops placed the way
# the detector places them.
HAAR_FOUND = 0.993
HAAR_EXT_RATIO = 0.889
HAAR_CROP_SCALE = 2 * HAAR_EXT_RATIO
HAAR_DX = 0.007
HAAR_DY = 0.167
HAAR_LOG_SCALE_STD = 0.080
HAAR_DX_STD = 0.100
HAAR_DY_STD = 0.034

# The one rule for placing the model's square crop around a detector face box (the live view, the CLI,
# the benchmark and every trained model's meta use it). A model's meta may carry its own "face_crop"
# numbers (same keys), measured for the data it was trained on.
DEFAULT_FACE_CROP = {"detector": "opencv haarcascade_frontalface_default",
                     "scale": round(HAAR_CROP_SCALE, 4), "dx": HAAR_DX, "dy": HAAR_DY}


def face_box_to_crop(box_xywh: Sequence[float], meta: dict | None = None) -> tuple[float, float, float]:
    """The square crop ``(x0, y0, side)`` (edge coordinates of the frame) to cut around a face box
    ``(x, y, w, h)`` from OpenCV's Haar detector, so the face sits in it as in the training crops:
    with ``b = sqrt(w * h)``, side ``scale * b``, centred ``(dx, dy) * b`` from the box centre. The numbers
    come from ``meta["face_crop"]`` (a model's meta) when given, else ``DEFAULT_FACE_CROP``."""
    fc = (meta or {}).get("face_crop") or DEFAULT_FACE_CROP
    x, y, w, h = (float(v) for v in box_xywh)
    b = math.sqrt(max(w, 1e-6) * max(h, 1e-6))
    side = float(fc.get("scale", DEFAULT_FACE_CROP["scale"])) * b
    cx = x + w / 2 + float(fc.get("dx", 0.0)) * b
    cy = y + h / 2 + float(fc.get("dy", 0.0)) * b
    return cx - side / 2, cy - side / 2, side


@dataclass
class KeypointAugment:
    """Random augmentation of a batch, on its device; the points move with the pixels.

    One affine matrix per image, drawn from a CPU generator (so a run is exactly reproducible):
    scale in ``scale``, rotation within +-``rotate`` degrees, shift within +-``shift`` of the side,
    plus the detector crop jitter (log-normal scale, normal shift), and a horizontal flip with
    probability ``flip`` that also swaps the left/right point indices. Brightness and contrast
    change per image. With ``geometric`` < 1 only that share of the images gets the scale, rotation,
    shift and jitter; the rest keep the data set's own framing. The sampled grid (``F.grid_sample``) pads with black, as the data's own crops do.
    """

    scale: tuple[float, float] = (0.8, 1.2)
    shift: float = 0.10
    rotate: float = 15.0
    flip: float = 0.5
    brightness: float = 0.15            # +- on the 0..1 scale
    contrast: tuple[float, float] = (0.7, 1.3)
    jitter_log_scale: float = HAAR_LOG_SCALE_STD
    jitter_shift: tuple[float, float] = (HAAR_DX_STD / (2 * HAAR_EXT_RATIO), HAAR_DY_STD / (2 * HAAR_EXT_RATIO))
    # the share of images that get the geometric change (scale, rotation, shift, detector jitter); the
    # others keep the data set's own crop framing (flip, brightness and contrast still apply to them)
    geometric: float = 1.0

    def matrices(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(forward 2x3 maps in normalised coordinates input -> output, flip mask), drawn on the CPU."""
        g = generator
        u = torch.rand(n, 6, generator=g)
        z = torch.randn(n, 3, generator=g)
        s = self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 0]
        s = s * torch.exp(self.jitter_log_scale * z[:, 0])
        a = math.radians(self.rotate) * (2 * u[:, 1] - 1)
        # shifts in normalised units (the side spans 2)
        tx = 2 * self.shift * (2 * u[:, 2] - 1) + 2 * self.jitter_shift[0] * z[:, 1]
        ty = 2 * self.shift * (2 * u[:, 3] - 1) + 2 * self.jitter_shift[1] * z[:, 2]
        if self.geometric < 1:     # (no extra draw at 1, so runs made before this setting replay exactly)
            keep = torch.rand(n, generator=g) < self.geometric
            s, a = torch.where(keep, s, 1.0), torch.where(keep, a, 0.0)
            tx, ty = torch.where(keep, tx, 0.0), torch.where(keep, ty, 0.0)
        flip = u[:, 4] < self.flip
        fx = torch.where(flip, -1.0, 1.0)
        cos, sin = torch.cos(a) * s, torch.sin(a) * s
        # p_out = F @ (s R p_in) + t, with F = diag(fx, 1) the mirror applied last
        m = torch.stack([torch.stack([fx * cos, -fx * sin, fx * tx], 1),
                         torch.stack([sin, cos, ty], 1)], 1)
        return m, flip

    def __call__(self, images: torch.Tensor, points: torch.Tensor, flip_permutation: Sequence[int],
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``images`` float (B, 1, S, S) on the 0..1 scale, ``points`` (B, P, 2) normalised (``to_unit``).

        Returns the augmented images (0..1) and points (normalised; NaN stays NaN).
        """
        n, dev = images.shape[0], images.device
        m, flip = self.matrices(n, generator)
        u = torch.rand(n, 2, generator=generator)
        m, flip = m.to(dev), flip.to(dev)
        full = torch.cat([m, torch.tensor([0.0, 0.0, 1.0], device=dev).expand(n, 1, 3)], 1)
        theta = torch.linalg.inv(full)[:, :2]            # output -> input, what affine_grid wants
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        pts = points @ m[:, :, :2].transpose(1, 2) + m[:, :, 2].unsqueeze(1)
        if flip.any():
            perm = torch.as_tensor(list(flip_permutation), device=dev, dtype=torch.long)
            pts = torch.where(flip.view(-1, 1, 1), pts[:, perm], pts)
        # brightness / contrast around each image's mean
        c = (self.contrast[0] + (self.contrast[1] - self.contrast[0]) * u[:, 0]).to(dev).view(-1, 1, 1, 1)
        b = (self.brightness * (2 * u[:, 1] - 1)).to(dev).view(-1, 1, 1, 1)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = ((out - mean) * c + mean + b).clamp(0, 1)
        return out, pts
