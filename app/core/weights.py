"""Weights the project trained itself and ships in ``weights/``, recorded in ``weights/manifest.json``.

Every entry says how the file was made (data, epochs, seed, command, scores) and its sha256; a file
is checked against that sha256 before use, so a damaged or swapped file is never loaded.
"""
from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core.files import atomic_write_text, sha256_file
from app.core.errors import CheckpointError


def weights_dir() -> Path:
    from app.core import paths

    return Path(os.environ.get("VISIONDESK_WEIGHTS") or paths.weights_dir())


def manifest_path() -> Path:
    return weights_dir() / "manifest.json"


def read_manifest() -> dict[str, Any]:
    p = manifest_path()
    if not p.is_file():
        return {"weights": {}}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"weights/manifest.json is damaged: {exc}") from exc
    data.setdefault("weights", {})
    return data


@contextmanager
def _locked():
    weights_dir().mkdir(parents=True, exist_ok=True)
    with open(weights_dir() / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def register_weight(name: str, file: str | Path, **info: Any) -> dict[str, Any]:
    """Add or replace the manifest entry ``name`` for ``file`` (inside weights/), with its sha256.

    ``info`` should say: task, model, data, epochs, seed, command, and the measured scores.
    """
    file = Path(file).resolve()
    rel = file.relative_to(weights_dir().resolve())
    entry = {"file": str(rel), "sha256": sha256_file(file), "bytes": file.stat().st_size, **info}
    with _locked():
        data = read_manifest()
        data["weights"][name] = entry
        data["weights"] = dict(sorted(data["weights"].items()))
        atomic_write_text(manifest_path(), json.dumps(data, indent=2) + "\n")
    return entry


def weight_entry(name: str) -> dict[str, Any]:
    entries = read_manifest()["weights"]
    if name not in entries:
        raise CheckpointError(f"No shipped weights named '{name}' (known: {', '.join(sorted(entries)) or 'none'}).")
    return entries[name]


def list_weights(task: str | None = None) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in read_manifest()["weights"].items() if task is None or v.get("task") == task}


def verified_weight_path(name: str) -> Path:
    """The path of shipped weights ``name`` after checking its sha256 against the manifest."""
    entry = weight_entry(name)
    path = weights_dir() / entry["file"]
    if not path.is_file():
        raise CheckpointError(f"The shipped weights file {entry['file']} is missing from {weights_dir()}.")
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise CheckpointError(f"{entry['file']} does not match its checksum in weights/manifest.json "
                              f"(damaged or replaced), so it was not loaded.")
    return path
