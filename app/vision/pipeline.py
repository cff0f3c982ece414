"""The per-frame keypoint pipeline: detect (or track) faces, crop, run the model once for all faces, draw.

``KeypointPipeline.process(frame_bgr)`` -> ``FrameResult`` with the annotated frame, each face's points
(P, 2) in frame pixels, the face boxes, and the milliseconds each stage took. It keeps the tracks
between calls, so feed it the frames of one stream in order (``reset()`` between streams).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from app.vision.faces import (FaceDetector, crop_box_from_face, crop_square, face_box_from_points,
                              points_to_frame, to_grey)
from app.vision.overlay import draw_faces
from app.vision.tracking import FaceTracker

STAGES = ("capture", "detect", "model", "draw")


class Predictor(Protocol):
    input_size: int
    num_points: int

    def predict(self, crops) -> np.ndarray: ...


class Detector(Protocol):
    def detect(self, image: np.ndarray) -> np.ndarray: ...


@dataclass
class FrameResult:
    frame_annotated: np.ndarray            # BGR uint8, the frame with the overlay (mirrored when mirror is on)
    faces: list[np.ndarray]                # per face: (P, 2) float32 points in frame pixels (x, y)
    boxes: list[np.ndarray]                # per face: (x, y, w, h) around its points
    timings_ms: dict[str, float]           # capture, detect, model, draw
    index: int = 0                         # the frame's number in its stream
    detected: bool = False                 # the detector ran on this frame
    crop_boxes: list[np.ndarray] = field(default_factory=list)   # the crops the model saw (x0, y0, side)

    @property
    def added_ms(self) -> float:
        """Latency the pipeline adds to a frame: detect + model + draw."""
        t = self.timings_ms
        return t.get("detect", 0.0) + t.get("model", 0.0) + t.get("draw", 0.0)


class KeypointPipeline:
    """Faces -> crops -> one batched model call -> points in frame pixels -> overlay.

    ``redetect_every``: run the detector at least every K frames (and whenever a track is lost or there
    is none); in between, crops come from the previous frame's points. ``smoothing``: One-Euro filter on
    the points. ``mirror``: flip the frame left-right first (a webcam then acts like a mirror).
    Settings may be changed from another thread while frames are processed; they apply from the next
    frame.
    """

    def __init__(self, predictor: Predictor, detector: Detector | None = None, redetect_every: int = 10,
                 smoothing: bool = True, mirror: bool = False, draw_points: bool = True, draw_lines: bool = True,
                 draw_box: bool = True, tracker: FaceTracker | None = None):
        self.predictor = predictor
        self.detector = detector if detector is not None else FaceDetector()
        self.tracker = tracker or FaceTracker(redetect_every=redetect_every, smoothing=smoothing)
        self.mirror = mirror
        self.draw_points = draw_points
        self.draw_lines = draw_lines
        self.draw_box = draw_box
        self._lock = threading.Lock()
        self._pending_predictor: Predictor | None = None
        self._frames = 0

    # -- settings (safe to call from any thread)
    @property
    def smoothing(self) -> bool:
        return self.tracker.smoothing

    def set_smoothing(self, on: bool) -> None:
        with self._lock:
            self.tracker.set_smoothing(on)

    def set_mirror(self, on: bool) -> None:
        with self._lock:
            if bool(on) != self.mirror:
                self.mirror = bool(on)
                self.tracker.reset()

    def set_predictor(self, predictor: Predictor) -> None:
        """Use another model from the next frame on."""
        with self._lock:
            self._pending_predictor = predictor

    def reset(self) -> None:
        with self._lock:
            self.tracker.reset()

    # -- the work
    def process(self, frame_bgr: np.ndarray, capture_ms: float = 0.0, timestamp: float | None = None,
                new_scene: bool = False, index: int | None = None, copy: bool = False) -> FrameResult:
        """One frame. ``new_scene``: forget the tracks first (a different image, a cut, a loop).

        The overlay is drawn on ``frame_bgr`` itself unless ``copy`` (or mirror, which makes a new
        frame anyway).
        """
        with self._lock:
            return self._process(frame_bgr, capture_ms, timestamp, new_scene, index, copy)

    def _process(self, frame, capture_ms, timestamp, new_scene, index, copy) -> FrameResult:
        if self._pending_predictor is not None:
            self.predictor, self._pending_predictor = self._pending_predictor, None
            self.tracker.reset()
        t_start = time.perf_counter()
        ts = t_start if timestamp is None else timestamp
        if self.mirror:
            frame = cv2.flip(frame, 1)
        elif copy:
            frame = frame.copy()
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        t0 = time.perf_counter()
        capture_ms = capture_ms + (t0 - t_start) * 1000.0

        # detect (only when the tracker asks for it)
        grey = to_grey(frame)
        tracker = self.tracker
        if new_scene:
            tracker.reset()
        detected = False
        if tracker.needs_detection():
            tracker.update_detections([self._crop_box(b) for b in self.detector.detect(grey)])
            detected = True
        t1 = time.perf_counter()

        # model: all faces of the frame in one batch
        shown = self._points(grey, ts)
        if tracker.lost and not detected:
            # a track was lost: look again on this very frame instead of showing the face without points
            tracker.update_detections([self._crop_box(b) for b in self.detector.detect(grey)])
            detected = True
            shown = self._points(grey, ts)
        t2 = time.perf_counter()

        face_boxes = [face_box_from_points(p) for p in shown]
        draw_faces(frame, shown, face_boxes, points=self.draw_points, lines=self.draw_lines, box=self.draw_box)
        t3 = time.perf_counter()
        self._frames += 1
        timings = {"capture": capture_ms, "detect": (t1 - t0) * 1000.0, "model": (t2 - t1) * 1000.0,
                   "draw": (t3 - t2) * 1000.0}
        return FrameResult(frame, shown, face_boxes, timings, self._frames - 1 if index is None else index,
                           detected, [t.last_crop.copy() for t in tracker.tracks])

    def _crop_box(self, face_box) -> np.ndarray:
        """Where to crop around a detector box: the one face-crop rule, with the numbers of the model's
        meta (how its training crops relate to a Haar box) when it has them."""
        return crop_box_from_face(face_box, getattr(self.predictor, "meta", None))

    def _points(self, grey: np.ndarray, ts: float) -> list[np.ndarray]:
        boxes = [b.copy() for b in self.tracker.crop_boxes()]
        if not boxes:
            return []
        size = int(self.predictor.input_size)
        crops = np.stack([crop_square(grey, b, size) for b in boxes])
        pred = np.asarray(self.predictor.predict(crops), np.float32)
        shown = self.tracker.update_points([points_to_frame(pred[i], boxes[i], size) for i in range(len(boxes))], ts)
        return shown


def live_torch_threads(cpu_count: int | None = None) -> int:
    """Torch CPU threads for the live view: half the cores, 1 or 2.

    A keypoint model on one small crop is too little work to share well: on 2 cores, where the frame
    reader and the window need a core too, 2 torch threads made the model 10-100x slower whenever
    another thread held a core (measured with bench/webcam_fps.py: kp-resnet18 median 544 ms with 2
    threads under load vs. steady milliseconds with 1), and 1 thread never did.
    """
    import os

    n = cpu_count if cpu_count is not None else (os.cpu_count() or 2)
    return max(1, min(2, n // 2))


def load_pipeline(model: str = "default", device: str = "cpu", **options) -> KeypointPipeline:
    """A pipeline around a shipped keypoint model (by name, "default" = the best one) or a checkpoint."""
    from app.vision import resolve_model

    from app.engine.keypoints import load_keypoint_model

    return KeypointPipeline(load_keypoint_model(resolve_model(model), device=device), **options)
