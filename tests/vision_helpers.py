"""Stand-ins for the face detector and keypoint model, and synthetic face-like frames (tests only)."""
from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np


def template68() -> np.ndarray:
    """A plausible 68-point face layout in the unit square (jaw, brows, nose, eyes, lips)."""
    pts = []
    for a in np.linspace(np.pi, 0, 17):                       # jaw: lower half-ellipse, image left -> right
        pts.append((0.5 + 0.5 * np.cos(a), 0.35 + 0.65 * np.sin(a)))
    for cx in (0.27, 0.73):                                   # brows
        for dx in np.linspace(-0.15, 0.15, 5):
            pts.append((cx + dx, 0.12 - 0.05 * np.cos(dx * 10)))
    for y in np.linspace(0.25, 0.55, 4):                      # nose bridge
        pts.append((0.5, y))
    for dx in np.linspace(-0.12, 0.12, 5):                    # nostrils
        pts.append((0.5 + dx, 0.62))
    for cx in (0.3, 0.7):                                     # eyes
        for a in np.linspace(np.pi, -np.pi, 6, endpoint=False):
            pts.append((cx + 0.09 * np.cos(a), 0.3 + 0.04 * np.sin(a)))
    for a in np.linspace(np.pi, -np.pi, 12, endpoint=False):  # outer lips
        pts.append((0.5 + 0.2 * np.cos(a), 0.8 + 0.07 * np.sin(a)))
    for a in np.linspace(np.pi, -np.pi, 8, endpoint=False):   # inner lips
        pts.append((0.5 + 0.12 * np.cos(a), 0.8 + 0.03 * np.sin(a)))
    out = np.asarray(pts, np.float32)
    assert out.shape == (68, 2)
    return (out - out.min(0)) / np.ptp(out, axis=0)     # exactly the unit square


def face_frame(h: int = 240, w: int = 320, faces=((160, 120, 40),), background: int = 40) -> np.ndarray:
    """A BGR frame with bright face-like discs (centre x, centre y, radius) with dark eyes and a mouth."""
    img = np.full((h, w, 3), background, np.uint8)
    for cx, cy, r in faces:
        cv2.circle(img, (int(cx), int(cy)), int(r), (210, 210, 210), -1, cv2.LINE_AA)
        for ex in (-0.4, 0.4):
            cv2.circle(img, (int(cx + ex * r), int(cy - 0.25 * r)), max(1, int(0.12 * r)), (160, 160, 160), -1)
        cv2.ellipse(img, (int(cx), int(cy + 0.45 * r)), (int(0.35 * r), max(1, int(0.1 * r))), 0, 0, 360,
                    (160, 160, 160), -1)
    return img


def _blobs(grey: np.ndarray, thresh: int = 120) -> list[tuple[float, float, float, float]]:
    _, mask = cv2.threshold(grey, thresh, 255, cv2.THRESH_BINARY)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if w >= 6 and h >= 6:
            out.append((float(x), float(y), float(w), float(h)))
    return sorted(out, key=lambda b: -b[2] * b[3])


class StandInDetector:
    """Finds the bright discs; its box is like a Haar box (the face without the jaw below it)."""

    def __init__(self):
        self.calls = 0

    def detect(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        boxes = []
        for x, y, w, h in _blobs(grey):
            # a Haar box is ~1.15x narrower than the keypoints and centred higher (see app/vision/faces.py)
            bw = w / 0.87
            cx, cy = x + w / 2, y + h / 2 - 0.155 * bw
            boxes.append((cx - bw / 2, cy - bw / 2, bw, bw))
        return np.asarray(boxes, np.float32).reshape(-1, 4)


class StandInPredictor:
    """Same interface as app.engine.keypoints.KeypointPredictor: puts the template on the crop's bright blob."""

    def __init__(self, input_size: int = 64, noise: float = 0.0, seed: int = 0):
        self.input_size = input_size
        self.num_points = 68
        self.meta = {"model": "stand-in", "input_size": input_size}
        self.template = template68()
        self.calls: list[int] = []
        self.noise = noise
        self.rng = np.random.default_rng(seed)
        self.lock = threading.Lock()

    def predict(self, crops) -> np.ndarray:
        crops = np.asarray(crops)
        if crops.ndim == 4:
            crops = crops[:, 0]
        assert crops.dtype == np.uint8 and crops.shape[1:] == (self.input_size, self.input_size)
        with self.lock:
            self.calls.append(len(crops))
        out = np.zeros((len(crops), 68, 2), np.float32)
        for i, c in enumerate(crops):
            blobs = _blobs(c)
            if blobs:
                x, y, w, h = blobs[0]
                ext = max(w, h)
                out[i] = self.template * ext + np.array([x + (w - ext) / 2, y + (h - ext) / 2], np.float32)
            else:                     # like a real regressor on a crop without a face: a mean-ish shape
                out[i] = self.template * (self.input_size / 2) + self.input_size / 4
            if self.noise:
                out[i] += self.rng.normal(0, self.noise, out[i].shape).astype(np.float32)
        return out


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert vw.isOpened()
    for f in frames:
        vw.write(f)
    vw.release()
    return path


def face_video(path: Path, n_face: int = 12, n_empty: int = 6, fps: float = 25.0, size=(240, 320)) -> Path:
    """Frames 0..n_face-1 show a face moving right; then n_empty frames without a face."""
    h, w = size
    frames = [face_frame(h, w, faces=((110 + 4 * i, 120, 45),)) for i in range(n_face)]
    frames += [face_frame(h, w, faces=()) for _ in range(n_empty)]
    return write_video(path, frames, fps)


class FakeCapture:
    """A cv2.VideoCapture stand-in: ``good`` frames, then reads fail (an unplugged camera)."""

    def __init__(self, *args, good: int = 5, opened: bool = True, shape=(48, 64, 3)):
        self.good = good
        self.opened = opened
        self.shape = shape
        self.reads = 0
        self.released = False

    def isOpened(self):
        return self.opened

    def read(self):
        self.reads += 1
        if self.reads <= self.good:
            return True, np.full(self.shape, self.reads % 255, np.uint8)
        return False, None

    def set(self, *a):
        return True

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        self.released = True
