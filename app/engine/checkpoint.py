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


def check_meta(meta: dict[str, Any], file_name: str) -> dict[str, Any]:
    """Every field of a model description that VisionDesk reads, checked after the safe load: right type,
    sensible size (a damaged or hand-made file with 3 million class names, text for the mean or a negative
    image size is refused in plain words before anything is built or allocated). Returns ``meta``."""
    import math

    from app.core.options import MAX_CLASSES

    def bad(field: str, what: str) -> CheckpointError:
        return CheckpointError(f"{file_name} is damaged or not a VisionDesk model file: its '{field}' {what}.")

    def whole(field: str, v: Any, lo: int, hi: int) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer() or not lo <= v <= hi:
            raise bad(field, f"must be whole numbers from {lo} to {hi}")
        return int(v)

    if "model" in meta and not isinstance(meta["model"], str):
        raise bad("model", "is not a model name")
    if "model_options" in meta and meta["model_options"] is not None and not isinstance(meta["model_options"], dict):
        raise bad("model_options", "is not a list of settings")
    for field in ("classes", "point_names"):
        if field in meta and meta[field] is not None:
            v = meta[field]
            if not isinstance(v, (list, tuple)) or len(v) > MAX_CLASSES:
                raise bad(field, f"must be a list of at most {MAX_CLASSES} names")
            if not all(isinstance(c, str) and len(c) <= 1000 for c in v):
                raise bad(field, "must hold names (text)")
    if isinstance(meta.get("classes"), (list, tuple)) and len(meta["classes"]) == 0:
        raise bad("classes", "is empty")
    channels = None
    for field in ("input_shape", "image_shape"):
        if field in meta:
            v = meta[field]
            if not isinstance(v, (list, tuple)) or len(v) != 3:
                raise bad(field, "must be three numbers (channels, height, width)")
            channels = whole(field, v[0], 1, 64)
            whole(field, v[1], 1, 4096)
            whole(field, v[2], 1, 4096)
    for field in ("mean", "std"):
        if field in meta:
            v = meta[field]
            vals = list(v) if isinstance(v, (list, tuple)) else [v]
            if not vals or len(vals) > 64 or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in vals):
                raise bad(field, "must be one finite number per channel")
            if field == "std" and not all(x > 0 for x in vals):
                raise bad(field, "must be positive")
            if channels is not None and len(vals) not in (1, channels):
                raise bad(field, f"has {len(vals)} values for {channels} channel(s)")
    for field, lo, hi in (("input_size", 8, 4096), ("num_points", 1, 10_000), ("latent_dim", 1, 65_536)):
        if field in meta:
            whole(field, meta[field], lo, hi)
    if "flip_permutation" in meta and meta["flip_permutation"] is not None:
        v, n = meta["flip_permutation"], meta.get("num_points")
        if not isinstance(v, (list, tuple)) or (isinstance(n, int) and len(v) not in (0, n)):
            raise bad("flip_permutation", "does not list one point per point")
        for x in v:
            whole("flip_permutation", x, 0, max(0, int(n) - 1) if isinstance(n, int) else 10_000)
    if "eye_corners" in meta and meta["eye_corners"] is not None:
        v = meta["eye_corners"]
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise bad("eye_corners", "must be two point numbers")
        for x in v:
            whole("eye_corners", x, 0, 10_000)
    return meta


def state_dict_from(obj: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The model weights inside a checkpoint (ours, or a bare state dict)."""
    if "model" in obj and isinstance(obj["model"], dict):
        return obj["model"]
    if all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    raise CheckpointError("The file holds no model weights.")


def rebuild_from_checkpoint(state: dict[str, Any], meta: dict[str, Any], *, channels: int, size: tuple[int, int],
                            outputs: int, file_name: str, part=None, options: dict | None = None,
                            device: str | torch.device = "cpu", what: str = "model") -> torch.nn.Module:
    """The model a checkpoint describes, rebuilt from its stored name (``meta["model"]``) and options
    (``meta["model_options"]``, updated with ``options``), with its weights loaded, in eval mode on ``device``.

    ``part(net)`` picks the module the weights belong to (e.g. a GAN's generator) and may raise
    ``ValueError`` when the built model does not match the description. Every problem is a
    ``CheckpointError`` in plain words naming ``file_name``.
    """
    from app.models import build_model

    try:
        stored = meta.get("model_options") or {}
        if not isinstance(stored, dict):
            raise TypeError("its model options are not a list of settings")
        net = build_model(str(meta["model"]), int(channels), (int(size[0]), int(size[1])), int(outputs),
                          **{**stored, **(options or {})})
        module = part(net) if part is not None else net
    except (UserError, TypeError, ValueError, AttributeError, KeyError) as exc:  # a damaged or hand-made description
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{file_name} describes a {what} VisionDesk cannot build ({reason}). "
                              f"Choose another file, or train the {what} again.") from exc
    try:
        module.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in dict(state).items()})
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"The weights in {file_name} do not fit the {what} '{meta.get('model')}'.") from exc
    from app.engine.devices import pick_device

    dev = pick_device(device)      # a device that is not there (cuda:99, no GPU) is one plain line
    module.to(dev).eval()
    return module
