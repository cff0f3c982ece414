"""Drawing keypoints, face boxes and the 68-point contour lines on a BGR frame (anti-aliased)."""
from __future__ import annotations

import cv2
import numpy as np

from app.data.images import draw_points

# the 68-point iBUG / Multi-PIE markup: (name, point indices, closed)
CONTOURS_68: tuple[tuple[str, tuple[int, ...], bool], ...] = (
    ("jaw", tuple(range(0, 17)), False),
    ("right brow", tuple(range(17, 22)), False),
    ("left brow", tuple(range(22, 27)), False),
    ("nose bridge", tuple(range(27, 31)), False),
    ("nostrils", tuple(range(30, 36)) + (30,), False),
    ("right eye", tuple(range(36, 42)), True),
    ("left eye", tuple(range(42, 48)), True),
    ("outer lips", tuple(range(48, 60)), True),
    ("inner lips", tuple(range(60, 68)), True),
)

# BGR colours per region (for the lines); points use POINT_COLOR
REGION_COLORS = {
    "jaw": (255, 200, 80), "right brow": (80, 220, 255), "left brow": (80, 220, 255),
    "nose bridge": (120, 255, 120), "nostrils": (120, 255, 120), "right eye": (255, 120, 255),
    "left eye": (255, 120, 255), "outer lips": (90, 90, 255), "inner lips": (90, 90, 255),
}
POINT_COLOR = (60, 255, 60)
BOX_COLOR = (255, 170, 0)
_SHIFT = 4                     # sub-pixel drawing: coordinates in 1/16 pixel (as draw_points)
_ONE = 1 << _SHIFT


def _fixed(p: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(p, np.float64) * _ONE).astype(np.int32)


def draw_contours(img: np.ndarray, points: np.ndarray, thickness: int | None = None) -> None:
    pts = np.asarray(points, np.float32)
    if len(pts) != 68:
        return
    if thickness is None:
        ext = float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1])))
        thickness = 1 if ext < 260 else 2
    fixed = _fixed(pts)
    for name, idx, closed in CONTOURS_68:
        cv2.polylines(img, [fixed[list(idx)].reshape(-1, 1, 2)], closed, REGION_COLORS[name], thickness,
                      cv2.LINE_AA, _SHIFT)


def draw_box(img: np.ndarray, box, color=BOX_COLOR, thickness: int = 1, label: str | None = None) -> None:
    """A face box (x, y, w, h) with an optional label above it."""
    x, y, w, h = (float(v) for v in box)
    p0 = (int(round(x * _ONE)), int(round(y * _ONE)))
    p1 = (int(round((x + w) * _ONE)), int(round((y + h) * _ONE)))
    cv2.rectangle(img, p0, p1, color, thickness, cv2.LINE_AA, _SHIFT)
    if label:
        org = (int(x), max(12, int(y) - 5))
        cv2.putText(img, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)


def draw_faces(img: np.ndarray, faces: list[np.ndarray], boxes=None, points: bool = True, lines: bool = True,
               box: bool = True, labels: list[str] | None = None) -> np.ndarray:
    """Draw every face's points (and contour lines / box) on ``img`` in place; returns ``img``."""
    for i, pts in enumerate(faces):
        if box and boxes is not None and i < len(boxes):
            draw_box(img, boxes[i], label=labels[i] if labels and i < len(labels) else None)
        if lines:
            draw_contours(img, pts)
        if points:
            draw_points(img, pts, POINT_COLOR)
    return img


def draw_text_lines(img: np.ndarray, lines: list[str], origin=(8, 20), scale: float = 0.5) -> np.ndarray:
    """White text with a dark outline, one line under the other (for annotated videos)."""
    x, y = origin
    step = int(22 * scale / 0.5)
    for text in lines:
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
        y += step
    return img
