"""app.vision: sources, newest-frame-wins reading, faces/crops, tracking, One-Euro smoothing, overlay, pipeline."""
from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
from vision_helpers import (FakeCapture, StandInDetector, StandInPredictor, face_frame, face_video, template68,
                            write_video)

from app.core.errors import UserError
from app.vision import faces as F
from app.vision.overlay import draw_faces
from app.vision.pipeline import KeypointPipeline
from app.vision.sources import (CameraSource, FrameSource, ImageFolderSource, LatestFrameReader, SourceError,
                                VideoFileSource, list_cameras, open_source)
from app.vision.tracking import FaceTracker, OneEuroFilter, PointSmoother


# ---------------------------------------------------------------------------------------------- sources
def test_video_file_source_reads_every_frame_and_the_faces_in_it(tmp_path):
    path = face_video(tmp_path / "clip.mp4", n_face=8, n_empty=4)
    src = VideoFileSource(path)
    frames = list(src.frames())
    assert len(frames) == 12
    assert [f.index for f in frames] == list(range(12))
    assert frames[0].new_scene and not frames[1].new_scene
    assert src.fps == pytest.approx(25.0)
    assert frames[0].image.shape == (240, 320, 3) and frames[0].image.dtype == np.uint8
    det = StandInDetector()
    found = [len(det.detect(f.image)) for f in frames]
    assert found == [1] * 8 + [0] * 4          # the drawn face survives the mp4v round trip


def test_video_loops_when_asked(tmp_path):
    path = face_video(tmp_path / "clip.mp4", n_face=3, n_empty=2)
    src = VideoFileSource(path, loop=True)
    got = [src.read() for _ in range(12)]
    src.close()
    assert all(f is not None for f in got)
    assert [f.new_scene for f in got[:6]] == [True, False, False, False, False, True]


def test_missing_and_undecodable_videos_raise_plain_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        VideoFileSource(tmp_path / "nope.mp4").read()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 50)
    with pytest.raises(SourceError, match="could not be opened as a video|could not be decoded"):
        VideoFileSource(bad).read()
    assert issubclass(SourceError, UserError)
    # through the reader thread: an error state with the message, no exception
    reader = LatestFrameReader(VideoFileSource(bad)).start()
    assert reader.get(timeout=5) is None
    assert reader.state == "error" and "bad.mp4" in reader.error


def test_image_folder_skips_bad_files(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), face_frame(60, 80, faces=((40, 30, 10 + i),)))
    (tmp_path / "img9.jpg").write_bytes(b"broken")
    (tmp_path / "notes.txt").write_text("not an image")
    src = ImageFolderSource(tmp_path)
    frames = list(src.frames())
    assert len(frames) == 3 and all(f.new_scene for f in frames)
    assert src.skipped == ["img9.jpg"]
    assert isinstance(open_source(tmp_path), ImageFolderSource)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="holds no images"):
        ImageFolderSource(empty).read()


def test_open_source_understands_numbers_files_and_rejects_nonsense(tmp_path):
    assert isinstance(open_source("0"), CameraSource)
    path = face_video(tmp_path / "v.mp4", n_face=2, n_empty=0)
    assert isinstance(open_source(str(path)), VideoFileSource)
    with pytest.raises(SourceError, match="neither"):
        open_source(tmp_path / "missing.avi")


def test_camera_that_stops_sending_pictures_becomes_an_error_state():
    cap = FakeCapture(good=5)
    src = CameraSource(0, capture_factory=lambda *a: cap, max_failures=3, retry_delay=0.001)
    reader = LatestFrameReader(src).start()
    got = []
    while True:
        f = reader.get(timeout=2)
        if f is None:
            break
        got.append(f.index)
    assert reader.state == "error"
    assert "stopped sending pictures" in reader.error and "Camera 0" in reader.error
    assert got and got[-1] <= 4
    assert cap.released                         # the thread closed the capture on its way out
    assert not reader.is_alive() or reader.stop()


def test_camera_missing_or_busy_gives_a_message():
    src = CameraSource(3, capture_factory=lambda *a: FakeCapture(opened=False))
    with pytest.raises(SourceError, match="could not be opened"):
        src.read()
    busy = CameraSource(1, capture_factory=lambda *a: FakeCapture(good=0), max_failures=2, retry_delay=0.001)
    with pytest.raises(SourceError, match="sends no pictures"):
        busy.read()


def test_stalled_camera_is_reported_by_the_watchdog():
    class Hanging(FakeCapture):
        def read(self):
            if self.reads >= 2:
                time.sleep(1.0)       # a driver that blocks instead of failing
            return super().read()

    cap = Hanging(good=100)
    reader = LatestFrameReader(CameraSource(0, capture_factory=lambda *a: cap), stall_timeout=0.3).start()
    t0 = time.monotonic()
    while reader.state != "error" and time.monotonic() - t0 < 3:
        reader.get(timeout=0.1)
    assert reader.state == "error" and "sent no picture" in reader.error
    reader.stop(timeout=2)


def test_list_cameras_probes_in_parallel_and_never_hangs():
    def factory(index, backend):
        if index == 3:
            time.sleep(5)                        # a hung driver
        return FakeCapture(good=1, opened=index in (0, 2))

    t0 = time.monotonic()
    cams = list_cameras(max_index=5, timeout=0.5, capture_factory=factory)
    assert time.monotonic() - t0 < 1.5
    assert [c.index for c in cams] == [0, 2]
    assert cams[0].width == 64 and "Camera 0" in cams[0].label


class _CountingSource(FrameSource):
    """A fast producer: a new frame every ``period`` seconds, each image carrying its own index."""

    kind = "test"
    realtime = True

    def __init__(self, period=0.001, n=100000):
        super().__init__()
        self.period, self.n = period, n

    @property
    def name(self):
        return "counter"

    def open(self):
        self._opened = True

    def _read(self):
        if self.frames_read >= self.n:
            return None, False
        time.sleep(self.period)
        return np.full((4, 4, 3), self.frames_read % 256, np.uint8), False


def test_newest_frame_wins_with_a_slow_consumer():
    reader = LatestFrameReader(_CountingSource(period=0.001)).start()
    seen, lag = [], []
    try:
        last = -1
        for _ in range(10):
            f = reader.get(timeout=2, newer_than=last)
            assert f is not None
            produced = reader.frames_read
            lag.append(produced - 1 - f.index)     # how many newer frames exist than the one we got
            seen.append(f.index)
            last = f.index
            time.sleep(0.03)                       # a slow consumer
            assert f.image[0, 0, 0] == f.index % 256
    finally:
        assert reader.stop()
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    gaps = np.diff(seen)
    assert gaps.min() >= 3                          # the frames in between were dropped, not queued
    assert max(lag) <= 2                            # what the consumer gets is (nearly) the newest
    assert reader.dropped >= sum(gaps) - len(gaps) - 2
    assert reader.state == "stopped"


def test_video_is_played_at_its_own_frame_rate_when_paced(tmp_path):
    path = face_video(tmp_path / "clip.mp4", n_face=10, n_empty=0, fps=50.0)
    reader = LatestFrameReader(VideoFileSource(path)).start()
    t0 = time.perf_counter()
    n = 0
    while reader.get(timeout=2, newer_than=n - 1) is not None:
        n += 1
    elapsed = time.perf_counter() - t0
    assert reader.state == "ended"
    assert elapsed >= 0.15                          # 10 frames at 50 fps take 0.2 s, not the decode time
    assert n >= 5


# ---------------------------------------------------------------------------------------------- crops
def test_crop_and_point_mapping_are_exact_inverses_and_pad_with_black():
    grey = np.arange(100 * 120, dtype=np.uint32).reshape(100, 120).astype(np.uint8)
    box = np.array([-20.3, 10.2, 80.0], np.float32)
    crop = F.crop_square(grey, box, 40)
    assert crop.shape == (40, 40)
    assert crop[:, :5].max() == 0                   # left of the image: black
    pts = np.array([[5.0, 7.0], [33.5, 20.25]], np.float32)
    back = F.points_to_crop(F.points_to_frame(pts, box, 40), box, 40)
    np.testing.assert_allclose(back, pts, atol=1e-4)
    # a pixel's centre maps to the centre of its block in the crop (scale 2): frame x=0 -> crop (0 + 0.5 + 20)/2 - 0.5
    np.testing.assert_allclose(F.points_to_crop(np.array([[0.0, 10.0]]), box, 40), [[9.75, -0.25]], atol=1e-5)


def test_crop_box_conventions():
    pts = template68() * 100 + 50                   # extent 100 (x), centre x 100
    x0, y0, side = F.crop_box_from_points(pts)
    cy = (pts[:, 1].min() + pts[:, 1].max()) / 2
    assert side == pytest.approx(200) and x0 == pytest.approx(0, abs=1e-3) and y0 == pytest.approx(cy - 100, abs=1e-3)
    x0, y0, side = F.crop_box_from_face((100, 100, 100, 100))     # the one rule: app.data.keypoints
    assert side == pytest.approx(177.8) and x0 + side / 2 == pytest.approx(150.7)
    assert y0 + side / 2 == pytest.approx(166.7)     # keypoints sit lower than the Haar box centre
    assert F.box_iou((0, 0, 10), (0, 0, 10)) == pytest.approx(1.0)
    assert F.box_iou((0, 0, 10), (20, 20, 10)) == 0.0


def test_haar_detector_runs_and_finds_nothing_in_a_blank_frame():
    det = F.FaceDetector()
    out = det.detect(np.full((240, 320, 3), 90, np.uint8))
    assert out.shape == (0, 4) and out.dtype == np.float32


# ---------------------------------------------------------------------------------------------- tracker
def test_tracker_matches_detections_keeps_its_own_box_and_drops_lost_faces():
    tr = FaceTracker(redetect_every=3, smoothing=False)
    assert tr.needs_detection()
    tr.update_detections([np.array([10, 10, 100], np.float32), np.array([300, 10, 100], np.float32)])
    assert len(tr.tracks) == 2 and not tr.needs_detection()
    pts = [template68() * 50 + 35, template68() * 50 + [325, 35]]
    shown = tr.update_points(pts, 0.0)
    assert len(shown) == 2
    ids = [t.id for t in tr.tracks]
    np.testing.assert_allclose(tr.tracks[0].box, F.crop_box_from_points(pts[0]))   # the next crop: from the points
    # a detection a little off the track's box matches it (no new track) and the track keeps its own box
    own = tr.tracks[0].box.copy()
    tr.update_detections([own + np.array([6, -4, 8], np.float32)])
    assert [t.id for t in tr.tracks] == ids                # the second face missed once: kept for now
    np.testing.assert_allclose(tr.tracks[0].box, own)
    assert tr.tracks[1].misses == 1 and tr.needs_detection()
    tr.update_detections([own])
    assert [t.id for t in tr.tracks] == ids[:1]            # missed twice: gone
    # implausible points (spread far from the crop's half-side) drop the track and ask for detection
    assert tr.update_points([np.full((68, 2), 60.0, np.float32)], 0.1) == []
    assert tr.tracks == [] and tr.needs_detection()


# ---------------------------------------------------------------------------------------------- smoothing
def test_one_euro_smooths_a_noisy_still_signal_and_follows_a_fast_ramp():
    rng = np.random.default_rng(0)
    fps = 30.0
    t = np.arange(150) / fps
    params = {"min_cutoff": 1.0, "beta": 1.5}
    noisy = 1.0 + rng.normal(0, 0.02, (150, 68, 2))        # units of the face size: 2 % noise
    f = OneEuroFilter(**params)
    out = np.stack([f(noisy[i], t[i]) for i in range(150)])
    assert out[30:].std(axis=0).mean() < 0.4 * noisy[30:].std(axis=0).mean()

    speed = 3.0                                              # a head moving 3 face sizes per second
    ramp = speed * t[:, None, None] + np.zeros((150, 68, 2))
    f = OneEuroFilter(**params)
    out = np.stack([f(ramp[i], t[i]) for i in range(150)])
    lag = (ramp[60:] - out[60:]).mean()
    plain_lag = (ramp[60:, 0, 0] - _low_pass(ramp[:, 0, 0], t, params["min_cutoff"])[60:]).mean()
    assert lag < 0.35 * plain_lag                            # far less lag than a filter as smooth when still
    assert lag < 1.5 * speed / fps                           # under 1.5 frames of motion


def test_point_smoother_removes_shape_noise_and_keeps_up_with_a_moving_head():
    rng = np.random.default_rng(1)
    fps, n, size = 30.0, 120, 200.0
    base = template68() * size
    t = np.arange(n) / fps
    tracker = FaceTracker()
    # a still face with noisy points (1 % of the face size per point)
    sm = PointSmoother(tracker.motion, tracker.shape)
    noisy = [base + rng.normal(0, 2.0, base.shape) for _ in range(n)]
    out = np.stack([sm(p, t[i], size) for i, p in enumerate(noisy)])
    raw_jitter = np.abs(np.diff(np.stack(noisy)[30:], axis=0)).mean()
    assert np.abs(np.diff(out[30:], axis=0)).mean() < 0.45 * raw_jitter
    assert np.abs(out[30:].mean(0) - base).mean() < 0.5          # no bias
    # the head moving fast (1.5 face sizes per second): the points stay on it
    sm = PointSmoother(tracker.motion, tracker.shape)
    speed = 1.5 * size / fps                                      # 10 px per frame
    moving = [base + [speed * i, 0.0] for i in range(n)]
    out = np.stack([sm(p, t[i], size) for i, p in enumerate(moving)])
    lag = np.abs(np.stack(moving)[40:] - out[40:]).mean()
    assert lag < 0.5 * speed                                      # under half a frame of motion behind
    plain = OneEuroFilter(1.0, 1.5)
    plain_out = np.stack([plain(p / size, t[i]) * size for i, p in enumerate(moving)])
    assert lag < 0.5 * np.abs(np.stack(moving)[40:] - plain_out[40:]).mean()


def _low_pass(x, t, cutoff):
    out = [x[0]]
    for i in range(1, len(x)):
        dt = t[i] - t[i - 1]
        a = 1.0 / (1.0 + 1.0 / (2 * np.pi * cutoff * dt))
        out.append(a * x[i] + (1 - a) * out[-1])
    return np.asarray(out)


# ---------------------------------------------------------------------------------------------- overlay
def test_overlay_draws_points_lines_and_box_antialiased():
    img = np.zeros((200, 200, 3), np.uint8)
    pts = template68() * 100 + 50
    draw_faces(img, [pts], [F.face_box_from_points(pts)], points=True, lines=True, box=True)
    assert img.any()
    for x, y in pts[[0, 8, 30, 36, 48]]:
        assert img[int(round(y)), int(round(x))].max() > 100
    mid = (pts[36] + pts[37]) / 2                       # on the eye contour between two points
    assert img[int(round(mid[1])) - 1: int(round(mid[1])) + 2, int(round(mid[0])) - 1: int(round(mid[0])) + 2].max() > 0
    levels = np.unique(img.max(axis=2))
    assert len(levels) > 10                             # anti-aliased edges, not just on/off
    only_points = np.zeros_like(img)
    draw_faces(only_points, [pts], lines=False, box=False)
    assert 0 < (only_points.max(axis=2) > 0).sum() < (img.max(axis=2) > 0).sum()


# ---------------------------------------------------------------------------------------------- pipeline
def _pipeline(**kw):
    det, pred = StandInDetector(), StandInPredictor(input_size=64)
    return KeypointPipeline(pred, det, **kw), det, pred


def test_pipeline_no_face_gives_no_points():
    pipe, det, pred = _pipeline(smoothing=False)
    res = pipe.process(face_frame(faces=()))
    assert res.faces == [] and res.boxes == [] and res.detected
    assert pred.calls == []                               # no crops, no model call
    assert set(res.timings_ms) == {"capture", "detect", "model", "draw"}
    assert res.frame_annotated.shape == (240, 320, 3)


def test_pipeline_one_and_two_faces_in_frame_coordinates_in_one_model_call():
    pipe, det, pred = _pipeline(smoothing=False)
    frame = face_frame(faces=((80, 110, 40), (230, 130, 30)))
    res = pipe.process(frame.copy())
    assert len(res.faces) == 2 and pred.calls == [2]      # both faces in one batch
    for pts, (cx, cy, r) in zip(sorted(res.faces, key=lambda p: p[:, 0].mean()), ((80, 110, 40), (230, 130, 30))):
        assert pts.shape == (68, 2)
        lo, hi = pts.min(0), pts.max(0)
        assert (lo + hi)[0] / 2 == pytest.approx(cx, abs=3) and (lo + hi)[1] / 2 == pytest.approx(cy, abs=3)
        assert hi[0] - lo[0] == pytest.approx(2 * r, rel=0.12)
    assert len(res.boxes) == 2 and all(b.shape == (4,) for b in res.boxes)
    assert (res.frame_annotated != frame).any()          # the overlay is drawn

    one, _, pred1 = _pipeline(smoothing=False)
    res1 = one.process(face_frame(faces=((160, 120, 40),)))
    assert len(res1.faces) == 1 and pred1.calls == [1]


def test_pipeline_tracks_between_detections_and_redetects_every_k_frames():
    pipe, det, pred = _pipeline(smoothing=False, redetect_every=5)
    results = []
    for i in range(12):
        cx = 100 + 6 * i                                   # the face moves right 6 px per frame
        results.append(pipe.process(face_frame(faces=((cx, 120, 40),))))
    assert [r.detected for r in results] == [True, False, False, False, False, True, False, False, False, False,
                                             True, False]
    assert det.calls == 3
    for i, r in enumerate(results):                        # the points follow the face without detection
        assert len(r.faces) == 1
        c = (r.faces[0].min(0) + r.faces[0].max(0)) / 2
        assert c[0] == pytest.approx(100 + 6 * i, abs=3)
    # the face leaves: at the next detection (within K frames) the track is dropped, and the frame shows
    # without points (a regressor still answers on a crop without a face, so detection has the last word)
    gone = [pipe.process(face_frame(faces=())) for _ in range(5 + 2)]
    assert gone[-1].faces == [] and gone[-2].faces == []


def test_pipeline_new_scene_and_mirror():
    pipe, det, pred = _pipeline(smoothing=False, redetect_every=100)
    pipe.process(face_frame(faces=((100, 120, 40),)))
    res = pipe.process(face_frame(faces=((100, 120, 40),)), new_scene=True)
    assert res.detected and det.calls == 2
    pipe.set_mirror(True)
    res = pipe.process(face_frame(faces=((100, 120, 40),)))
    c = (res.faces[0].min(0) + res.faces[0].max(0)) / 2
    assert c[0] == pytest.approx(319 - 100, abs=3)          # points on the mirrored frame


def test_smoothing_reduces_jitter_in_the_pipeline():
    def jitter(smoothing):
        pipe = KeypointPipeline(StandInPredictor(input_size=64, noise=1.0, seed=1), StandInDetector(),
                                smoothing=smoothing, redetect_every=1000, draw_lines=False)
        pts = [pipe.process(face_frame(faces=((160, 120, 40),)), timestamp=i / 30).faces[0] for i in range(60)]
        return np.abs(np.diff(np.stack(pts[20:]), axis=0)).mean()

    assert jitter(True) < 0.5 * jitter(False)


def test_pipeline_settings_can_change_while_another_thread_processes():
    pipe, det, pred = _pipeline(smoothing=True)
    errors = []

    def work():
        try:
            for i in range(30):
                pipe.process(face_frame(faces=((150, 120, 40),)))
        except Exception as exc:   # pragma: no cover - the assertion below reports it
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    for i in range(30):
        pipe.set_smoothing(i % 2 == 0)
        pipe.set_mirror(i % 3 == 0)
        time.sleep(0.001)
    pipe.set_predictor(StandInPredictor(input_size=48))
    t.join()
    assert not errors
    res = pipe.process(face_frame(faces=((150, 120, 40),)))
    assert pipe.predictor.input_size == 48 and len(res.faces) == 1


def test_synthetic_video_through_reader_and_pipeline(tmp_path):
    path = face_video(tmp_path / "clip.mp4", n_face=10, n_empty=5)
    pipe, det, pred = _pipeline()
    counts = []
    for f in VideoFileSource(path).frames():
        res = pipe.process(f.image, f.capture_ms, f.timestamp, f.new_scene)
        counts.append(len(res.faces))
        assert res.timings_ms["capture"] >= 0
    assert counts[:10] == [1] * 10
    assert counts[-1] == 0
    # an annotated video can be written with mp4v
    out = write_video(tmp_path / "out.mp4", [pipe.process(face_frame()).frame_annotated for _ in range(3)])
    assert out.stat().st_size > 0


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_keypoints_video_writes_an_annotated_video_and_prints_speed(tmp_path, monkeypatch, capsys):
    import json

    import app.engine.keypoints as ek
    import app.vision as V
    from app.cli import main

    monkeypatch.setattr(ek, "load_keypoint_model", lambda key, device="cpu": StandInPredictor(input_size=64))
    monkeypatch.setattr(V, "FaceDetector", StandInDetector)
    video = face_video(tmp_path / "in.mp4", n_face=12, n_empty=3)
    out = tmp_path / "annotated.mp4"
    assert main(["keypoints", "video", str(video), "--out", str(out), "--model", "stand-in", "--json",
                 "--redetect-every", "2"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["frames"] == 15 and report["fps"] > 0
    assert set(report["ms_per_stage"]) == {"capture", "detect", "model", "draw"}
    assert 0.75 <= report["faces_per_frame"] < 0.95        # the last empty frames show no face
    assert 7 <= report["detector_runs"] < 15                 # tracking in between
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 15
    ok, first = cap.read()
    cap.release()
    assert ok and first.shape == (240, 320, 3)

    assert main(["keypoints", "video", str(video), "--model", "stand-in", "--no-smooth"]) == 0
    text = capsys.readouterr().out
    assert "frames per second" in text and "model" in text and "detect" in text

    # bad input: one line on stderr, exit 2
    assert main(["keypoints", "video", str(tmp_path / "missing.mp4"), "--model", "stand-in"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_keypoints_video_picks_threads_like_the_live_view_and_says_so(tmp_path, monkeypatch, capsys):
    """Issue 13 item 18: by default the model runs on the live view's thread count (not every core, which
    made it 2-40x slower whenever another process was busy), and the output says how many."""
    import json

    import torch

    import app.engine.keypoints as ek
    import app.vision as V
    from app.cli import main
    from app.vision.pipeline import live_torch_threads

    used = []

    class Counting(StandInPredictor):
        def predict(self, crops):
            used.append(torch.get_num_threads())
            return super().predict(crops)

    monkeypatch.setattr(ek, "load_keypoint_model", lambda key, device="cpu": Counting(input_size=64))
    monkeypatch.setattr(V, "FaceDetector", StandInDetector)
    video = face_video(tmp_path / "in.mp4", n_face=6, n_empty=0)
    torch_default = torch.get_num_threads()
    torch.set_num_threads(4)          # a machine where torch would take 4 cores
    try:
        assert main(["keypoints", "video", str(video), "--model", "stand-in", "--json"]) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert report["threads"] == live_torch_threads() and set(used) == {live_torch_threads()}
        used.clear()
        assert main(["keypoints", "video", str(video), "--model", "stand-in", "--threads", "3"]) == 0
        assert "3 threads" in capsys.readouterr().out and set(used) == {3}
        assert torch.get_num_threads() == 4      # the process setting is left as it was
    finally:
        torch.set_num_threads(torch_default)


def test_video_command_is_part_of_the_keypoints_group():
    import argparse

    import app.cli_vision as cv
    from app.cli import build_parser

    # one 'video' next to train/evaluate
    kp = build_parser()._subparsers._group_actions[0].choices["keypoints"]
    sub = next(a for a in kp._actions if isinstance(a, argparse._SubParsersAction))
    names = list(sub.choices)
    assert names.count("video") == 1 and "train" in names and "evaluate" in names
    args = build_parser().parse_args(["keypoints", "video", "in.mp4", "--no-smooth", "--out", "o.mp4"])
    assert args.func is cv.cmd_keypoints_video and args.no_smooth and args.out == "o.mp4"


def test_live_torch_threads_leave_a_core_free_on_small_machines():
    from app.vision.pipeline import live_torch_threads

    assert [live_torch_threads(n) for n in (1, 2, 4, 16)] == [1, 1, 2, 2]
