"""Where VisionDesk keeps its files.

``resources/`` and ``weights/`` sit next to the ``app`` package (they ship with the program).
Everything the program writes (runs, downloaded data sets) goes under ``home_dir()``: the
user's data directory from platformdirs, or ``$VISIONDESK_HOME`` when that is set (tests set it
to a temporary folder so nothing touches the real user directory).
"""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

import app

APP_NAME = "VisionDesk"


def repo_dir() -> Path:
    """The folder that holds the ``app`` package, ``resources/`` and ``weights/``."""
    return Path(app.__file__).resolve().parent.parent


def portable_path(path: str | os.PathLike) -> str:
    """``path`` as the project's records should show it: relative to the project folder when it lies next to
    it (``../shared/data``), so no record holds one machine's absolute paths; else unchanged."""
    p = Path(path).expanduser().resolve()
    base = repo_dir()
    if p == base or base.parent in p.parents:
        return os.path.relpath(p, base)
    return str(path)


def resources_dir() -> Path:
    """Icons, style sheet and the small sample data shipped with the program."""
    return repo_dir() / "resources"


def weights_dir() -> Path:
    """Pretrained weights shipped with the program (+ manifest.json)."""
    return repo_dir() / "weights"


def home_dir() -> Path:
    """The user's VisionDesk folder: ``$VISIONDESK_HOME`` if set, else the platform data dir."""
    env = os.environ.get("VISIONDESK_HOME", "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_data_root() -> Path:
    """Where built-in data sets (MNIST, Fashion-MNIST, CIFAR-10) are looked for and downloaded to."""
    return home_dir() / "data"
