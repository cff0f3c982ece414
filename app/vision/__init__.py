"""Live vision: frame sources, face detection, tracking, overlay drawing, the keypoint pipeline and the
one live loop (``LiveSession``) that the Keypoints tab, ``visiondesk keypoints video`` and the benchmark run.

OpenCV and numpy only (no Qt). Of the engine, vision uses only (lazily): the model loader
``app.engine.keypoints.load_keypoint_model``, the run list ``app.engine.runs.list_runs`` (trained models
for the picker) and ``app.engine.threads.intra_op_threads`` (the live loop's torch threads); no training parts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from app.vision.faces import FaceDetector, crop_box_from_face, crop_box_from_points, crop_square, points_to_frame
from app.vision.overlay import CONTOURS_68, draw_faces
from app.vision.pipeline import FrameResult, KeypointPipeline, load_pipeline
from app.vision.live import LiveSession, LiveStats, LiveSummary, VideoRecorder
from app.vision.sources import (CameraInfo, CameraSource, Frame, FrameSource, ImageFolderSource, LatestFrameReader,
                                SourceError, VideoFileSource, list_cameras, open_source)
from app.vision.tracking import FaceTracker, OneEuroFilter

KEYPOINT_TASK = "keypoints"

#: what the keypoint error figure (NME, normalised mean error) means, wherever it is shown
NME_HELP = ("Average error: how far the points are from where they belong, on average, as a share of the "
            "distance between the outer corners of the eyes (called NME, normalised mean error). Lower is "
            "better; about 5% or less looks right on most faces.")


def error_words(nme: float) -> str:
    """An NME (fraction) in words: 'average error 4.2% of eye distance'."""
    return f"average error {100 * nme:.1f}% of eye distance"


@dataclass
class ModelChoice:
    """A keypoint model a person can pick: shipped weights (by name) or a run's best.pt."""

    key: str            # what load_keypoint_model takes: a shipped weight name or a checkpoint path
    label: str          # what the picker shows
    kind: str           # "shipped" or "run"
    nme: float | None   # test NME (fraction) when known
    ms: float | None = None   # measured milliseconds per face on this computer (app.vision.speed), if timed
    new_nme: float | None = None   # NME on people the model never saw (shipped weights that record it)

    @property
    def rank_nme(self) -> float | None:
        """The error figure the model is compared by: on new people when known, else on its test faces."""
        return self.new_nme if self.new_nme is not None else self.nme


def _nme_of(entry: dict) -> float | None:
    """The test NME recorded for a weight or run (as a fraction), whatever the key is called."""
    for key in ("test_nme", "nme", "test_nme_percent", "nme_percent"):
        v = entry.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            return float(v) / 100.0 if "percent" in key or v > 1.0 else float(v)
    scores = entry.get("scores") or entry.get("metrics")
    if isinstance(scores, dict):
        return _nme_of(scores)
    return None


def _new_people_nme(entry: dict) -> float | None:
    """The NME recorded on people the weights never saw (``new_people_nme``), as a fraction, or None."""
    v = entry.get("new_people_nme")
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 else None


def shipped_keypoint_models() -> list[ModelChoice]:
    """Shipped keypoint weights from weights/manifest.json, most accurate first (``speed.accuracy_rank``:
    a figure on new people before one on test faces of people the model trained on), with their time per
    face on this computer when it was measured (``app.vision.speed``)."""
    from app.core.weights import list_weights
    from app.vision.speed import accuracy_rank, saved_timings

    try:
        entries = list_weights(KEYPOINT_TASK)
    except Exception:      # a damaged manifest must not break the tab: no shipped models then
        return []
    timings = saved_timings()
    out = []
    for name, e in entries.items():
        nme, new, ms = _nme_of(e), _new_people_nme(e), timings.get(name)
        if new is not None:
            label = f"{name} (shipped): {error_words(new)} on new faces"
        else:
            label = f"{name} (shipped" + (f"): {error_words(nme)} on its test faces" if nme is not None else ")")
        out.append(ModelChoice(name, label, "shipped", nme, ms, new))
    out.sort(key=lambda c: (*accuracy_rank(c.rank_nme, c.new_nme is not None), c.key))
    return out


def run_keypoint_models(root: str | Path | None = None) -> list[ModelChoice]:
    """The best.pt of every keypoint training run, newest first."""
    from app.engine.runs import list_runs

    out = []
    try:
        runs = list_runs(root)
    except Exception:
        return []
    for r in runs:
        if r.task != KEYPOINT_TASK or not r.has_best:
            continue
        nme = _nme_of(r.best or {})
        label = f"{r.name}" + (f": {error_words(nme)}" if nme is not None else "")
        out.append(ModelChoice(str(Path(r.path) / "best.pt"), label, "run", nme))
    return out


def keypoint_model_choices(root: str | Path | None = None) -> list[ModelChoice]:
    return shipped_keypoint_models() + run_keypoint_models(root)


def default_keypoint_model() -> str:
    """The shipped keypoint model the live view opens with: the most accurate one that is quick enough on
    this computer when the models were timed here (``app.vision.speed``), else the most accurate one."""
    from app.core.errors import UserError

    shipped = shipped_keypoint_models()
    if not shipped:
        raise UserError("No keypoint model is shipped in weights/ (weights/manifest.json has none); "
                        "train one with 'visiondesk keypoints train' and pass its best.pt.")
    return live_default(shipped) or shipped[0].key


def live_default(choices: list[ModelChoice]) -> str | None:
    """Of ``choices``, the shipped model the live view opens with (``app.vision.speed.choose_live_model``:
    the most accurate one quick enough here); None when none is shipped."""
    from app.vision.speed import Timed, choose_live_model

    return choose_live_model(Timed(c.key, c.rank_nme, c.ms, c.new_nme is not None)
                             for c in choices if c.kind == "shipped")


def resolve_model(name: str | None) -> str:
    """``None``/"default" -> the best shipped model's name; anything else is passed on unchanged."""
    if not name or name == "default":
        return default_keypoint_model()
    return str(name)


__all__ = [
    "CONTOURS_68", "NME_HELP", "CameraInfo", "CameraSource", "FaceDetector", "FaceTracker", "Frame", "FrameResult", "FrameSource",
    "ImageFolderSource", "KeypointPipeline", "LatestFrameReader", "LiveSession", "LiveStats", "LiveSummary", "ModelChoice", "OneEuroFilter", "SourceError",
    "VideoFileSource", "VideoRecorder", "crop_box_from_face", "crop_box_from_points", "crop_square", "default_keypoint_model",
    "draw_faces", "error_words", "keypoint_model_choices", "list_cameras", "load_pipeline", "open_source", "points_to_frame",
    "live_default", "resolve_model", "run_keypoint_models", "shipped_keypoint_models",
]
