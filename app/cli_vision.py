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




def cmd_keypoints_video(args: argparse.Namespace) -> int:
    from app.core.errors import UserError
    from app.vision import open_source, resolve_model
    from app.vision.live import LiveSession
    from app.vision.pipeline import STAGES
    from app.vision.overlay import draw_text_lines

    src_path = Path(args.input).expanduser()
    if not src_path.exists():
        raise UserError(f"{args.input} does not exist (give a video file or a folder of images).")
    source = open_source(src_path)
    model = resolve_model(args.model)
    out = Path(args.out).expanduser() if args.out else None
    if out is not None and out.suffix.lower() not in (".mp4", ".m4v", ".mov", ".avi"):
        raise UserError(f"--out {out.name}: write an .mp4 (or .avi/.mov) file.")
    if out is not None:
        from app.core.files import output_path

        inputs = [src_path, *(p for p in src_path.iterdir() if p.is_file())] if src_path.is_dir() else [src_path]
        output_path(out, inputs=inputs, what="the annotated video")
    tty = sys.stderr.isatty() and not args.quiet and not args.json
    warnings: list[str] = []
    t0 = time.perf_counter()
    last_print = [t0]

    def progress(res, stats) -> None:
        now = time.perf_counter()
        if now - last_print[0] > 0.25:
            last_print[0] = now
            total = f"/{source.frame_count}" if source.frame_count else ""
            sys.stderr.write(f"\rframe {stats.frames}{total}  {stats.frames / (now - t0):.1f} fps   ")
            sys.stderr.flush()

    def stats_text(img, res) -> None:
        draw_text_lines(img, [f"frame {res.index}", "ms " + " ".join(f"{k} {res.timings_ms[k]:.1f}" for k in STAGES)])

    session = LiveSession(source, model, device=args.device, smoothing=not args.no_smooth, mirror=args.mirror,
                          lines=not args.no_lines, redetect_every=args.redetect_every, threads=args.threads or None,
                          realtime=False, max_frames=args.max_frames, on_result=progress if tty else None,
                          on_status=lambda state, text: warnings.append(text) if state == "warning" else None,
                          before_write=stats_text if args.stats_overlay else None)
    if out is not None:
        session.start_recording(out)
    summary = session.run()
    if tty:
        sys.stderr.write("\r" + " " * 40 + "\r")
    n = summary.frames
    if n == 0:
        raise UserError(f"No frame could be read from {args.input}.")
    if warnings:
        raise UserError(warnings[0])
    mean = summary.ms_per_stage
    threads_text = f"{summary.threads} thread{'s' if summary.threads > 1 else ''}" + \
        ("" if args.threads else " (as the live view; --threads N to change)")
    report = {"input": str(src_path), "model": model, "device": summary.device, "threads": summary.threads,
              "frames": n, "seconds": round(summary.seconds, 3), "fps": round(summary.fps, 2),
              "ms_per_stage": {k: round(v, 2) for k, v in mean.items()},
              "added_latency_ms": round(summary.added_latency_ms, 2),
              "faces_per_frame": round(summary.faces_per_frame, 3), "detector_runs": int(summary.detector_runs),
              "smoothing": not args.no_smooth, "runtime": summary.runtime, "out": str(out) if out else None}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{n} frames in {summary.seconds:.2f} s: {summary.fps:.1f} frames per second (model {model}, "
          f"{summary.device}, {threads_text}, run by {summary.runtime})")
    print("ms per frame: " + ", ".join(f"{k} {mean[k]:.2f}" for k in STAGES) +
          f"  (added latency detect+model+draw {report['added_latency_ms']:.2f} ms)")
    print(f"faces per frame {summary.faces_per_frame:.2f}; the face detector ran on {summary.detector_runs} "
          f"of {n} frames")
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
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads for the model (default: as the live view, 1 or 2; printed)")
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
