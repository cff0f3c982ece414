"""The one check of every numeric setting a person gives (command-line options, and the same names in
config.json and checkpoints): a whole number or a finite number inside its allowed range, refused in one
plain line that names the range. No torch, no Qt.

``RANGES`` is keyed by the setting's name (the command line's option with ``-`` as ``_``, e.g.
``batch_size`` for ``--batch-size``); ``check_value`` checks one value, ``check_options`` every known
name on an argparse namespace (what ``visiondesk`` does once after parsing, for every command).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from app.core.errors import UserError

MAX_SEED = 2**32 - 1           # numpy's seeds are 32-bit
MAX_CLASSES = 100_000          # classes a model may have (more is a damaged file, not a data set)
MAX_SCORE_SAMPLES = 100_000    # generated images for a GAN score


@dataclass(frozen=True)
class Range:
    lo: float | None
    hi: float | None
    whole: bool = False          # a whole number
    lo_open: bool = False        # lo itself is not allowed
    hi_open: bool = False
    note: str = ""               # what the value means, for the message

    def text(self) -> str:
        if self.lo is not None and self.hi is not None:
            if self.whole:
                return f"a whole number of at least {_num(self.lo)} and at most {_num(self.hi)}"
            right = "below" if self.hi_open else "at most"
            if self.lo == 0 and self.lo_open:
                return f"a positive number {right} {_num(self.hi)}"
            left = "above" if self.lo_open else "of at least"
            return f"a number {left} {_num(self.lo)} and {right} {_num(self.hi)}"
        if self.lo is not None:
            kind = "a whole number" if self.whole else "a number"
            return f"{kind} {'above' if self.lo_open else 'of at least'} {_num(self.lo)}"
        return "a whole number" if self.whole else "a number"


def _num(v: float) -> str:
    return f"{int(v):,}".replace(",", " ") if float(v).is_integer() and abs(v) >= 10000 else (
        str(int(v)) if float(v).is_integer() else repr(v))


RANGES: dict[str, Range] = {
    # training (train, gan train, keypoints train)
    "epochs": Range(1, 100_000, whole=True),
    "batch_size": Range(1, 65_536, whole=True),
    "lr": Range(0, 100, lo_open=True, hi_open=True, note="the learning rate"),
    "momentum": Range(0, 1, hi_open=True),
    "weight_decay": Range(0, None),
    "label_smoothing": Range(0, 1, hi_open=True),
    "seed": Range(0, MAX_SEED, whole=True),
    "image_size": Range(8, 1024, whole=True, note="pixels"),
    "size": Range(8, 1024, whole=True, note="pixels"),
    "beta": Range(0, 10, note="the SmoothL1 beta"),
    "beta1": Range(0, 1, hi_open=True, note="Adam's beta1"),
    "score_every": Range(1, 100_000, whole=True),
    "score_samples": Range(2, MAX_SCORE_SAMPLES, whole=True),
    # gan generate / score
    "n": Range(1, 4096, whole=True),
    "nrow": Range(1, 4096, whole=True),
    "scale": Range(1, 32, whole=True),
    "steps": Range(2, 256, whole=True),
    "samples": Range(2, MAX_SCORE_SAMPLES, whole=True),
    # summary
    "classes": Range(1, MAX_CLASSES, whole=True),
    # keypoints video
    "threads": Range(0, 256, whole=True, note="0: as the live view"),
    "max_frames": Range(0, 10**9, whole=True, note="0: every frame"),
    "redetect_every": Range(1, 10_000, whole=True),
}

#: the command line's spelling where it is not ``--`` + the name with ``-``
FLAGS = {"class_": "--class"}

DEVICE = re.compile(r"^(auto|cpu|cuda(:\d{1,3})?|mps)$")


def flag(name: str) -> str:
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def check_value(name: str, value: Any, *, label: str | None = None) -> Any:
    """``value`` when it is a number inside ``RANGES[name]``; else ``UserError`` naming the range."""
    rng = RANGES[name]
    label = label or flag(name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and isinstance(value, float) and not math.isfinite(value):
        ok = False
    if ok and rng.whole and not float(value).is_integer():
        ok = False
    if ok and rng.lo is not None and (value < rng.lo or (rng.lo_open and value == rng.lo)):
        ok = False
    if ok and rng.hi is not None and (value > rng.hi or (rng.hi_open and value == rng.hi)):
        ok = False
    if not ok:
        note = f" ({rng.note})" if rng.note and label.startswith("--") else ""
        raise UserError(f"{label} must be {rng.text()}{note}, not {_shown(value)}.")
    return value


def check_device(value: Any, *, label: str = "--device") -> Any:
    if value is None:
        return value
    if not isinstance(value, str) or not DEVICE.match(value.strip().lower()):
        raise UserError(f"{label} must be auto, cpu, cuda or cuda:N (a GPU's number), not {_shown(value)}.")
    return value


def check_options(args: Any) -> None:
    """Every numeric option on an argparse namespace (None: not given) and the device, in one go."""
    for name, value in vars(args).items():
        if value is None:
            continue
        if name in RANGES:
            if isinstance(value, (list, tuple)):
                for v in value:
                    check_value(name, v)
            else:
                check_value(name, value)
        elif name == "device":
            check_device(value)
        elif name == "interpolate" and value:
            for v in value:
                if not 0 <= v < 4096:
                    raise UserError(f"--interpolate needs two sample numbers from 0 to 4095, not {v}.")


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 40 else text[:37] + "..."
