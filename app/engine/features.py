"""Frozen-backbone features, computed once per data set and kept on disk (torch only, no Qt).

A pretrained backbone that is not trained gives every image the same feature vector in every epoch,
so it is run once: batched, in ``torch.no_grad()``, with progress and cancellation, for each *view*
of the images asked for ("orig"; "hflip", the mirrored picture, can serve as augmentation and be
averaged for testing, see ``app.engine.transfer.VIEWS``). The vectors are cached under ``home_dir()/cache/features`` in one file per
(data set fingerprint, backbone, input size, view); the fingerprint is a hash of the decoded images
and labels, so a folder that gains, loses or changes a file gets new features. A cache file of
another format, damaged or not matching, is ignored and recomputed; a cache folder that cannot be
written (no permission, disk full) only costs the next run the extraction. Each such case is told in
one plain line (``messages``) and never stops training.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from app.core.errors import DiskFullError
from app.core.files import OutputError, atomic_write_bytes
from app.core.paths import home_dir
from app.data.base import ImageDataset, ImageSplit
from app.data.batches import DeviceLoader, TensorBatches

#: bump when the file layout or the meaning of the stored vectors changes (older files are recomputed)
FORMAT = 2
SUPPORTED_VIEWS = ("orig", "hflip")          # the views a cache file can hold (transfer.VIEWS: those used)
MAX_CACHE_BYTES = 2 << 30          # older cache files beyond this are deleted, oldest first

ProgressFn = Optional[Callable[[int, int], None]]
CancelFn = Optional[Callable[[], bool]]


def cache_dir() -> Path:
    """Where feature files live (``$VISIONDESK_HOME/cache/features`` or the user data dir's)."""
    return home_dir() / "cache" / "features"


def dataset_fingerprint(ds: ImageDataset) -> str:
    """A hash of what the features depend on: every decoded image, label and the split.

    Worked out once per loaded data set (the Train tab's time estimate asks at every settings change, and
    Start asks again): kept on the data set with the identity of the tensors it hashed, so a data set whose
    splits were replaced is hashed again."""
    tensors = (ds.train.images, ds.train.labels, ds.test.images, ds.test.labels)
    ident = (tuple(id(t) for t in tensors), tuple(ds.classes))
    known = getattr(ds, "_features_fingerprint", None)
    if known is not None and known[0] == ident:
        return known[1]
    value = _hash_dataset(ds)
    try:
        ds._features_fingerprint = (ident, value)
    except AttributeError:          # a data set type with fixed attributes: just not remembered
        pass
    return value


def _hash_dataset(ds: ImageDataset) -> str:
    h = hashlib.blake2b(digest_size=16)
    for split in (ds.train, ds.test):
        images = split.images.contiguous()
        h.update(repr((tuple(images.shape), str(images.dtype))).encode())
        h.update(memoryview(images.numpy()).cast("B"))
        h.update(memoryview(split.labels.to(torch.int64).contiguous().numpy()).cast("B"))
    h.update(json.dumps(list(ds.classes)).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


@dataclass
class FeatureSet:
    """Features of one data set: ``train`` / ``test`` are (views, N, D) float tensors on the CPU."""
    train: torch.Tensor
    test: torch.Tensor
    views: tuple[str, ...]
    from_cache: list[str] = field(default_factory=list)       # the views read from disk
    messages: list[str] = field(default_factory=list)         # plain lines for the person
    seconds: float = 0.0                                      # time spent computing (not reading)
    cancelled: bool = False


@torch.no_grad()
def extract(backbone: torch.nn.Module, split: ImageSplit, *, mean: Sequence[float], std: Sequence[float],
            device: torch.device | str = "cpu", view: str = "orig", batch_size: int = 64,
            progress: Callable[[int], None] | None = None, cancel: CancelFn = None) -> Optional[torch.Tensor]:
    """``backbone(x)`` for every image of ``split`` (normalised with ``mean``/``std``), as (N, D) float32 on
    the CPU; None when ``cancel()`` said stop. ``progress(images_done)`` after every batch."""
    if view not in SUPPORTED_VIEWS:
        raise ValueError(f"unknown view {view!r}")
    device = torch.device(device)
    loader = DeviceLoader(split, batch_size, device, mean=mean, std=std, shuffle=False, drop_last=False)
    was_training = backbone.training
    backbone.eval()
    # on a CPU, channels-last activations run the depthwise convolutions faster (measured in bench/transfer.py)
    layout = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    backbone.to(memory_format=layout)
    out: list[torch.Tensor] = []
    done = 0
    try:
        for x, _ in loader:
            if cancel is not None and cancel():
                return None
            if view == "hflip":
                x = x.flip(3)
            x = x.contiguous(memory_format=layout)
            out.append(backbone(x).float().cpu())
            done += x.shape[0]
            if progress is not None:
                progress(done)
    finally:
        backbone.train(was_training)
    if not out:
        return torch.empty(0, 0)
    return torch.cat(out)


def _key(fingerprint: str, backbone_key: str, input_size: int, view: str) -> dict:
    return {"format": FORMAT, "data": fingerprint, "backbone": backbone_key, "input_size": int(input_size),
            "view": view}


def _file_for(key: dict) -> Path:
    name = hashlib.blake2b(json.dumps(key, sort_keys=True).encode(), digest_size=12).hexdigest()
    return cache_dir() / f"{name}.pt"


def features_saved(ds: ImageDataset, backbone_key: str, input_size: int, views) -> bool:
    """True when the features of every view of ``ds`` for this backbone are on disk already (a run would
    only read them; whether the files are intact is checked when they are read)."""
    fingerprint = dataset_fingerprint(ds)
    return all(_file_for(_key(fingerprint, backbone_key, input_size, v)).is_file() for v in views)


def _read(path: Path, key: dict, n_train: int, n_test: int) -> tuple[Optional[tuple[torch.Tensor, torch.Tensor]], str]:
    """(train, test) from a cache file, or (None, why not) with why == "" when there is no file."""
    if not path.is_file():
        return None, ""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:      # damaged, truncated, or not a tensor file at all
        return None, "damaged"
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        return None, "older"
    if obj.get("key") != key:
        return None, "damaged"
    train, test = obj.get("train"), obj.get("test")
    if not (isinstance(train, torch.Tensor) and isinstance(test, torch.Tensor) and train.dim() == 2
            and test.dim() == 2 and train.shape[0] == n_train and test.shape[0] == n_test
            and train.shape[1] == test.shape[1]):
        return None, "damaged"
    return (train.float(), test.float()), ""


def _write(path: Path, key: dict, train: torch.Tensor, test: torch.Tensor) -> str:
    """Save a cache file atomically; returns "" or why it could not be saved (plain words)."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "key": key, "train": train.half(), "test": test.half()}, buf)
    try:
        atomic_write_bytes(path, buf.getvalue())
    except DiskFullError:
        return "the disk is full"
    except OutputError:            # the output check refused the place (a file where a folder should be, ...)
        return "the cache folder cannot be written to"
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return "the folder cannot be written to"
        return exc.strerror or "the file could not be written"
    _trim(path.parent, keep=path)
    return ""


def _trim(folder: Path, keep: Path) -> None:
    """Delete the oldest cache files while the folder holds more than MAX_CACHE_BYTES."""
    try:
        files = sorted((p for p in folder.glob("*.pt") if p != keep), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files) + keep.stat().st_size
        for p in files:
            if total <= MAX_CACHE_BYTES:
                break
            total -= p.stat().st_size
            p.unlink()
    except OSError:
        pass


def cached_features(ds: ImageDataset, backbone: torch.nn.Module, *, backbone_key: str, input_size: int,
                    mean: Sequence[float], std: Sequence[float], views: Sequence[str] = SUPPORTED_VIEWS,
                    device: torch.device | str = "cpu", batch_size: int = 64,
                    progress: ProgressFn = None, cancel: CancelFn = None, use_cache: bool = True) -> FeatureSet:
    """The features of ``ds`` for each view: read from the cache, else computed (and saved).

    ``progress(done, total)`` counts images over all views still to compute. ``backbone_key`` must
    change whenever ``backbone`` would give other numbers (name, weights, feature layers)."""
    fingerprint = dataset_fingerprint(ds)
    n_train, n_test = len(ds.train), len(ds.test)
    messages: list[str] = []
    found: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    from_cache: list[str] = []
    stale = False
    for view in views:
        key = _key(fingerprint, backbone_key, input_size, view)
        got, why = _read(_file_for(key), key, n_train, n_test) if use_cache else (None, "")
        if got is not None:
            found[view] = got
            from_cache.append(view)
        elif why:
            stale = True
    if stale:
        messages.append("The saved image features for this data set were written by another version of "
                        "VisionDesk or are damaged, so they are computed again.")
    todo = [v for v in views if v not in found]
    total = len(todo) * (n_train + n_test)
    done_before = 0
    t0 = time.perf_counter()
    unsaved = ""
    if todo and progress is not None:
        progress(0, total)
    for view in todo:
        parts = []
        for split in (ds.train, ds.test):
            base = done_before

            def step(n: int, base=base) -> None:
                if progress is not None:
                    progress(base + n, total)

            feats = extract(backbone, split, mean=mean, std=std, device=device, view=view,
                            batch_size=batch_size, progress=step, cancel=cancel)
            if feats is None:
                return FeatureSet(torch.empty(0), torch.empty(0), tuple(views), from_cache, messages,
                                  time.perf_counter() - t0, cancelled=True)
            # stored as float16: the same numbers whether this run computed them or a later run reads them
            parts.append(feats.half().float())
            done_before += len(split)
        found[view] = (parts[0], parts[1])
        if use_cache and not unsaved:
            key = _key(fingerprint, backbone_key, input_size, view)
            unsaved = _write(_file_for(key), key, parts[0], parts[1])
    if unsaved:
        messages.append(f"The image features could not be saved for next time ({unsaved}: {cache_dir()}); "
                        f"this run goes on, and the next run computes them again.")
    seconds = time.perf_counter() - t0 if todo else 0.0
    train = torch.stack([found[v][0] for v in views])
    test = torch.stack([found[v][1] for v in views])
    return FeatureSet(train, test, tuple(views), from_cache, messages, seconds)


class FeatureLoader(TensorBatches):
    """Shuffled mini-batches ``(features, labels)`` of cached features: every view of every training
    image is one sample (the mirrored picture is augmentation)."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor, batch_size: int, device,
                 drop_last: bool = False) -> None:
        views, n, d = features.shape
        super().__init__(features.reshape(views * n, d), labels.to(torch.int64).repeat(views), batch_size, device,
                         drop_last=drop_last)
