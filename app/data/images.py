"""Single pictures to model inputs (Try-it, video frames)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from app.core.errors import DataError


def open_image(path: str | Path) -> np.ndarray:
    """Read a picture file as uint8 (H, W) or (H, W, 3); a clear DataError if it cannot be read."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("L", "I;16", "I", "F"):
                im = _to_l(im)
                return np.asarray(im, dtype=np.uint8).copy()
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist.") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path.name} could not be opened as a picture ({type(exc).__name__}).") from None


def _to_l(im: Image.Image) -> Image.Image:
    if im.mode == "L":
        return im
    a = np.asarray(im, dtype=np.float64)
    hi = a.max() if a.size else 1.0
    scale = 255.0 / (65535.0 if hi > 255 else 255.0)
    return Image.fromarray(np.clip(a * scale, 0, 255).astype(np.uint8), "L")


def to_model_input(image: np.ndarray, input_shape: tuple[int, int, int]) -> torch.Tensor:
    """uint8 (H, W[, 3|4]) -> uint8 (1, C, H, W) resized to the model's input shape."""
    c, h, w = input_shape
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    im = Image.fromarray(a)
    im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
    out = np.asarray(im, dtype=np.uint8)
    if c == 1:
        out = out[None]
    else:
        out = out.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(out))[None]
