"""Frame sources: cameras, video files and image folders, and a reader thread where the newest frame wins.

A ``FrameSource`` is opened, read frame by frame and closed, all in one thread. ``LatestFrameReader``
runs a source in its own thread and keeps only the newest frame in a one-slot buffer: a consumer
that is slower than the source gets the most recent picture and the frames in between are dropped,
never queued. Failures (a camera that is missing, busy or unplugged, a file that is not a video)
become an ``error`` state with a plain message instead of an exception in some other thread.

For a benchmark or the command line, iterate ``source.frames()`` instead: every frame, as fast as the
decoder goes.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from app.core.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".flv")

CaptureFactory = Callable[..., "cv2.VideoCapture"]


class SourceError(UserError):
    """A source cannot be opened or stopped working; the message is meant for the user."""


@dataclass
class Frame:
    image: np.ndarray          # BGR uint8 (H, W, 3)
    index: int                 # 0-based count of frames read from this source
    timestamp: float           # time.perf_counter() when the frame was read
    capture_ms: float          # time spent grabbing and decoding it
    new_scene: bool = False    # not a continuation of the previous frame (first frame, a loop, another image)


def _as_bgr(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


class FrameSource(ABC):
    """One camera, video file or image folder. ``open``, ``read`` and ``close`` run in one thread."""

    kind: str = "source"
    continuous: bool = True     # consecutive frames show the same scene (tracking between them makes sense)
    realtime: bool = False      # frames arrive at the device's own pace (a camera); else they can be paced

    def __init__(self) -> None:
        self.fps: float = 25.0
        self.frame_count: int = 0   # 0 when unknown (cameras)
        self.frames_read = 0
        self._opened = False

    @property
    @abstractmethod
    def name(self) -> str:
        """Short name for messages and the GUI."""

    @abstractmethod
    def open(self) -> None:
        """Open the source; raise SourceError with a plain message when that is impossible."""

    @abstractmethod
    def _read(self) -> tuple[np.ndarray | None, bool]:
        """(BGR image or None at the end, new_scene). Raise SourceError on failure."""

    def close(self) -> None:
        self._opened = False

    def read(self) -> Frame | None:
        """The next frame, or None at the end of a file or folder. Raises SourceError on failure."""
        if not self._opened:
            self.open()
            self._opened = True
        t0 = time.perf_counter()
        img, new_scene = self._read()
        t1 = time.perf_counter()
        if img is None:
            return None
        frame = Frame(_as_bgr(img), self.frames_read, t1, (t1 - t0) * 1000.0,
                      new_scene or self.frames_read == 0 or not self.continuous)
        self.frames_read += 1
        return frame

    def frames(self) -> Iterator[Frame]:
        """Every frame, as fast as it can be read (for the command line and benchmarks)."""
        try:
            while True:
                f = self.read()
                if f is None:
                    return
                yield f
        finally:
            self.close()

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------- cameras
def _default_backend() -> int:
    if sys.platform.startswith("linux"):
        return cv2.CAP_V4L2
    if sys.platform == "win32":
        return cv2.CAP_DSHOW
    if sys.platform == "darwin":
        return cv2.CAP_AVFOUNDATION
    return cv2.CAP_ANY


def _quiet_opencv() -> None:
    """OpenCV prints warnings for every camera index that does not exist; keep the console clean."""
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:
        pass


class CameraSource(FrameSource):
    """A camera by index. A camera that is missing, busy, or stops sending pictures raises SourceError."""

    kind = "camera"
    realtime = True

    def __init__(self, index: int = 0, width: int | None = None, height: int | None = None,
                 backend: int | None = None, capture_factory: CaptureFactory | None = None,
                 max_failures: int = 8, retry_delay: float = 0.03):
        super().__init__()
        self.index = int(index)
        self.width, self.height = width, height
        self.backend = _default_backend() if backend is None else backend
        self._factory = capture_factory or cv2.VideoCapture
        self.max_failures = max_failures
        self.retry_delay = retry_delay
        self._cap = None
        self._failures = 0

    @property
    def name(self) -> str:
        return f"Camera {self.index}"

    def open(self) -> None:
        _quiet_opencv()
        try:
            cap = self._factory(self.index, self.backend)
        except Exception as exc:  # some backends raise instead of returning a closed capture
            raise SourceError(f"{self.name} could not be opened ({exc}).") from exc
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            raise SourceError(f"{self.name} could not be opened: it is not connected, or another program is using it.")
        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        try:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)   # the driver should not queue old frames either
        except cv2.error:
            pass
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self._cap = cap
        self._failures = 0
        self._opened = True

    def _read(self):
        while True:
            try:
                ok, img = self._cap.read()
            except cv2.error:
                ok, img = False, None
            if ok and img is not None and img.size:
                self._failures = 0
                return img, False
            self._failures += 1
            if self._failures >= self.max_failures:
                if self.frames_read == 0:
                    raise SourceError(f"{self.name} opened but sends no pictures: another program may be "
                                      f"using it.")
                raise SourceError(f"{self.name} stopped sending pictures: it was unplugged or another "
                                  f"program took it.")
            time.sleep(self.retry_delay)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        super().close()


@dataclass
class CameraInfo:
    index: int
    name: str
    width: int = 0
    height: int = 0

    @property
    def label(self) -> str:
        size = f" ({self.width}x{self.height})" if self.width else ""
        return f"{self.name}{size}"


def _linux_video_nodes() -> list[int] | None:
    """Indices of /dev/videoN that exist (None when this is not Linux or /dev cannot be listed)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        names = os.listdir("/dev")
    except OSError:
        return None
    out = []
    for n in names:
        if n.startswith("video") and n[5:].isdigit():
            out.append(int(n[5:]))
    return sorted(out)


def _linux_camera_name(index: int) -> str | None:
    try:
        return Path(f"/sys/class/video4linux/video{index}/name").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def list_cameras(max_index: int = 6, timeout: float = 3.0, backend: int | None = None,
                 capture_factory: CaptureFactory | None = None) -> list[CameraInfo]:
    """Cameras that open and deliver a picture, probed in parallel threads.

    Each index is probed in its own daemon thread; the whole call returns after ``timeout`` seconds
    at most, so a driver that hangs cannot hang the caller (a hung probe thread is left behind).
    On Linux only the /dev/videoN nodes that exist are probed (none -> an empty list at once).
    """
    _quiet_opencv()
    factory = capture_factory or cv2.VideoCapture
    backend = _default_backend() if backend is None else backend
    indices = list(range(max_index))
    if capture_factory is None:
        nodes = _linux_video_nodes()
        if nodes is not None:
            indices = [i for i in nodes if i < max_index]
    found: dict[int, CameraInfo] = {}
    lock = threading.Lock()

    def probe(i: int) -> None:
        cap = None
        try:
            cap = factory(i, backend)
            if cap is None or not cap.isOpened():
                return
            ok, img = cap.read()
            if not ok or img is None:
                return
            name = _linux_camera_name(i) if capture_factory is None else None
            with lock:
                found[i] = CameraInfo(i, f"Camera {i}" + (f": {name}" if name else ""), img.shape[1], img.shape[0])
        except Exception:  # a broken driver only means: not a usable camera
            return
        finally:
            if cap is not None:
                try:
                    cap.release()
                except Exception:
                    pass

    threads = [threading.Thread(target=probe, args=(i,), name=f"camera-probe-{i}", daemon=True) for i in indices]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return [found[i] for i in sorted(found)]


# ---------------------------------------------------------------------------------------------- files
class VideoFileSource(FrameSource):
    """A video file. ``loop=True`` starts again at the end (the live view); else the end returns None."""

    kind = "video"

    def __init__(self, path: str | Path, loop: bool = False, capture_factory: CaptureFactory | None = None):
        super().__init__()
        self.path = Path(path)
        self.loop = loop
        self._factory = capture_factory or cv2.VideoCapture
        self._cap = None
        self._in_pass = 0      # frames read since the start of the file (this pass)
        self._restart = False

    @property
    def name(self) -> str:
        return self.path.name

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"The video file {self.path} does not exist.")
        _quiet_opencv()
        try:
            cap = self._factory(str(self.path))
        except Exception as exc:
            raise SourceError(f"{self.path.name} could not be opened as a video ({exc}).") from exc
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            raise SourceError(f"{self.path.name} could not be opened as a video: it is not a video file, "
                              f"or its format is not supported.")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 1.0 <= fps <= 240.0 else 25.0
        self.frame_count = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        self._cap = cap
        self._in_pass = 0
        self._opened = True

    def _read(self):
        new_scene = self._restart
        self._restart = False
        try:
            ok, img = self._cap.read()
        except cv2.error:
            ok, img = False, None
        if ok and img is not None and img.size:
            self._in_pass += 1
            return img, new_scene
        if self._in_pass == 0:
            raise SourceError(f"{self.path.name} could not be decoded: not a single picture could be read from it.")
        if self.frame_count and self._in_pass < 0.9 * self.frame_count - 1:
            raise SourceError(f"{self.path.name} stopped decoding at frame {self._in_pass} of "
                              f"{self.frame_count}: the file is damaged or incomplete.")
        if not self.loop:
            return None, False
        self._cap.release()
        self._cap = None
        self.open()
        self._restart = True
        return self._read()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        super().close()


class ImageFolderSource(FrameSource):
    """The images of a folder (sorted by name), one per frame. Unreadable files are skipped and counted."""

    kind = "images"
    continuous = False

    def __init__(self, path: str | Path, fps: float = 2.0, loop: bool = False):
        super().__init__()
        self.path = Path(path)
        self.fps = float(fps)
        self.loop = loop
        self.files: list[Path] = []
        self.skipped: list[str] = []
        self._pos = 0

    @property
    def name(self) -> str:
        return self.path.name or str(self.path)

    def open(self) -> None:
        if not self.path.is_dir():
            raise SourceError(f"The folder {self.path} does not exist.")
        self.files = sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"The folder {self.path} holds no images ({', '.join(IMAGE_SUFFIXES[:4])}, ...).")
        self.frame_count = len(self.files)
        self._pos = 0
        self._opened = True

    def _read(self):
        bad_in_a_row = 0
        while True:
            if self._pos >= len(self.files):
                if not self.loop or bad_in_a_row >= len(self.files):
                    if self.frames_read == 0:
                        raise SourceError(f"None of the {len(self.files)} images in {self.path} could be read.")
                    return None, False
                self._pos = 0
            f = self.files[self._pos]
            self._pos += 1
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is not None and img.size:
                return img, True
            bad_in_a_row += 1
            if f.name not in self.skipped:
                self.skipped.append(f.name)


def open_source(spec: str | int | Path, loop: bool = False) -> FrameSource:
    """A source from what a person typed: a camera number, a video file or a folder of images."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CameraSource(int(spec))
    p = Path(spec).expanduser()
    if p.is_dir():
        return ImageFolderSource(p, loop=loop)
    if p.is_file():
        return VideoFileSource(p, loop=loop)
    raise SourceError(f"{spec} is neither a camera number, a video file nor a folder of images.")


# ---------------------------------------------------------------------------------------------- reader thread
class LatestFrameReader:
    """Reads a source in its own thread; the newest frame wins.

    The buffer holds one frame. A new frame replaces one the consumer has not taken yet (that one
    counts as dropped). Video files and image folders are played at their own frame rate when
    ``pace`` is on (the default for them); cameras deliver at their own pace.

    ``state`` is "starting", "running", "ended" (end of a file), "stopped" (``stop()`` was called)
    or "error" (then ``error`` holds the message). A camera that sends nothing for ``stall_timeout``
    seconds is reported as an error too, even when its driver blocks instead of failing.
    """

    def __init__(self, source: FrameSource, pace: bool | None = None, stall_timeout: float = 5.0,
                 on_change: Callable[[], None] | None = None):
        self.source = source
        self.pace = (not source.realtime) if pace is None else pace
        self.stall_timeout = stall_timeout
        self.on_change = on_change       # called from the reader thread after each new frame / state change
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._stop = threading.Event()
        self._state = "starting"
        self.error: str | None = None
        self.frames_read = 0
        self.dropped = 0
        self._last_frame_time = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"frames-{source.kind}", daemon=True)

    # -- life cycle
    def start(self) -> "LatestFrameReader":
        self._last_frame_time = time.monotonic()
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the thread to end and wait up to ``timeout`` seconds; True when it has ended."""
        self._stop.set()
        with self._cond:
            if self._state in ("starting", "running"):
                self._state = "stopped"
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def state(self) -> str:
        with self._cond:
            st = self._state
        if st == "running" and self.source.realtime and self.stall_timeout and \
                time.monotonic() - self._last_frame_time > self.stall_timeout:
            with self._cond:
                if self._state == "running":
                    self._state = "error"
                    self.error = (f"{self.source.name} sent no picture for {self.stall_timeout:.0f} seconds: "
                                  f"it was unplugged or another program took it.")
                self._cond.notify_all()
            return "error"
        return st

    @property
    def finished(self) -> bool:
        return self.state in ("ended", "stopped", "error")

    # -- consumer side
    def get(self, timeout: float | None = None, newer_than: int = -1) -> Frame | None:
        """Take the newest frame (waiting up to ``timeout`` seconds for one newer than ``newer_than``).

        None when nothing new arrived in time or the reader has finished (see ``state``).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._cond:
                f = self._slot
                if f is not None and f.index > newer_than:
                    self._slot = None
                    return f
                if self._state not in ("starting", "running"):
                    return None
                wait = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
                if wait <= 0:
                    return None
                self._cond.wait(wait)
            if self.source.realtime:
                self.state  # noqa: B018  (runs the stall check)

    # -- producer side
    def _set_state(self, state: str, error: str | None = None) -> None:
        with self._cond:
            if self._state == "stopped" and state != "error":
                return
            self._state = state
            if error:
                self.error = error
            self._cond.notify_all()
        if self.on_change:
            self.on_change()

    def _run(self) -> None:
        src = self.source
        try:
            src.open()
            self._set_state("running")
            start = time.perf_counter()
            n_paced = 0
            while not self._stop.is_set():
                f = src.read()
                if f is None:
                    self._set_state("ended")
                    return
                if self.pace:
                    due = start + n_paced / max(src.fps, 1e-3)
                    delay = due - time.perf_counter()
                    if delay > 0:
                        if self._stop.wait(delay):
                            return
                    elif delay < -2.0 / max(src.fps, 1e-3):   # fell behind: do not burst to catch up
                        start, n_paced = time.perf_counter(), 0
                    n_paced += 1
                with self._cond:
                    if self._slot is not None:
                        self.dropped += 1
                    self._slot = f
                    self.frames_read += 1
                    self._last_frame_time = time.monotonic()
                    self._cond.notify_all()
                if self.on_change:
                    self.on_change()
        except SourceError as exc:
            self._set_state("error", str(exc))
        except Exception as exc:  # a driver or decoder fault: still a message, never a dead thread
            self._set_state("error", f"{src.name} failed: {type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            try:
                src.close()
            except Exception:
                pass
