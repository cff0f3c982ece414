"""Data sets a person makes in the app: an ordinary folder with one sub-folder of JPEG pictures per class.

The folder is what ``load_folder`` (and ``visiondesk train --data folder --data-root FOLDER``) reads, and what a
file manager shows; VisionDesk adds only hidden entries the loader ignores:

- ``.visiondesk-set.json``: the order the person gave the classes (the loader sorts them by name anyway);
- ``.trash/``: what the last delete removed, so that it can be undone. Only the last delete can be undone:
  the next delete (or opening the set again) empties the trash for good.

New data sets go under ``user_sets_dir()`` (``<VisionDesk home>/datasets``); any existing class folder can be
opened and added to the same way. No Qt, no torch: the Data tab's data-set maker calls this module, and a test
can drive it with no display. Every problem a person can cause (a bad or taken name, a file that is not a
picture, a folder that cannot be written) is a ``DataError`` in plain words.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from app.core.errors import DataError
from app.core.files import atomic_write_bytes, atomic_write_text
from app.core.paths import home_dir

from .folder import IMAGE_EXTENSIONS

META_NAME = ".visiondesk-set.json"
TRASH_NAME = ".trash"
JPEG_QUALITY = 92
MAX_SIDE = 1024            # pictures larger than this are scaled down when added (a camera's 4K frame)
MAX_NAME = 80
_BAD_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def user_sets_dir() -> Path:
    """Where the data sets made in the app are kept: ``<VisionDesk home>/datasets``."""
    return home_dir() / "datasets"


def check_name(name: str, what: str = "class") -> str:
    """``name`` stripped, or a ``DataError`` saying why it cannot be a folder name on every system."""
    text = str(name or "").strip()
    if not text:
        raise DataError(f"Give the {what} a name.")
    if len(text) > MAX_NAME:
        raise DataError(f"The {what} name is too long ({len(text)} characters; at most {MAX_NAME}).")
    if text.startswith("."):
        raise DataError(f"A {what} name cannot start with a dot: such folders are hidden and would be left out.")
    if _BAD_CHARS.search(text):
        raise DataError(f"A {what} name cannot contain any of \\ / : * ? \" < > | (it is also a folder name).")
    if text.rstrip(".") != text or text.split(".")[0].lower() in _RESERVED:
        raise DataError(f"“{text}” cannot be used as a folder name on every system; choose another {what} name.")
    return text


@dataclass
class Deleted:
    """What the last delete removed: a class folder or some pictures of a class (moved into the trash)."""

    kind: str                                  # "class" | "pictures"
    class_name: str
    items: list[tuple[Path, Path]] = field(default_factory=list)   # (original path, where it is in the trash)
    order_index: int = -1                      # the class's place in the order (kind "class")

    def describe(self) -> str:
        if self.kind == "class":
            return f"the class “{self.class_name}”"
        n = len(self.items)
        return f"{n} picture{'s' if n != 1 else ''} of “{self.class_name}”"


class UserSet:
    """One data set folder. Every change is made on disk at once; nothing is kept only in memory."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.last_deleted: Deleted | None = None
        self._counter = 0

    # -- creating and opening ------------------------------------------------------------------------
    @classmethod
    def create(cls, name: str, parent: str | os.PathLike | None = None, classes: list[str] = ()) -> "UserSet":
        """A new, empty data set folder ``parent/name`` (parent: ``user_sets_dir()``)."""
        name = check_name(name, "data set")
        base = Path(parent) if parent else user_sets_dir()
        root = base / name
        if root.exists():
            raise DataError(f"There is already a data set called “{name}” in {base}; choose another name, or "
                            f"open that one to add pictures to it.")
        try:
            root.mkdir(parents=True)
        except OSError as exc:
            raise DataError(f"Cannot create the folder {root}: {exc.strerror or exc}.") from None
        made = cls(root)
        for c in classes:
            made.add_class(c)
        return made

    @classmethod
    def open(cls, root: str | os.PathLike) -> "UserSet":
        """An existing folder of class sub-folders (any folder: a new one starts with no classes). The trash
        of an earlier session is emptied: its delete can no longer be undone."""
        from .folder import TRAIN_TEST_NAMES, WrongLevel, check_level

        path = Path(root).expanduser()
        if not path.is_dir():
            raise DataError(f"{path} is not a folder; choose the folder that holds one sub-folder per class.")
        check_level(path)                  # one level off: WrongLevel names the folder to open instead
        subs = {p.name.lower(): p for p in path.iterdir() if p.is_dir()}
        train = next((subs[n] for n in TRAIN_TEST_NAMES[0] if n in subs), None)
        if train is not None and any(n in subs for n in TRAIN_TEST_NAMES[1]):
            raise WrongLevel(f"{path.name} holds {train.name}/ and a test folder, each with the classes; open "
                             f"{train.name} to add pictures to the classes it trains on.", train)
        made = cls(path)
        made._empty_trash()
        return made

    @staticmethod
    def existing(parent: str | os.PathLike | None = None) -> list[Path]:
        """The data sets made in the app (folders under ``user_sets_dir()``), by name."""
        base = Path(parent) if parent else user_sets_dir()
        try:
            return sorted((p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")),
                          key=lambda p: p.name.lower())
        except OSError:
            return []

    @property
    def name(self) -> str:
        return self.root.name

    # -- classes ---------------------------------------------------------------------------------------
    def classes(self) -> list[str]:
        """The class folders, in the order the person gave them (new folders found on disk at the end)."""
        try:
            found = {p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
                     and p.name.lower() not in ("__macosx", "@eadir")}
        except OSError as exc:
            raise DataError(f"Cannot read the folder {self.root}: {exc.strerror or exc}.") from None
        order = [c for c in self._meta().get("order", []) if c in found]
        return order + sorted(found - set(order), key=str.lower)

    def _class_dir(self, name: str) -> Path:
        if name not in self.classes():
            raise DataError(f"There is no class “{name}” in {self.name}.")
        return self.root / name

    def _check_new(self, name: str, ignore: str | None = None) -> str:
        name = check_name(name)
        taken = {c.casefold() for c in self.classes() if c != ignore}
        if name.casefold() in taken:
            raise DataError(f"There is already a class called “{name}”.")
        return name

    def add_class(self, name: str) -> str:
        name = self._check_new(name)
        try:
            (self.root / name).mkdir(parents=True)
        except OSError as exc:
            raise DataError(f"Cannot create the class folder {self.root / name}: {exc.strerror or exc}.") from None
        self._save_order([*self.classes()])
        return name

    def rename_class(self, old: str, new: str) -> str:
        src = self._class_dir(old)
        new = self._check_new(new, ignore=old)
        if new == old:
            return old
        order = [new if c == old else c for c in self.classes()]
        try:
            if new.casefold() == old.casefold():          # a change of case only: go through a temporary name
                tmp = self.root / f".rename-{time.time_ns()}"
                src.rename(tmp)
                tmp.rename(self.root / new)
            else:
                src.rename(self.root / new)
        except OSError as exc:
            raise DataError(f"Cannot rename the class folder {src}: {exc.strerror or exc}.") from None
        self._save_order(order)
        return new

    def move_class(self, name: str, index: int) -> list[str]:
        """Put ``name`` at position ``index`` of the order (clamped); returns the new order."""
        order = self.classes()
        if name not in order:
            raise DataError(f"There is no class “{name}” in {self.name}.")
        order.remove(name)
        order.insert(max(0, min(int(index), len(order))), name)
        self._save_order(order)
        return order

    def delete_class(self, name: str) -> Deleted:
        """Move the class folder (with its pictures) to the trash; ``undo()`` puts it back."""
        src = self._class_dir(name)
        index = self.classes().index(name)
        slot = self._new_trash_slot()
        try:
            shutil.move(str(src), str(slot / name))
        except OSError as exc:
            raise DataError(f"Cannot delete the class folder {src}: {exc.strerror or exc}.") from None
        self.last_deleted = Deleted("class", name, [(src, slot / name)], index)
        return self.last_deleted

    # -- pictures --------------------------------------------------------------------------------------
    def pictures(self, class_name: str) -> list[Path]:
        """The picture files of a class (its sub-folders included), oldest name first."""
        folder = self._class_dir(class_name)
        out = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            out += [Path(dirpath) / f for f in filenames
                    if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]
        return sorted(out)

    def counts(self) -> dict[str, int]:
        return {c: len(self.pictures(c)) for c in self.classes()}

    def _new_picture_path(self, folder: Path) -> Path:
        while True:
            self._counter += 1
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = folder / f"{stamp}-{time.time_ns() % 1_000_000_000:09d}-{self._counter:04d}.jpg"
            if not path.exists():
                return path

    def add_picture(self, class_name: str, image: np.ndarray | Image.Image) -> Path:
        """Save a picture (an RGB or grey uint8 array, or a Pillow image) as a new JPEG of the class."""
        folder = self._class_dir(class_name)
        im = image if isinstance(image, Image.Image) else Image.fromarray(np.ascontiguousarray(image))
        if im.mode not in ("RGB", "L"):
            im = _flatten(im)
        if max(im.size) > MAX_SIDE:
            im = im.copy()
            im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=JPEG_QUALITY)
        path = self._new_picture_path(folder)
        try:
            atomic_write_bytes(path, buf.getvalue())
        except OSError as exc:
            raise DataError(f"Cannot save a picture in {folder}: {exc.strerror or exc}.") from None
        return path

    def add_files(self, class_name: str, paths: list[str | os.PathLike]) -> tuple[list[Path], list[str]]:
        """Copy picture files into the class as JPEGs. Returns (new files, "name: why" for each file skipped)."""
        self._class_dir(class_name)
        added, skipped = [], []
        for p in paths:
            p = Path(p)
            try:
                with Image.open(p) as im:
                    im.load()
                    added.append(self.add_picture(class_name, im))
            except DataError:
                raise
            except (UnidentifiedImageError, Image.DecompressionBombError):
                skipped.append(f"{p.name}: not a picture VisionDesk can read")
            except (OSError, ValueError) as exc:
                skipped.append(f"{p.name}: cannot be read ({getattr(exc, 'strerror', None) or 'damaged file'})")
        return added, skipped

    def delete_pictures(self, class_name: str, paths: list[str | os.PathLike]) -> Deleted:
        """Move pictures of a class to the trash; ``undo()`` puts them back."""
        folder = self._class_dir(class_name).resolve()
        paths = [Path(p) for p in paths]
        for p in paths:
            if folder not in p.resolve().parents or not p.is_file():
                raise DataError(f"{p.name} is not a picture of the class “{class_name}”.")
        slot = self._new_trash_slot()
        items = []
        try:
            for i, p in enumerate(paths):
                dest = slot / f"{i:05d}{p.suffix}"
                shutil.move(str(p), str(dest))
                items.append((p, dest))
        except OSError as exc:
            self.last_deleted = Deleted("pictures", class_name, items)
            raise DataError(f"Cannot delete {p.name}: {exc.strerror or exc}. Undo puts back the "
                            f"{len(items)} removed before it.") from None
        self.last_deleted = Deleted("pictures", class_name, items)
        return self.last_deleted

    # -- undo ------------------------------------------------------------------------------------------
    def can_undo(self) -> bool:
        return self.last_deleted is not None

    def undo(self) -> str:
        """Put back what the last delete removed; returns what it was, in words."""
        d = self.last_deleted
        if d is None:
            raise DataError("There is nothing to undo.")
        if d.kind == "class" and (self.root / d.class_name).exists():
            raise DataError(f"A class called “{d.class_name}” exists again, so the deleted one cannot be put back; "
                            f"rename the new one first.")
        try:
            for original, trashed in d.items:
                original.parent.mkdir(parents=True, exist_ok=True)
                target = original if not original.exists() else self._new_picture_path(original.parent)
                shutil.move(str(trashed), str(target))
        except OSError as exc:
            raise DataError(f"Cannot put the deleted files back: {exc.strerror or exc}.") from None
        if d.kind == "class":
            order = [c for c in self.classes() if c != d.class_name]
            order.insert(max(0, min(d.order_index, len(order))), d.class_name)
            self._save_order(order)
        self.last_deleted = None
        self._empty_trash()
        return d.describe()

    # -- the hidden files ------------------------------------------------------------------------------
    def _new_trash_slot(self) -> Path:
        self._empty_trash()                          # only the last delete can be undone
        slot = self.root / TRASH_NAME / str(time.time_ns())
        try:
            slot.mkdir(parents=True)
        except OSError as exc:
            raise DataError(f"Cannot write in {self.root}: {exc.strerror or exc}.") from None
        return slot

    def _empty_trash(self) -> None:
        self.last_deleted = None
        shutil.rmtree(self.root / TRASH_NAME, ignore_errors=True)

    def _meta(self) -> dict:
        try:
            data = json.loads((self.root / META_NAME).read_text(encoding="utf-8"))
            return data if isinstance(data, dict) and isinstance(data.get("order", []), list) else {}
        except (OSError, ValueError):
            return {}

    def _save_order(self, order: list[str]) -> None:
        meta = self._meta()
        meta["order"] = list(order)
        try:
            atomic_write_text(self.root / META_NAME, json.dumps(meta, indent=1, ensure_ascii=False))
        except OSError:
            pass          # the order is a convenience: the classes themselves are the folders


def _flatten(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB (transparent parts white, as viewers show them)."""
    if im.mode in ("RGBA", "LA", "PA", "P") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        out = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        out.alpha_composite(rgba)
        return out.convert("RGB")
    if im.mode in ("I", "I;16", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = arr.max() if arr.size else 1.0
        return Image.fromarray(np.clip(arr * (255.0 / (65535.0 if hi > 255 else 255.0)), 0, 255).astype(np.uint8))
    return im.convert("RGB")


__all__ = ["UserSet", "Deleted", "check_name", "user_sets_dir", "META_NAME", "TRASH_NAME"]
