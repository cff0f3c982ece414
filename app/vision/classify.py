"""The live loop for classifiers: a camera or video file, the newest frame classified, pictures captured.

``ClassifyLive`` is what the Train tab's live Try it and the Data tab's data-set maker run (inside a
``workers.Worker`` with ``latest_only``, like ``vision.live.LiveSession`` for keypoints) and what
``bench/live_classify.py`` measures. No Qt: results and state changes go to callbacks, called in the thread that
runs ``run()``::

    live = ClassifyLive(VideoFileSource("clip.mp4", loop=True), classifier, on_result=show)
    summary = live.run()            # until the source ends or stop() is called (from any thread)

- The source is read in its own thread (``LatestFrameReader``; a video file plays at its own speed) and the
  loop always takes the newest frame: a slow model drops frames, it never falls behind.
- ``classifier`` (optional: the data-set maker only previews; or ``load_classifier()``, called in the loop's
  thread so the window never waits for a model to load) is anything with ``prepare(rgb)`` and
  ``probabilities(uint8 batch)`` and ``classes`` (``engine.predict.Classifier``); it runs on ``threads`` torch
  threads of this thread only.
- Capturing: ``capture(sink, rate)`` calls ``sink(rgb_frame)`` in this thread for frames at most ``rate`` per
  second until ``stop_capture()``; ``snap(sink)`` for the next frame only. Pictures a sink saved stay saved
  whatever happens to the camera afterwards. A sink that raises ``UserError`` (the disk is full) stops the
  capture with a ``warning`` status; the live view goes on.
- Problems the person can act on (no camera, a busy one, one unplugged mid-way, a file that is not a video)
  raise ``UserError`` from ``run()`` in plain words.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import cv2
import numpy as np

from app.core.errors import UserError
from app.vision.pipeline import live_torch_threads
from app.vision.loop import LoopControl
from app.vision.sources import FrameSource, LatestFrameReader

Sink = Callable[[np.ndarray], Any]
PREVIEW_SIDE = 640          # frames sent for display are scaled down to this longest side (in the loop thread)


@dataclass
class LiveClassification:
    """One frame's result: what the live view shows."""

    preview: np.ndarray              # RGB uint8, at most PREVIEW_SIDE pixels on its longest side
    frame: np.ndarray                # RGB uint8, the whole frame (what "add to a class" saves)
    probabilities: np.ndarray | None  # (K,) float64, None without a classifier
    classes: list[str]
    fps: float                       # frames handled per second over the last 30
    model_ms: float                  # preprocessing + model for this frame
    loop_ms: float                   # everything this loop did for this frame (conversion, model, preview)
    index: int                       # the frame's number in its stream
    frames: int                      # frames handled so far
    dropped: int                     # frames the reader replaced before the loop took them
    captured: int                    # pictures captured so far in this session

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        if self.probabilities is None:
            return []
        order = np.argsort(-self.probabilities)[:k]
        return [(self.classes[i], float(self.probabilities[i])) for i in order]


@dataclass
class ClassifySummary:
    frames: int
    seconds: float
    captured: int
    model_ms: float                  # mean per frame
    loop_ms: float                   # mean per frame

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def preview_of(rgb: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    if scale >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_LINEAR)


class ClassifyLive(LoopControl):
    """See the module docstring. ``stop``, ``capture``, ``snap`` and ``stop_capture`` may be called from any thread."""

    def __init__(self, source: FrameSource, classifier=None, *, threads: int | None = None, max_frames: int = 0,
                 mirror: bool = False, load_classifier: Callable[[], Any] | None = None,
                 on_result: Callable[[LiveClassification], None] | None = None,
                 on_status: Callable[[str, str], None] | None = None, runtime: str = "auto"):
        self.source = source
        self.classifier = classifier
        # "auto": a PyTorch classifier on the CPU runs in onnxruntime when that gives the same probabilities
        # (an EfficientNet-Lite0 frame: about 43 ms in eager PyTorch on one thread); else as given
        self.runtime = runtime
        self.load_classifier = load_classifier      # called in the loop's thread when ``classifier`` is None
        self.threads = int(threads) if threads else live_torch_threads()
        self.max_frames = int(max_frames)
        self.mirror = bool(mirror)
        self.on_result = on_result
        self.on_status = on_status
        self.reader: LatestFrameReader | None = None
        self.frames = 0
        self.captured = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sink: Sink | None = None
        self._rate: float = 0.0
        self._shots: list[Sink] = []
        self._last_capture = 0.0
        self._times: deque[float] = deque(maxlen=30)
        self._model_sum = self._loop_sum = 0.0

    # -- control (any thread) ------------------------------------------------------------------------
    def capture(self, sink: Sink, rate: float) -> None:
        """Give frames to ``sink`` at most ``rate`` per second (the first at once) until ``stop_capture``."""
        with self._lock:
            self._sink, self._rate, self._last_capture = sink, max(0.1, float(rate)), 0.0

    def stop_capture(self) -> None:
        with self._lock:
            self._sink = None

    def snap(self, sink: Sink) -> None:
        """Give the next frame to ``sink`` (a single shot)."""
        with self._lock:
            self._shots.append(sink)

    @property
    def capturing(self) -> bool:
        return self._sink is not None

    # -- the loop (the calling thread) ------------------------------------------------------------------
    def run(self) -> ClassifySummary:
        from app.engine.threads import intra_op_threads

        t0 = time.perf_counter()
        try:
            with intra_op_threads(self.threads):
                self._run()
        finally:
            if self.reader is not None:
                self.reader.stop(timeout=1.0)
        n = self.frames
        return ClassifySummary(n, time.perf_counter() - t0, self.captured,
                               self._model_sum / n if n else 0.0, self._loop_sum / n if n else 0.0)

    def _speed_up(self) -> None:
        from app.engine.fast_inference import OnnxClassifier, onnx_classifier
        from app.engine.predict import Classifier

        if isinstance(self.classifier, Classifier) and not isinstance(self.classifier, OnnxClassifier):
            self._status("loading", "Preparing the model for live pictures…")
            self.classifier, note = onnx_classifier(self.classifier, self.threads)
            if note:
                self._status("note", note)      # a fact, not a fault: the live view works either way

    def _run(self) -> None:
        if self.classifier is None and self.load_classifier is not None:
            self._status("loading", "Loading the model…")
            self.classifier = self.load_classifier()
            if self._stop.is_set():
                return
        if self.runtime == "auto" and self.classifier is not None:
            self._speed_up()
        self._status("opening", f"Opening {self.source.name}…")
        announced = False
        for f in self.newest_frames(after_error=self._kept_pictures):
            if not announced:
                self._status("running")
                announced = True
            self.handle(f.image, f.index, self.reader.dropped)
            if self.max_frames and self.frames >= self.max_frames:
                return

    def _kept_pictures(self) -> str:
        n = self.captured
        return f" The {n} picture{'s' if n != 1 else ''} taken before are kept." if n else ""

    def handle(self, bgr: np.ndarray, index: int = 0, dropped: int = 0) -> LiveClassification:
        """Everything the loop does with one frame (public for the benchmark): classify, capture, report."""
        t0 = time.perf_counter()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if self.mirror:
            rgb = rgb[:, ::-1].copy()
        probs, classes, model_ms = None, [], 0.0
        clf = self.classifier
        if clf is not None:
            m0 = time.perf_counter()
            probs = clf.probabilities(clf.prepare(rgb))[0].numpy().astype(np.float64)
            model_ms = (time.perf_counter() - m0) * 1000.0
            classes = clf.classes
        self._capture(rgb)
        result = LiveClassification(preview_of(rgb), rgb, probs, classes, 0.0, model_ms, 0.0, index,
                                    self.frames + 1, dropped, self.captured)
        self.frames += 1
        now = time.perf_counter()
        self._times.append(now)
        t = self._times
        result.fps = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0
        result.loop_ms = (now - t0) * 1000.0
        self._model_sum += model_ms
        self._loop_sum += result.loop_ms
        if self.on_result is not None:
            self.on_result(result)
        return result

    def _capture(self, rgb: np.ndarray) -> None:
        with self._lock:
            shots, self._shots = self._shots, []
            sink = self._sink
            due = sink is not None and time.perf_counter() - self._last_capture >= 1.0 / self._rate
            if due:
                self._last_capture = time.perf_counter()
        for s in shots + ([sink] if due else []):
            try:
                s(rgb)
                self.captured += 1
            except UserError as exc:
                if s is sink:
                    self.stop_capture()
                self._status("warning", str(exc))


__all__ = ["ClassifyLive", "LiveClassification", "ClassifySummary", "preview_of", "PREVIEW_SIDE"]
