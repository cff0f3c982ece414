"""The one live keypoint loop: a source, the keypoint pipeline, optional recording, and running statistics.

``LiveSession`` is used by the Keypoints tab (inside a ``workers.Worker`` with ``latest_only``), by
``visiondesk keypoints video`` and by ``bench/webcam_fps.py``. It has no Qt: results and state changes
go to callbacks, called in the thread that runs ``run()``::

    session = LiveSession(source, "kp-resnet18", on_result=show, on_status=say)
    summary = session.run()          # blocks until the source ends or stop() is called (any thread)

Two ways to read the source:

- ``realtime=True`` (the live view): the source is read in its own thread (``LatestFrameReader``; video
  files play at their own speed) and the pipeline always takes the newest frame, so a slow model
  drops frames instead of falling behind. Smoothing uses wall-clock time.
- ``realtime=False`` (the command line, the benchmark): every frame, in order, as fast as it goes;
  smoothing uses the video's own time (frame number / fps), so it behaves as at the video's speed.

Problems the person can act on (no model, a camera that stops, a file that cannot be written) raise
``UserError`` from ``run()`` in plain words; a recording that fails only stops the recording (status
``warning``). The model runs on ``threads`` torch threads of this thread only (``live_torch_threads()``
by default), so a training started meanwhile elsewhere keeps its own setting.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from app.core.errors import UserError
from app.vision.pipeline import STAGES, FrameResult, KeypointPipeline, live_torch_threads
from app.vision.loop import LoopControl
from app.vision.sources import FrameSource, LatestFrameReader

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi")


# ---------------------------------------------------------------------------------------------- recording
class VideoRecorder:
    """An annotated video file (mp4v), opened at the first frame (when the size is known). Frames of
    another size (an image folder with mixed sizes) are resized to the first one's."""

    def __init__(self, path: str | Path, fps: float):
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.frames = 0
        self._writer = None
        self._size: tuple[int, int] | None = None

    def write(self, frame: np.ndarray) -> None:
        import cv2

        if self._writer is None:
            from app.core.files import output_path

            h, w = frame.shape[:2]
            self.path = output_path(self.path, what="the video")     # no device, pipe or folder
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"Could not create the folder for the video {self.path}: "
                                f"{exc.strerror or 'not allowed'}. Choose another folder.") from exc
            writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not writer.isOpened():
                raise UserError(f"Could not write the video {self.path}. Check that the folder can be written "
                                f"and that the name ends in .mp4, then try again.")
            self._writer, self._size = writer, (w, h)
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


# ---------------------------------------------------------------------------------------------- results
@dataclass
class LiveStats:
    """Running figures after one frame (what the live view shows)."""

    fps: float                       # results per second over the last 30 frames
    stages: dict[str, float]         # mean ms per stage over the last 30 frames
    faces: int                       # faces in this frame
    dropped: int                     # frames the reader replaced before the pipeline took them
    frames: int                      # frames processed so far
    index: int                       # this frame's number in its stream
    recording: bool


@dataclass
class LiveSummary:
    """The whole session: what ``visiondesk keypoints video`` prints."""

    frames: int
    seconds: float
    ms_per_stage: dict[str, float]
    faces_per_frame: float
    detector_runs: int
    threads: int
    model: str
    device: str
    recorded: list[str] = field(default_factory=list)
    runtime: str = "pytorch"         # what ran the model: "onnxruntime" or "pytorch"

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def added_latency_ms(self) -> float:
        m = self.ms_per_stage
        return m.get("detect", 0.0) + m.get("model", 0.0) + m.get("draw", 0.0)


def _load_predictor(key: str, device: str):
    """A keypoint model by shipped name ("default" = the best), run folder or checkpoint (the engine's loader)."""
    from app.engine.keypoints import load_keypoint_model
    from app.vision import resolve_model

    return load_keypoint_model(resolve_model(key), device=device)


def _make_detector():
    from app.vision import FaceDetector

    return FaceDetector()


# ---------------------------------------------------------------------------------------------- the loop
class LiveSession(LoopControl):
    """See the module docstring. Options may be changed and recordings started from any thread."""

    def __init__(self, source: FrameSource, model: str = "default", *, device: str = "cpu",
                 smoothing: bool = True, mirror: bool = False, lines: bool = True, redetect_every: int = 10,
                 threads: int | None = None, realtime: bool = True, max_frames: int = 0,
                 predictor=None, detector=None, runtime: str = "auto",
                 load_predictor: Callable[[str, str], Any] | None = None,
                 make_detector: Callable[[], Any] | None = None,
                 on_result: Callable[[FrameResult, LiveStats], None] | None = None,
                 on_status: Callable[[str, str], None] | None = None,
                 before_write: Callable[[np.ndarray, FrameResult], None] | None = None):
        self.source = source
        self.model = str(model)
        self.device = device
        self.redetect_every = int(redetect_every)
        self.threads = int(threads) if threads else live_torch_threads()
        self.realtime = realtime
        self.max_frames = int(max_frames)
        self.predictor = predictor
        self.detector = detector
        # "auto": a PyTorch keypoint model runs in onnxruntime on the CPU when that gives the same points;
        # anything else runs the predictor as given
        self.runtime = runtime
        self._load_predictor = load_predictor or _load_predictor
        self._make_detector = make_detector or _make_detector
        self.on_result = on_result
        self.on_status = on_status
        self.before_write = before_write          # e.g. the command line's statistics text on the video
        self.options = {"smoothing": bool(smoothing), "mirror": bool(mirror), "lines": bool(lines)}
        self.pipeline: KeypointPipeline | None = None
        self.reader: LatestFrameReader | None = None
        self.frames = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._record_request: tuple[str, Path | None] | None = None
        self._recorder: VideoRecorder | None = None
        self._recorded: list[str] = []
        self._times: deque[float] = deque(maxlen=30)
        self._recent: deque[dict] = deque(maxlen=30)
        self._sums = {k: 0.0 for k in STAGES}
        self._faces = 0
        self._detections = 0

    # -- control (any thread)
    def set_option(self, name: str, value: bool) -> None:
        """``smoothing``, ``mirror`` or ``lines``; applies from the next frame."""
        if name not in self.options:
            raise ValueError(f"unknown live option {name!r}")
        self.options[name] = bool(value)
        if self.pipeline is not None:
            self._apply_options(self.pipeline)

    def start_recording(self, path: str | Path) -> None:
        with self._lock:
            self._record_request = ("start", Path(path))

    def stop_recording(self) -> None:
        with self._lock:
            self._record_request = ("stop", None)

    # -- the loop (the calling thread)
    def run(self) -> LiveSummary:
        from app.engine.threads import intra_op_threads

        t0 = time.perf_counter()
        try:
            with intra_op_threads(self.threads):    # this thread's model runs only
                self._run()
        finally:
            if self.reader is not None:
                self.reader.stop(timeout=1.0)
            self._close_recorder()
        n = self.frames
        device = getattr(self.predictor, "device", self.device)
        return LiveSummary(n, time.perf_counter() - t0, {k: (v / n if n else 0.0) for k, v in self._sums.items()},
                           self._faces / n if n else 0.0, self._detections, self.threads, self.model,
                           str(device), list(self._recorded), getattr(self.predictor, "runtime", "pytorch"))

    def _speed_up(self) -> None:
        """Run a PyTorch keypoint model through onnxruntime (same points, about 2-3x sooner on a CPU);
        when that cannot be done the model stays in PyTorch and the user is told why."""
        from app.engine.fast_inference import OnnxKeypointPredictor, onnx_predictor
        from app.engine.keypoints import KeypointPredictor

        if isinstance(self.predictor, KeypointPredictor) and not isinstance(self.predictor, OnnxKeypointPredictor):
            self.predictor, note = onnx_predictor(self.predictor, self.threads)
            if note:
                self._status("note", note)       # a fact, not a fault: the live view works either way

    def _apply_options(self, p: KeypointPipeline) -> None:
        o = self.options
        p.set_smoothing(o["smoothing"])
        p.set_mirror(o["mirror"])
        p.draw_lines = o["lines"]

    def _run(self) -> None:
        if self.predictor is None:
            shown = Path(self.model).name if ("/" in self.model or "\\" in self.model) else self.model
            self._status("loading", f"Loading the model {shown}…")
            self.predictor = self._load_predictor(self.model, self.device)
        if self.runtime == "auto":
            self._speed_up()
        if self._stop.is_set():
            return
        detector = self.detector if self.detector is not None else self._make_detector()
        self.pipeline = KeypointPipeline(self.predictor, detector, redetect_every=self.redetect_every,
                                         smoothing=self.options["smoothing"], mirror=self.options["mirror"],
                                         draw_lines=self.options["lines"])
        self._apply_options(self.pipeline)        # options changed while the model was loading
        self._status("opening", f"Opening {self.source.name}…")
        frames = self.newest_frames(on_idle=self._handle_recording) if self.realtime else self._every_frame()
        announced = False
        for f in frames:
            self._handle_recording()
            if not announced:
                self._status("running")
                announced = True
            ts = f.timestamp if self.realtime else f.index / max(self.source.fps, 1e-6)
            res = self.pipeline.process(f.image, f.capture_ms, ts, f.new_scene, f.index)
            self._record(res)
            self._account(res, f.index)
            if self.max_frames and self.frames >= self.max_frames:
                break
        self._handle_recording()

    def _every_frame(self):
        try:
            for f in self.source.frames():
                if self._stop.is_set():
                    return
                yield f
        finally:
            self.source.close()

    def _record(self, res: FrameResult) -> None:
        rec = self._recorder
        if rec is None:
            return
        img = res.frame_annotated
        if self.before_write is not None:
            img = img.copy()
            self.before_write(img, res)
        try:
            rec.write(img)
        except UserError as exc:
            self._recorder = None
            self._status("warning", str(exc))

    def _account(self, res: FrameResult, index: int) -> None:
        self.frames += 1
        for k in STAGES:
            self._sums[k] += res.timings_ms[k]
        self._faces += len(res.faces)
        self._detections += bool(res.detected)
        if self.on_result is None:
            return
        self._times.append(time.perf_counter())
        self._recent.append(res.timings_ms)
        t = self._times
        fps = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0
        stages = {k: float(np.mean([r[k] for r in self._recent])) for k in STAGES}
        dropped = self.reader.dropped if self.reader is not None else 0
        self.on_result(res, LiveStats(fps, stages, len(res.faces), dropped, self.frames, index,
                                      self._recorder is not None))

    def _handle_recording(self) -> None:
        with self._lock:
            req, self._record_request = self._record_request, None
        if req is None:
            return
        self._close_recorder()
        if req[0] == "start":
            fps = 5.0 if self.source.kind == "images" else self.source.fps
            self._recorder = VideoRecorder(req[1], fps)

    def _close_recorder(self) -> None:
        rec, self._recorder = self._recorder, None
        if rec is None:
            return
        rec.close()
        if rec.frames:
            self._recorded.append(str(rec.path))
            self._status("recorded", str(rec.path))
        else:
            self._status("warning", "Nothing was recorded: no picture came in while recording.")


__all__ = ["LiveSession", "LiveStats", "LiveSummary", "VideoRecorder", "VIDEO_SUFFIXES"]
