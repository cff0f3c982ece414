"""Small generated pictures for the make-use-share tests (issue 18): colour classes a tiny model learns at once,
and a short video file that stands in for a webcam."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def colour_picture(name: str, seed: int = 0, size: int = 24) -> np.ndarray:
    """A noisy picture dominated by the colour of class ``name`` (uint8 H x W x 3)."""
    rng = np.random.default_rng(seed)
    base = np.array(COLOURS[name], np.int16)
    noise = rng.integers(-30, 30, (size, size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def write_colour_folder(root: Path, per_class: int = 12, size: int = 24, classes=tuple(COLOURS)) -> Path:
    """root/<colour>/<i>.jpg for each colour class."""
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(colour_picture(name, seed=100 * k + i, size=size)).save(root / name / f"{i}.jpg")
    return root


def write_colour_video(path: Path, frames: int = 40, size: int = 64, fps: float = 20.0,
                       sequence=tuple(COLOURS)) -> Path:
    """An MJPG .avi whose frames cycle through the colour classes (OpenCV writes BGR)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (size, size))
    assert writer.isOpened()
    for i in range(frames):
        name = sequence[(i * len(sequence)) // frames]
        writer.write(np.ascontiguousarray(colour_picture(name, seed=i, size=size)[:, :, ::-1]))
    writer.release()
    return path
