"""Tracking faces between detections, and One-Euro smoothing of the keypoints.

The face detector is slow next to the keypoint model, so it runs every ``redetect_every`` frames (or
when a track is lost). In between, each face's next crop is taken from the previous frame's points
with the training convention (side = 2 x the points' extent, same centre), so the model sees crops
like the ones it was trained on and follows the head wherever it moves.

Smoothing uses the One-Euro filter (Casiez, Roussel, Vogel, CHI 2012): a low-pass filter whose cutoff
rises with the speed of the signal, so still points are smoothed hard (no jitter) and fast motion
passes with little lag. ``PointSmoother`` splits a face's points into its rigid motion (centre and
size), filtered lightly so the points stay on a moving head, and its shape (the points relative to
that centre and size), filtered harder because that is where a regressor's frame-to-frame noise lives;
a real change of shape (the mouth opening) is fast, so the filter opens up for it. Everything is
filtered in units of the face size, so the same settings suit a small face far away and a large one
close up. On the face video a plain One-Euro filter on the points trailed the head by about 2x more
for the same jitter (see bench/webcam_fps.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.vision.faces import box_iou, crop_box_from_points


class OneEuroFilter:
    """One-Euro filter over arrays (every element filtered on its own; speeds per point for (P, 2)).

    ``min_cutoff`` (Hz): the cutoff when still; lower -> smoother, more lag at low speed.
    ``beta``: how fast the cutoff rises with speed; higher -> less lag when moving.
    ``d_cutoff`` (Hz): the cutoff of the speed estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0):
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    @staticmethod
    def _alpha(cutoff, dt: float):
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x, t: float) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self._x is None or self._x.shape != x.shape or self._t is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.astype(np.float32)
        dt = float(t) - self._t
        if dt <= 0:
            dt = 1e-3
        self._t = float(t)
        dx = (x - self._x) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        speed = np.abs(self._dx)
        if x.ndim >= 2 and x.shape[-1] == 2:      # points: one speed per point, shared by x and y
            speed = np.repeat(np.linalg.norm(self._dx, axis=-1, keepdims=True), 2, axis=-1)
        cutoff = self.min_cutoff + self.beta * speed
        a = self._alpha(cutoff, dt)
        self._x = a * x + (1 - a) * self._x
        return self._x.astype(np.float32)


def _distance(a, b) -> float:
    """Centre distance of two crop boxes in units of the larger side (inf when sizes differ > 2x)."""
    sa, sb = float(a[2]), float(b[2])
    if max(sa, sb) > 2.0 * min(sa, sb):
        return float("inf")
    ca = np.asarray(a[:2], np.float64) + sa / 2
    cb = np.asarray(b[:2], np.float64) + sb / 2
    return float(np.linalg.norm(ca - cb)) / max(sa, sb)


#: One-Euro settings (min_cutoff Hz, beta) of the face's rigid motion and of its shape. Chosen on the shared
#: face video by replaying the raw points of a pass through the filter (``bench/webcam_fps.py`` measures
#: jitter and lag): the earlier (2, 12) / (1, 5) left 0.71% jitter (of the eye-corner distance) with the
#: smoothed face trailing 4.7 px on the fastest frames (kp-cnn4; kp-resnet18 0.63% / 4.8 px); a motion
#: filter that opens up much sooner with speed (beta 60) and a calmer shape (0.5, 2) give 0.56% / 2.0 px
#: (kp-resnet18 0.53% / 2.0 px): steadier points that also keep up with a moving head.
MOTION_FILTER = (2.0, 60.0)
SHAPE_FILTER = (0.5, 2.0)


class PointSmoother:
    """One-Euro smoothing of a face's points (P, 2): rigid motion and shape filtered separately.

    ``motion=(min_cutoff, beta)`` for the centre and size, ``shape=(min_cutoff, beta)`` for the points
    relative to them. ``norm``: the face size (pixels) that makes the units scale-free.
    """

    def __init__(self, motion: tuple[float, float] = MOTION_FILTER, shape: tuple[float, float] = SHAPE_FILTER,
                 d_cutoff: float = 1.0):
        self.centre = OneEuroFilter(motion[0], motion[1], d_cutoff)
        self.size = OneEuroFilter(motion[0], motion[1], d_cutoff)
        self.shape = OneEuroFilter(shape[0], shape[1], d_cutoff)

    def reset(self) -> None:
        for f in (self.centre, self.size, self.shape):
            f.reset()

    def __call__(self, points: np.ndarray, t: float, norm: float) -> np.ndarray:
        p = np.asarray(points, np.float64)
        c = p.mean(axis=0)
        r = float(np.sqrt(((p - c) ** 2).sum(axis=1).mean())) or 1.0
        c_f = self.centre((c / norm)[None], t)[0] * norm      # (1, 2): one speed for the centre
        r_f = float(self.size(np.array([r / norm]), t)[0]) * norm
        shape_f = self.shape((p - c) / r, t)
        return (shape_f * r_f + c_f).astype(np.float32)


@dataclass
class Track:
    """One face followed from frame to frame."""

    id: int
    box: np.ndarray                     # crop box (x0, y0, side) for the next frame
    filter: PointSmoother
    points: np.ndarray | None = None    # the latest raw points (P, 2), frame pixels
    smoothed: np.ndarray | None = None  # the latest smoothed points
    last_crop: np.ndarray | None = None # the crop box the latest points came from
    norm: float = 1.0                   # the face size the filter works in
    since_detect: int = 0               # frames since a detection confirmed this track
    misses: int = 0                     # detections in a row that did not find it
    hits: int = 0                       # frames with points


class FaceTracker:
    """Decides when to detect, keeps one crop box per face, and smooths each face's points.

    Per frame: ``needs_detection()`` -> if so ``update_detections(crop_boxes)`` -> ``crop_boxes()`` ->
    (the model) -> ``update_points(points_per_box, t)`` -> the points to show.
    """

    def __init__(self, redetect_every: int = 10, smoothing: bool = True, motion: tuple[float, float] = MOTION_FILTER,
                 shape: tuple[float, float] = SHAPE_FILTER, d_cutoff: float = 1.0, match_distance: float = 0.5,
                 keep_iou: float = 0.5,
                 max_misses: int = 2, spread_range: tuple[float, float] = (0.25, 0.85), max_faces: int = 4):
        self.redetect_every = max(1, int(redetect_every))
        self.smoothing = smoothing
        self.motion, self.shape, self.d_cutoff = tuple(motion), tuple(shape), d_cutoff
        self.match_distance = match_distance
        self.keep_iou = keep_iou
        self.max_misses = max_misses
        self.spread_range = spread_range
        self.max_faces = max_faces
        self.tracks: list[Track] = []
        self._next_id = 1
        self.lost = False

    def reset(self) -> None:
        self.tracks = []
        self.lost = False

    def set_smoothing(self, on: bool) -> None:
        self.smoothing = bool(on)
        for tr in self.tracks:
            tr.filter.reset()

    def needs_detection(self) -> bool:
        if not self.tracks or self.lost:
            return True
        return any(tr.since_detect >= self.redetect_every or tr.misses > 0 for tr in self.tracks)

    def _new_track(self, box) -> Track:
        tr = Track(self._next_id, np.asarray(box, np.float32).copy(),
                   PointSmoother(self.motion, self.shape, self.d_cutoff), norm=float(box[2]) / 2.0)
        self._next_id += 1
        return tr

    def update_detections(self, boxes) -> None:
        """Match detected crop boxes (x0, y0, side) to the tracks (greedy, nearest centres first; a pair
        matches when the centres are less than ``match_distance`` x the larger side apart and the sizes
        differ less than 2x).

        A matched track keeps its own box (from its points, the training convention) unless the two
        disagree; a track no detection found is dropped after ``max_misses`` detections in a row; a
        detection without a track starts one.
        """
        self.lost = False
        boxes = [np.asarray(b, np.float32) for b in boxes][: self.max_faces]
        pairs = sorted((_distance(tr.box, b), i, j) for i, tr in enumerate(self.tracks) for j, b in enumerate(boxes))
        used_t, used_d = set(), set()
        for dist, i, j in pairs:
            if dist > self.match_distance or i in used_t or j in used_d:
                continue
            used_t.add(i)
            used_d.add(j)
            tr = self.tracks[i]
            if tr.points is None or box_iou(tr.box, boxes[j]) < self.keep_iou:
                tr.box = boxes[j].copy()
            tr.since_detect = 0
            tr.misses = 0
        kept = []
        for i, tr in enumerate(self.tracks):
            if i not in used_t:
                tr.misses += 1
                if tr.misses >= self.max_misses or tr.points is None:
                    continue
            kept.append(tr)
        for j, b in enumerate(boxes):
            if j not in used_d and len(kept) < self.max_faces:
                kept.append(self._new_track(b))
        self.tracks = kept

    def crop_boxes(self) -> list[np.ndarray]:
        return [tr.box for tr in self.tracks]

    def _plausible(self, pts: np.ndarray, box: np.ndarray) -> bool:
        if not np.all(np.isfinite(pts)):
            return False
        ext = float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1])))
        ratio = ext / max(float(box[2]), 1e-6)
        if not (self.spread_range[0] <= ratio <= self.spread_range[1]):
            return False
        c = (pts.min(axis=0) + pts.max(axis=0)) / 2.0
        centre = box[:2] + box[2] / 2.0
        return bool(np.all(np.abs(c - centre) <= 0.45 * box[2]))

    def update_points(self, points: list[np.ndarray], t: float) -> list[np.ndarray]:
        """The model's points for each track (same order as ``crop_boxes()``) -> the points to show.

        A track whose points are implausible for its crop (their spread far from the training crops'
        half-side, or off the crop) is dropped and detection runs on the next frame.
        """
        out, kept = [], []
        for tr, pts in zip(self.tracks, points):
            pts = np.asarray(pts, np.float32)
            if not self._plausible(pts, tr.box):
                self.lost = True
                continue
            tr.points = pts
            if self.smoothing:
                shown = tr.filter(pts, t, tr.norm)
            else:
                tr.filter.reset()
                shown = pts
            tr.smoothed = shown
            tr.last_crop = tr.box
            tr.box = crop_box_from_points(pts)
            tr.since_detect += 1
            tr.hits += 1
            kept.append(tr)
            out.append(shown)
        # two tracks that converged on the same face: keep the older one
        final, final_out = [], []
        for tr, pts in zip(kept, out):
            if any(box_iou(tr.box, o.box) > 0.5 for o in final):
                continue
            final.append(tr)
            final_out.append(pts)
        self.tracks = final
        return final_out
