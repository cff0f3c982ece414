"""Single pictures: reading them, turning them into model inputs, writing PNGs, drawing points on them.

``save_png`` is the one PNG writer of VisionDesk (sample grids, GAN pictures, keypoint snapshots) and
``draw_points`` the one point painter (the live keypoint overlay and the training sample grids).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from app.core.errors import DataError, UserError


def open_image(path: str | Path) -> np.ndarray:
    """Read a picture file as uint8 (H, W) or (H, W, 3); a clear DataError if it cannot be read."""
    import os
    import stat

    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):     # a pipe or device would block the read for ever
            raise DataError(f"{path.name} is not a picture file (it is a folder, pipe or device).")
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


def save_png(image: np.ndarray, path: str | Path, scale: int = 1, bgr: bool = False) -> Path:
    """Write a uint8 (H, W) or (H, W, 3) picture as PNG, atomically (any path, non-ASCII included).

    ``scale`` > 1 enlarges it that many times (nearest neighbour); ``bgr``: the channels are in OpenCV's
    order (a video frame). Raises ``UserError`` in plain words when it cannot be written.
    """
    import io

    from app.core.files import atomic_write_bytes

    path = Path(path)
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if bgr and a.ndim == 3 and a.shape[2] >= 3:
        a = a[:, :, 2::-1]
    img = Image.fromarray(np.ascontiguousarray(a))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    try:
        atomic_write_bytes(path, buf.getvalue())
    except UserError:
        raise
    except OSError as exc:
        raise UserError(f"Could not save the picture as {path}: {exc.strerror or 'the folder cannot be written'}. "
                        f"Choose another folder.") from exc
    return path


_SHIFT = 4                     # sub-pixel drawing: coordinates in 1/16 pixel


def draw_points(image: np.ndarray, points: np.ndarray, color=(60, 255, 60), radius: float | None = None) -> np.ndarray:
    """Anti-aliased dots at ``points`` (P, 2) ``(x, y)`` (pixel centres at integers) on ``image`` in place.

    ``radius`` None: scaled to the points' extent (1.2-4 px). Points that are NaN (missing) are skipped.
    ``color`` is in the image's own channel order. Returns ``image``.
    """
    import cv2

    pts = np.asarray(points, np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    if radius is None:
        ext = float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]))) if len(pts) > 1 else 50.0
        radius = float(np.clip(ext / 110.0, 1.2, 4.0))
    one = 1 << _SHIFT
    r = max(1, int(round(radius * one)))
    for x, y in np.round(pts * one).astype(np.int64):
        cv2.circle(image, (int(x), int(y)), r, color, -1, cv2.LINE_AA, _SHIFT)
    return image
