"""Live keypoint pipeline benchmark on the face video(s) in ../shared/data/face-video.

The full pipeline as the Keypoints tab runs it, frame by frame, as fast as it goes: decode (OpenCV),
face detection every K frames with tracking in between, the keypoint model (the default shipped model
unless --model), and the overlay drawing. Prints one JSON object:

- ``fps``: end-to-end frames per second (decode + detect/track + model + draw; target >= 30 on 2 cores)
- ``added_latency_ms``: mean detect + model + draw per frame (target <= 25 ms); p50 and p95 too
- ``ms_per_stage``: capture (decode), detect, model (crop + forward), draw
- ``bare_model_ms_median``: the model alone on one ready-made crop tensor (plain PyTorch), next to
  ``model_stage_ms_median`` (the pipeline's model stage: crop + resize + predict), for comparison
- ``smoothing_lag``: how far the smoothed face centre trails the raw one, on the 10 % fastest frames
- ``jitter``: mean frame-to-frame movement of the 68 points after removing the face's own motion
  (per frame, the point set's mean translation and its scale (RMS radius) are taken out), in frame
  pixels and as a percentage of the outer-eye-corner distance (points 36 and 45), with smoothing on
  and off. Talking moves the lips and jaw for real, so even perfect points have some "jitter" here;
  the comparison between the two settings is what matters. ``centre_accel_px`` (the mean second
  difference of the points' centre) shows the shaking of the whole point set that the first measure
  removes.

Unless --no-live-threads, the same passes run again with the torch thread count the Keypoints tab uses
(``live_torch_threads()``: 1 on a 2-core machine) and are reported under ``with_live_view_threads``.

``--loop-overhead N``: the app's live loop (``LiveSession``, which the passes above use) against a
hand-written loop over the same pipeline, interleaved N times on 60 frames (``ratio_median`` ~ 1: the
shared loop costs nothing).

    python bench/webcam_fps.py [--video PATH ...] [--model NAME_OR_CHECKPOINT] [--threads 2] [--passes 3]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.vision.pipeline import STAGES, live_torch_threads  # noqa: E402

SHARED_VIDEOS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "face-video"


def jitter_of(track: list[np.ndarray | None]) -> dict:
    """Mean residual point motion between consecutive frames after removing translation and scale."""
    res_px, res_rel = [], []
    for a, b in zip(track[:-1], track[1:]):
        if a is None or b is None:
            continue
        ca, cb = a.mean(0), b.mean(0)
        ra = np.sqrt(((a - ca) ** 2).sum(1).mean())
        rb = np.sqrt(((b - cb) ** 2).sum(1).mean())
        aligned = (b - cb) * (ra / rb)                  # b with a's scale and centre
        d = np.linalg.norm(aligned - (a - ca), axis=1).mean()
        iod = np.linalg.norm(a[45] - a[36]) if len(a) == 68 else 2 * ra
        res_px.append(d)
        res_rel.append(d / max(iod, 1e-6))
    if not res_px:
        return {"px": None, "percent_iod": None, "pairs": 0}
    # the shaking of the whole point set, which the measure above removes: the centre's mean second
    # difference (a head moves smoothly, so this is mostly noise)
    acc = [np.linalg.norm(c.mean(0) - 2 * b.mean(0) + a.mean(0))
           for a, b, c in zip(track[:-2], track[1:-1], track[2:]) if a is not None and b is not None and c is not None]
    return {"px": round(float(np.mean(res_px)), 3), "percent_iod": round(100 * float(np.mean(res_rel)), 3),
            "pairs": len(res_px), "centre_accel_px": round(float(np.mean(acc)), 3) if acc else None}


def lag_of(smooth: list, raw: list, top: float = 0.1) -> dict:
    """How far the smoothed face centre trails the raw one on the fastest frames (top ``top`` of raw speed)."""
    pairs = [(a.mean(0), b.mean(0)) for a, b in zip(smooth, raw) if a is not None and b is not None]
    if len(pairs) < 10:
        return {"px_fast": None, "px_all": None}
    s = np.array([p[0] for p in pairs])
    r = np.array([p[1] for p in pairs])
    speed = np.r_[0.0, np.linalg.norm(np.diff(r, axis=0), axis=1)]
    gap = np.linalg.norm(s - r, axis=1)
    fast = speed >= np.quantile(speed, 1 - top)
    return {"px_fast": round(float(gap[fast].mean()), 3), "px_all": round(float(gap.mean()), 3),
            "raw_speed_px_per_frame_fast": round(float(speed[fast].mean()), 3)}


def run_pass(path: Path, predictor, smoothing: bool, redetect_every: int, lines: bool, threads: int) -> dict:
    # ``predictor`` is already what should run (PyTorch, or onnxruntime from ``predictor_for``)
    """One pass over the video through the live loop the app uses (``LiveSession``, every frame in order)."""
    from app.vision import FaceDetector, VideoFileSource
    from app.vision.live import LiveSession

    stage = {k: [] for k in STAGES}
    added, track = [], []

    def collect(res, stats) -> None:
        for k in STAGES:
            stage[k].append(res.timings_ms[k])
        added.append(res.added_ms)
        track.append(res.faces[0].copy() if len(res.faces) == 1 else None)

    session = LiveSession(VideoFileSource(path), predictor=predictor, detector=FaceDetector(), smoothing=smoothing,
                          lines=lines, redetect_every=redetect_every, threads=threads, realtime=False,
                          on_result=collect, runtime="as given")
    s = session.run()
    return {"frames": s.frames, "seconds": s.seconds, "fps": s.fps, "stages": s.ms_per_stage,
            "added_mean": float(np.mean(added)), "added_p50": float(np.percentile(added, 50)),
            "added_p95": float(np.percentile(added, 95)), "faces_per_frame": s.faces_per_frame,
            "detector_runs": s.detector_runs, "track": track, "model_ms": stage["model"]}


def loop_overhead(path: Path, predictor, threads: int, repeats: int, frames: int) -> dict:
    """The app's live loop (``LiveSession``) against a hand-written loop over the same pipeline (what this
    benchmark did before the loop was shared), interleaved, on the first ``frames`` frames: the loop's own cost."""
    from app.engine.threads import intra_op_threads
    from app.vision import FaceDetector, KeypointPipeline, VideoFileSource
    from app.vision.live import LiveSession

    def hand() -> float:
        pipe = KeypointPipeline(predictor, FaceDetector())
        src = VideoFileSource(path)
        n, t0 = 0, time.perf_counter()
        with intra_op_threads(threads):
            for f in src.frames():
                pipe.process(f.image, f.capture_ms, f.index / src.fps, f.new_scene, f.index)
                n += 1
                if n >= frames:
                    break
        src.close()
        return n / (time.perf_counter() - t0)

    def session() -> float:
        s = LiveSession(VideoFileSource(path), predictor=predictor, detector=FaceDetector(), threads=threads,
                        realtime=False, max_frames=frames, on_result=lambda res, stats: None,
                        runtime="as given").run()
        return s.fps

    hand_fps, live_fps = [], []
    for _ in range(max(1, repeats)):
        hand_fps.append(hand())
        live_fps.append(session())
    ratios = [a / b for a, b in zip(live_fps, hand_fps)]
    return {"frames": frames, "repeats": len(ratios), "hand_loop_fps_median": round(statistics.median(hand_fps), 2),
            "live_session_fps_median": round(statistics.median(live_fps), 2),
            "ratio_median": round(statistics.median(ratios), 3),
            "ratio_spread": [round(min(ratios), 3), round(max(ratios), 3)]}


def bare_model_ms(predictor, reps: int = 60) -> float:
    """Median time of the model alone on one ready-made crop tensor (plain PyTorch, no crop, no drawing)."""
    import torch

    s = predictor.input_size
    x = torch.rand(1, 1, s, s)
    model = predictor.model
    times = []
    with torch.inference_mode():
        for _ in range(5):
            model(x)
        for _ in range(reps):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def runtime_comparison(pytorch_predictor, onnx_predictor, threads: int, repeats: int = 7, reps: int = 30) -> dict:
    """The same model on one crop: eager PyTorch (``torch.inference_mode``) against the onnxruntime session
    the live view uses, interleaved ``repeats`` times in this process, with ``threads`` threads each."""
    from app.engine.threads import intra_op_threads

    crops = np.random.default_rng(0).integers(0, 256, (1, onnx_predictor.input_size, onnx_predictor.input_size),
                                              dtype=np.uint8)

    def timed(p) -> float:
        t0 = time.perf_counter()
        for _ in range(reps):
            p.predict(crops)
        return (time.perf_counter() - t0) / reps * 1000

    eager, onnx = [], []
    with intra_op_threads(threads):
        for p in (pytorch_predictor, onnx_predictor):
            timed(p)                                    # warm up
        for _ in range(repeats):
            eager.append(timed(pytorch_predictor))
            onnx.append(timed(onnx_predictor))
    ratios = [a / b for a, b in zip(eager, onnx)]
    return {"threads": threads, "repeats": repeats, "calls_per_repeat": reps,
            "pytorch_ms_median": round(statistics.median(eager), 2), "onnxruntime_ms_median": round(statistics.median(onnx), 2),
            "speedup_median": round(statistics.median(ratios), 2),
            "speedup_spread": [round(min(ratios), 2), round(max(ratios), 2)]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", nargs="*", help="video files (default: ../shared/data/face-video/*.mp4)")
    ap.add_argument("--model", default="default", help="shipped weights name or checkpoint (default: the best shipped)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--cv-threads", type=int, default=-1, help="OpenCV threads (default: OpenCV's choice)")
    ap.add_argument("--redetect-every", type=int, default=10)
    ap.add_argument("--passes", type=int, default=3, help="timed passes per setting; the median pass is reported")
    ap.add_argument("--no-lines", action="store_true", help="draw points only")
    ap.add_argument("--loop-overhead", type=int, default=0, metavar="REPEATS",
                    help="also time LiveSession against a hand-written loop, interleaved REPEATS times")
    ap.add_argument("--runtime", choices=["auto", "pytorch"], default="auto",
                    help="auto: as the app (onnxruntime on the CPU when it gives the same points); pytorch: eager only")
    ap.add_argument("--no-live-threads", action="store_true",
                    help="skip the extra passes with the live view's torch thread count")
    args = ap.parse_args(argv)

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    if args.cv_threads >= 0:
        cv2.setNumThreads(args.cv_threads)
    from app.engine.keypoints import load_keypoint_model
    from app.vision import resolve_model

    videos = [Path(v) for v in args.video] if args.video else sorted(SHARED_VIDEOS.glob("*.mp4"))
    if not videos:
        print(json.dumps({"error": f"no video: pass --video or put .mp4 files in {SHARED_VIDEOS}"}))
        return 2
    model = resolve_model(args.model)
    pytorch_predictor = load_keypoint_model(model, device="cpu")

    def predictor_for(threads: int):
        if args.runtime == "pytorch":
            return pytorch_predictor
        from app.engine.fast_inference import onnx_predictor

        fast, note = onnx_predictor(pytorch_predictor, threads)
        if note:
            print(note, file=sys.stderr)
        return fast

    predictor = predictor_for(args.threads)
    crops = np.zeros((1, predictor.input_size, predictor.input_size), np.uint8)
    for _ in range(5):                                   # warm up (first calls allocate)
        predictor.predict(crops)

    out = {"bench": "webcam_fps", "model": model, "model_arch": predictor.meta.get("model"),
           "runtime": predictor.runtime,
           "input_size": predictor.input_size, "device": "cpu", "torch_threads": torch.get_num_threads(),
           "opencv_threads": cv2.getNumThreads(), "cpu_count": os.cpu_count(),
           "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
           "machine": platform.processor() or platform.machine(), "redetect_every": args.redetect_every,
           "videos": [], "targets": {"fps": ">= 30", "added_latency_ms": "<= 25",
                                     "with_live_view_threads": {"fps": ">= 60", "added_latency_ms": "<= 20"}}}
    all_fps, all_added, model_ms = [], [], []
    for path in videos:
        entry = {"video": path.name}
        tracks = {}
        for smoothing in (True, False):
            passes = [run_pass(path, predictor, smoothing, args.redetect_every, not args.no_lines, args.threads)
                      for _ in range(max(1, args.passes))]
            passes.sort(key=lambda p: p["fps"])
            p = passes[len(passes) // 2]
            key = "smoothing_on" if smoothing else "smoothing_off"
            entry[key] = {
                "frames": p["frames"], "fps": round(p["fps"], 1),
                "fps_all_passes": [round(q["fps"], 1) for q in passes],
                "added_latency_ms": round(p["added_mean"], 2), "added_latency_p50_ms": round(p["added_p50"], 2),
                "added_latency_p95_ms": round(p["added_p95"], 2),
                "ms_per_stage": {k: round(v, 2) for k, v in p["stages"].items()},
                "faces_per_frame": round(p["faces_per_frame"], 3), "detector_runs": p["detector_runs"],
                "jitter": jitter_of(p["track"]),
            }
            tracks[smoothing] = p["track"]
            model_ms.extend(p["model_ms"])
            all_fps.append(p["fps"])
            all_added.append(p["added_mean"])
        on, off = entry["smoothing_on"]["jitter"], entry["smoothing_off"]["jitter"]
        if on["px"] and off["px"]:
            entry["jitter_ratio_on_off"] = round(on["px"] / off["px"], 3)
        entry["smoothing_lag"] = lag_of(tracks[True], tracks[False])
        out["videos"].append(entry)
    out["bare_model_ms_median"] = round(bare_model_ms(pytorch_predictor), 2)
    live = live_torch_threads()
    if not args.no_live_threads and live != torch.get_num_threads():
        # the Keypoints tab runs the model with live_torch_threads(): the same passes with that setting
        live_predictor = predictor_for(live)
        runs = [run_pass(path, live_predictor, s, args.redetect_every, not args.no_lines, live)
                for path in videos for s in (True, False) for _ in range(max(1, args.passes))]
        out["with_live_view_threads"] = {
            "torch_threads": live, "fps": round(float(np.median([r["fps"] for r in runs])), 1),
            "fps_all_passes": sorted(round(r["fps"], 1) for r in runs),
            "added_latency_ms": round(float(np.median([r["added_mean"] for r in runs])), 2),
            "added_latency_p95_ms": round(float(np.median([r["added_p95"] for r in runs])), 2),
            "ms_per_stage": {k: round(float(np.median([r["stages"][k] for r in runs])), 2) for k in STAGES},
            "meets_targets": None}
        w = out["with_live_view_threads"]
        w["meets_targets"] = bool(w["fps"] >= 60 and w["added_latency_ms"] <= 20)
    if predictor.runtime != "pytorch":
        out["runtime_comparison"] = runtime_comparison(pytorch_predictor, predictor_for(live), live)
    if args.loop_overhead:
        out["loop_overhead"] = loop_overhead(videos[0], predictor, live, args.loop_overhead, 60)
    out["model_stage_ms_median"] = round(float(np.median(model_ms)), 2)
    out["fps"] = round(statistics.mean(all_fps), 1)
    out["added_latency_ms"] = round(statistics.mean(all_added), 2)
    out["meets_targets"] = bool(out["fps"] >= 30 and out["added_latency_ms"] <= 25)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
