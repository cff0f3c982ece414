"""Issue 18, the live loop below the window (no Qt): a video file standing in for the camera, classified frame by
frame, captured at a rate, a failing sink stopping only the capture, Stop releasing the file."""
import threading

import numpy as np
import torch

from app.core.errors import DataError
from app.engine.predict import Classifier
from app.models import build_model
from app.vision.classify import ClassifyLive
from app.vision.sources import VideoFileSource

from teach_helpers import write_colour_video


def _classifier():
    model = build_model("softmax", 3, (16, 16), 3).eval()
    meta = {"model": "softmax", "input_shape": [3, 16, 16], "classes": ["a", "b", "c"], "mean": [0.5] * 3,
            "std": [0.25] * 3}
    return Classifier(model, meta, torch.device("cpu"))


def test_live_loop_classifies_captures_and_releases(tmp_path):
    video = write_colour_video(tmp_path / "v.avi", frames=30, fps=50)
    results, statuses, saved, shots = [], [], [], []
    live = ClassifyLive(VideoFileSource(video, loop=True), load_classifier=_classifier, threads=1,
                        on_result=results.append, on_status=lambda s, t: statuses.append((s, t)))

    def sink(rgb):
        saved.append(rgb.copy())
        if len(saved) == 3:
            raise DataError("The disk is full.")

    live.capture(sink, rate=50)
    live.snap(shots.append)
    timer = threading.Timer(1.5, live.stop)
    timer.start()
    summary = live.run()
    timer.cancel()
    assert summary.frames >= 10 and len(results) == summary.frames
    r = results[-1]
    assert r.probabilities.shape == (3,) and abs(r.probabilities.sum() - 1) < 1e-6 and len(r.top(5)) == 3
    assert r.frame.shape == (64, 64, 3) and r.frame.dtype == np.uint8 and r.fps > 0
    # the sink failed on its third picture: the capture stopped with a warning, the loop went on
    assert ("warning", "The disk is full.") in statuses and not live.capturing
    assert len(saved) == 3 and len(shots) == 1 and summary.captured == 3   # 2 by the sink before it failed, 1 shot
    assert not live.reader.is_alive() and live.source._cap is None
