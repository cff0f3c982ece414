"""Checkpoints: written atomically, loaded without running code.

``save_checkpoint`` writes to a temporary file in the same folder, flushes and fsyncs it, then
renames it over the target, so an interrupted write (crash, SIGKILL, full disk) never replaces the
previous good file. ``load_checkpoint`` uses ``torch.load(weights_only=True)``: a pickle that tries
to run code is refused.
"""
from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from app.core.errors import CheckpointError, DiskFullError, UserError  # noqa: F401 (DiskFullError re-exported)
from app.core.files import atomic_write_bytes, atomic_write_text, sha256_file  # noqa: F401 (re-exported)

FORMAT = "visiondesk-checkpoint-1"


def save_checkpoint(obj: dict[str, Any], path: str | os.PathLike) -> None:
    """Serialise ``obj`` (tensors, dicts, lists, numbers, strings) and write it atomically."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely. Raises CheckpointError with a plain message on any problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}.")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path.name} was refused: it contains code or objects that a model file never needs, "
            f"so it was not opened (it may be unsafe)."
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise CheckpointError(f"{path.name} is not a readable checkpoint (damaged or not a PyTorch file): {exc}".splitlines()[0]) from exc
    except Exception as exc:  # anything else the unpickler raises on hostile input
        raise CheckpointError(f"{path.name} could not be read as a checkpoint: {type(exc).__name__}") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path.name} is not a VisionDesk checkpoint (it holds a {type(obj).__name__}).")
    return obj


def state_dict_from(obj: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The model weights inside a checkpoint (ours, or a bare state dict)."""
    if "model" in obj and isinstance(obj["model"], dict):
        return obj["model"]
    if all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    raise CheckpointError("The file holds no model weights.")
