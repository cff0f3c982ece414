"""``visiondesk keypoints video INPUT [--out annotated.mp4] [--model NAME_OR_CHECKPOINT] [--no-smooth]``.

Runs the live pipeline (detect / track, keypoint model, overlay) on every frame of a video file (or the
images of a folder) as fast as it goes, prints the frames per second and the milliseconds per stage,
and writes the annotated video (mp4v) when ``--out`` is given.

The ``video`` command is part of the ``keypoints`` command group (``app.cli_keypoints`` adds it).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


STAGES = ("capture", "detect", "model", "draw")


def cmd_keypoints_video(args: argparse.Namespace) -> int:
    import cv2
    import torch

    from app.core.errors import UserError
    from app.vision import FaceDetector, KeypointPipeline, open_source, resolve_model
    from app.vision.overlay import draw_text_lines

    if args.threads:
        torch.set_num_threads(args.threads)
    src_path = Path(args.input).expanduser()
    if not src_path.exists():
        raise UserError(f"{args.input} does not exist (give a video file or a folder of images).")
    source = open_source(src_path)
    from app.engine.keypoints import load_keypoint_model

    model = resolve_model(args.model)
    predictor = load_keypoint_model(model, device=args.device)
    pipe = KeypointPipeline(predictor, FaceDetector(), redetect_every=args.redetect_every,
                            smoothing=not args.no_smooth, mirror=args.mirror, draw_lines=not args.no_lines)
    writer = None
    out = Path(args.out).expanduser() if args.out else None
    if out is not None and out.suffix.lower() not in (".mp4", ".m4v", ".mov", ".avi"):
        raise UserError(f"--out {out.name}: write an .mp4 (or .avi/.mov) file.")
    sums = {k: 0.0 for k in STAGES}
    n = faces = detections = 0
    size = None
    t0 = time.perf_counter()
    last_print = t0
    tty = sys.stderr.isatty() and not args.quiet and not args.json
    try:
        for frame in source.frames():
            # video time, not wall time: the smoothing then behaves as it would at the video's own speed
            ts = frame.index / source.fps
            res = pipe.process(frame.image, frame.capture_ms, ts, frame.new_scene, frame.index)
            for k in STAGES:
                sums[k] += res.timings_ms[k]
            n += 1
            faces += len(res.faces)
            detections += res.detected
            if out is not None:
                img = res.frame_annotated
                if writer is None:
                    size = (img.shape[1], img.shape[0])
                    out.parent.mkdir(parents=True, exist_ok=True)
                    fps_out = source.fps if source.kind == "video" else 5.0
                    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps_out, size)
                    if not writer.isOpened():
                        raise UserError(f"Could not write the video {out}.")
                if (img.shape[1], img.shape[0]) != size:
                    img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
                if args.stats_overlay:
                    draw_text_lines(img, [f"frame {frame.index}", "ms " + " ".join(
                        f"{k} {res.timings_ms[k]:.1f}" for k in STAGES)])
                writer.write(img)
            now = time.perf_counter()
            if tty and now - last_print > 0.25:
                last_print = now
                total = f"/{source.frame_count}" if source.frame_count else ""
                sys.stderr.write(f"\rframe {n}{total}  {n / (now - t0):.1f} fps   ")
                sys.stderr.flush()
            if args.max_frames and n >= args.max_frames:
                break
    finally:
        if writer is not None:
            writer.release()
        source.close()
    elapsed = time.perf_counter() - t0
    if tty:
        sys.stderr.write("\r" + " " * 40 + "\r")
    if n == 0:
        raise UserError(f"No frame could be read from {args.input}.")
    mean = {k: sums[k] / n for k in STAGES}
    report = {"input": str(src_path), "model": model, "device": str(predictor.device) if hasattr(predictor, "device")
              else args.device, "frames": n, "seconds": round(elapsed, 3), "fps": round(n / elapsed, 2),
              "ms_per_stage": {k: round(v, 2) for k, v in mean.items()},
              "added_latency_ms": round(mean["detect"] + mean["model"] + mean["draw"], 2),
              "faces_per_frame": round(faces / n, 3), "detector_runs": int(detections),
              "smoothing": not args.no_smooth, "out": str(out) if out else None}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{n} frames in {elapsed:.2f} s: {n / elapsed:.1f} frames per second (model {model}, "
          f"{report['device']})")
    print("ms per frame: " + ", ".join(f"{k} {mean[k]:.2f}" for k in STAGES) +
          f"  (added latency detect+model+draw {report['added_latency_ms']:.2f} ms)")
    print(f"faces per frame {faces / n:.2f}; the face detector ran on {detections} of {n} frames")
    if out is not None:
        print(f"wrote {out}")
    return 0


def add_video_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="INPUT", help="a video file (or a folder of images)")
    p.add_argument("--out", metavar="ANNOTATED.mp4", help="write the video with the points drawn on it")
    p.add_argument("--model", default="default", metavar="NAME_OR_CHECKPOINT",
                   help="shipped weights name (kp-resnet18, kp-cnn4), a run folder or a .pt file "
                        "(default: the best shipped model)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--no-smooth", action="store_true", help="do not smooth the points over time")
    p.add_argument("--no-lines", action="store_true", help="draw the points only, no contour lines")
    p.add_argument("--mirror", action="store_true", help="flip the frames left-right first")
    p.add_argument("--redetect-every", type=int, default=10, metavar="K",
                   help="run the face detector at least every K frames (tracking in between; default 10)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames")
    p.add_argument("--stats-overlay", action="store_true", help="write the frame number and timings on the video")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_keypoints_video)


def add_video_command(kp_sub: argparse._SubParsersAction) -> None:
    """Add ``video`` to the ``keypoints`` group's subcommands (once)."""
    if "video" in kp_sub.choices:
        return
    v = kp_sub.add_parser("video", help="run the live keypoint pipeline on a video file; print FPS and ms per stage",
                          description=__doc__.split("\n\n")[1].replace("\n", " "))
    add_video_arguments(v)
