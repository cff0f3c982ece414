"""Face detection (OpenCV Haar cascade) and the square face crops the keypoint models expect.

Crops follow the training data's convention (see the facial-keypoints data README): a square of side
``2 x`` the keypoints' extent, centred on the keypoints' bounding box, black outside the frame, resized
to the model's input size. A crop box is ``(x0, y0, side)`` in frame pixels, and a point maps between
frame and crop pixels with ``k' = (k + 0.5 - box_xy) * size / side - 0.5`` (pixel centres at integers).

From a Haar box the keypoints' extent and centre are not known yet, so ``crop_box_from_face`` uses the
one face-crop rule of VisionDesk, ``app.data.keypoints.face_box_to_crop`` (its numbers were measured by
running the Haar cascade on the 3114 training crops; a model's meta may carry its own).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from app.core.errors import UserError
from app.data.keypoints import face_box_to_crop

HAAR_FRONTAL_FACE = "haarcascade_frontalface_default.xml"

CROP_PER_EXTENT = 2.0          # the training crops: side = 2 x the keypoints' extent


def to_grey(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


class FaceDetector:
    """Frontal faces with an OpenCV Haar cascade, run on a downscaled grey copy of the frame for speed.

    ``detect_width``: the frame is shrunk to this width first (faces smaller than ``min_face`` x the
    frame width are not looked for, which is what makes it fast). Returns boxes ``(x, y, w, h)`` in
    frame pixels, largest first.
    """

    def __init__(self, cascade: str | Path = HAAR_FRONTAL_FACE, detect_width: int = 192,
                 scale_factor: float = 1.15, min_neighbors: int = 4, min_face: float = 0.12,
                 max_faces: int = 4, equalize: bool = False):
        path = Path(cascade)
        if not path.is_file():
            path = Path(cv2.data.haarcascades) / str(cascade)
        if not hasattr(cv2, "CascadeClassifier"):
            raise UserError("This OpenCV build has no Haar cascades (OpenCV 5 removed them); "
                            "install opencv-python-headless<5.")
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise UserError(f"The face detector file {path} could not be loaded.")
        self.detect_width = int(detect_width)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_face = float(min_face)
        self.max_faces = int(max_faces)
        self.equalize = equalize

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Face boxes ``(N, 4)`` float32 ``x, y, w, h`` in the image's pixels, largest first."""
        grey = to_grey(image)
        h, w = grey.shape[:2]
        s = min(1.0, self.detect_width / float(w)) if self.detect_width > 0 else 1.0
        small = cv2.resize(grey, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) \
            if s < 1.0 else grey
        if self.equalize:
            small = cv2.equalizeHist(small)
        sw = small.shape[1]
        min_side = max(20, int(self.min_face * sw))
        if min_side > min(small.shape[:2]):
            return np.zeros((0, 4), np.float32)
        found = self.cascade.detectMultiScale(small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                              minSize=(min_side, min_side))
        if len(found) == 0:
            return np.zeros((0, 4), np.float32)
        boxes = np.asarray(found, np.float32).reshape(-1, 4)
        # small-image pixel centres -> frame pixel centres
        boxes[:, :2] = (boxes[:, :2] + 0.5) / s - 0.5
        boxes[:, 2:] = boxes[:, 2:] / s
        order = np.argsort(-boxes[:, 2] * boxes[:, 3])
        return boxes[order[: self.max_faces]]


# ---------------------------------------------------------------------------------------------- crop boxes
def crop_box_from_face(box, meta: dict | None = None) -> np.ndarray:
    """A detector box ``(x, y, w, h)`` -> the crop box ``(x0, y0, side)`` a training crop would have
    (``face_box_to_crop``, with a model's own ``face_crop`` numbers when its ``meta`` has them)."""
    return np.asarray(face_box_to_crop(box, meta), np.float32)


def crop_box_from_points(points: np.ndarray, scale: float = CROP_PER_EXTENT) -> np.ndarray:
    """The training convention: side = ``scale`` x max(width, height) of the points' box, same centre."""
    p = np.asarray(points, np.float32)
    lo, hi = p.min(axis=0), p.max(axis=0)
    ext = float(max(hi[0] - lo[0], hi[1] - lo[1], 1.0))
    side = scale * ext
    c = (lo + hi) / 2.0
    return np.array([c[0] - side / 2.0, c[1] - side / 2.0, side], np.float32)


def face_box_from_points(points: np.ndarray, pad: float = 0.08) -> np.ndarray:
    """A face box ``(x, y, w, h)`` around the points (for drawing), ``pad`` x the extent on each side."""
    p = np.asarray(points, np.float32)
    lo, hi = p.min(axis=0), p.max(axis=0)
    ext = hi - lo
    lo = lo - pad * ext
    return np.array([lo[0], lo[1], ext[0] * (1 + 2 * pad), ext[1] * (1 + 2 * pad)], np.float32)


def _int_box(box) -> tuple[int, int, int]:
    x0, y0, side = (float(v) for v in box)
    return int(round(x0)), int(round(y0)), max(2, int(round(side)))


def crop_square(grey: np.ndarray, box, size: int) -> np.ndarray:
    """The square ``box`` (x0, y0, side) of a grey image resized to ``size`` x ``size``; black outside.

    The box is rounded to whole pixels (``points_to_frame`` uses the same rounding, so a point maps back
    exactly). Shrinking uses area averaging, which, like the bicubic resize of the training crops,
    does not alias.
    """
    x0, y0, side = _int_box(box)
    h, w = grey.shape[:2]
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if xa >= xb or ya >= yb:
        return np.zeros((size, size), np.uint8)
    if xa == x0 and ya == y0 and xb == x0 + side and yb == y0 + side:
        region = grey[ya:yb, xa:xb]
    else:
        region = np.zeros((side, side), np.uint8)
        region[ya - y0: yb - y0, xa - x0: xb - x0] = grey[ya:yb, xa:xb]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(region, (size, size), interpolation=interp)


def points_to_frame(points: np.ndarray, box, size: int) -> np.ndarray:
    """Points in crop pixels (..., P, 2) -> frame pixels, for the crop made by ``crop_square``."""
    x0, y0, side = _int_box(box)
    s = side / float(size)
    out = (np.asarray(points, np.float32) + 0.5) * s - 0.5
    out[..., 0] += x0
    out[..., 1] += y0
    return out


def points_to_crop(points: np.ndarray, box, size: int) -> np.ndarray:
    """Frame pixels -> crop pixels (the inverse of ``points_to_frame``)."""
    x0, y0, side = _int_box(box)
    p = np.asarray(points, np.float32).copy()
    p[..., 0] -= x0
    p[..., 1] -= y0
    return (p + 0.5) * (size / float(side)) - 0.5


def box_iou(a, b) -> float:
    """Intersection over union of two square crop boxes (x0, y0, side)."""
    ax0, ay0, asz = (float(v) for v in a)
    bx0, by0, bsz = (float(v) for v in b)
    iw = max(0.0, min(ax0 + asz, bx0 + bsz) - max(ax0, bx0))
    ih = max(0.0, min(ay0 + asz, by0 + bsz) - max(ay0, by0))
    inter = iw * ih
    union = asz * asz + bsz * bsz - inter
    return inter / union if union > 0 else 0.0
