"""The headless command line: ``visiondesk train | evaluate | summary | export | ...``.

With no arguments ``visiondesk`` opens the GUI. Bad arguments or data print one clear line on
stderr and exit with status 2; no tracebacks for a person's mistakes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

EXIT_USER = 2
EXIT_BUG = 1

class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        sys.stderr.write(f"visiondesk: error: {message} (see --help)\n")
        raise SystemExit(EXIT_USER)


def _size(text: str) -> tuple[int, int, int]:
    try:
        c, h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not CxHxW, e.g. 1x28x28") from None
    if not (1 <= c <= 64 and 1 <= h <= 4096 and 1 <= w <= 4096):
        raise argparse.ArgumentTypeError("--input must be CxHxW with 1 to 64 channels and 1 to 4096 pixels a side")
    return c, h, w


def _option(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=VALUE")
    k, v = text.split("=", 1)
    try:
        return k, json.loads(v)
    except json.JSONDecodeError:
        return k, v


# ---------------------------------------------------------------------------------------------- progress
class ProgressPrinter:
    """A progress bar per epoch (on a terminal) and one summary line per epoch."""

    def __init__(self, stream=None, quiet: bool = False, min_interval: float = 0.1, out=None):
        self.stream = stream or sys.stderr
        self.out = out or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.quiet = quiet
        self.min_interval = min_interval
        self._last = 0.0

    def __call__(self, ev) -> None:
        from app.engine import events as E

        if isinstance(ev, E.RunStarted):
            if not self.quiet:
                where = f" -> {ev.run_dir}" if ev.run_dir else ""
                self._line(f"Training on {ev.device}{where}" + (f" (resuming after epoch {ev.start_epoch})" if ev.start_epoch else ""))
        elif isinstance(ev, E.BatchEnd) and self.tty and not self.quiet:
            now = time.perf_counter()
            if now - self._last >= self.min_interval or ev.batch == ev.batches:
                self._last = now
                frac = ev.batch / max(ev.batches, 1)
                bar = "#" * int(frac * 30)
                vals = " ".join(f"{k}={v:.4f}" for k, v in ev.metrics.items())
                self.stream.write(f"\repoch {ev.epoch} [{bar:<30}] {ev.batch}/{ev.batches} {vals} "
                                  f"{ev.images_per_sec:,.0f} img/s ETA {_hms(ev.eta_seconds)}   ")
                self.stream.flush()
        elif isinstance(ev, E.EpochEnd):
            if self.tty and not self.quiet:
                self.stream.write("\r" + " " * 110 + "\r")
            parts = [f"epoch {ev.epoch}/{ev.epochs}"]
            for k, v in ev.metrics.items():
                if k == "epoch":
                    continue
                if k.endswith("acc") or k.endswith("nme"):
                    parts.append(f"{k}={100 * v:.2f}%" if k.endswith("acc") else f"{k}={v:.4g}")
                elif isinstance(v, float):
                    parts.append(f"{k}={v:.4g}")
            self._line("  ".join(parts) + ("  *best*" if ev.is_best else ""), stream=self.out)
        elif isinstance(ev, E.Preparing) and not self.quiet:
            if ev.done == 0 or not self.tty:
                if ev.done == 0:
                    self._line(f"{ev.what}: {ev.total:,} pictures")
            else:
                self.stream.write(f"\r{ev.what}: {ev.done:,} of {ev.total:,} pictures   ")
                if ev.done >= ev.total:
                    self.stream.write("\n")
                self.stream.flush()
        elif isinstance(ev, E.Notice):
            self._line(f"visiondesk: {ev.message}")
        elif isinstance(ev, E.Finished) and not self.quiet:
            self._line(f"Finished ({ev.reason}) after epoch {ev.epoch} in {_hms(ev.seconds)}" +
                       (f"; run folder: {ev.run_dir}" if ev.run_dir else ""))

    def _line(self, text: str, stream=None) -> None:
        s = stream or self.stream
        s.write(text + "\n")
        s.flush()


def _hms(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# ---------------------------------------------------------------------------------------------- train
def _add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="re-run from a run's config.json (other options override it)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last.pt")
    p.add_argument("--data", help="mnist, fashion-mnist, cifar10, fashion-mnist-sample, folder or csv")
    p.add_argument("--data-root", help="folder holding the data set (for 'folder': the image folder; "
                   "for 'csv': the CSV file)")
    p.add_argument("--target", help="csv: the column to predict (default: the suggested one)")
    p.add_argument("--image-size", type=int, help="resize folder images to this square size")
    p.add_argument("--model", help="model name (see 'visiondesk models')")
    p.add_argument("--option", type=_option, action="append", default=[], metavar="NAME=VALUE",
                   help="model option, e.g. batch_norm=false, pretrained=true")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"])
    p.add_argument("--momentum", type=float)
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--schedule", choices=["none", "step", "cosine", "onecycle"])
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--amp", nargs="?", const="auto", choices=["off", "auto", "bf16", "fp16"],
                   help="mixed precision on CUDA (default off)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="run folder to write (default: a new folder under the runs folder)")
    add_overwrite_arg(p)
    p.add_argument("--quiet", action="store_true")


def add_overwrite_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true",
                   help="let --out replace an earlier run in that folder (its checkpoints and metrics)")


def config_from_args(args: argparse.Namespace, task: str = "classify"):
    from app.engine.config import TrainConfig
    from app.models import default_classifier, get_model_info

    base: dict = {}
    if getattr(args, "config", None):
        base = TrainConfig.load(args.config).to_dict()
    else:
        base = TrainConfig(task=task).to_dict()
        base["task"] = task
    model = args.model or base.get("model")
    if not args.model and not getattr(args, "config", None) and task == "classify" \
            and getattr(args, "data", None):
        model = default_classifier(args.data)    # an image folder: the shipped pretrained model
    if (args.model or model != base.get("model")) and not getattr(args, "config", None):
        info = get_model_info(model)
        base.update({k: v for k, v in (info.defaults or {}).items() if k in base})
    base["model"] = model
    mapping = {"data": "data", "data_root": "data_root", "image_size": "image_size", "epochs": "epochs",
               "batch_size": "batch_size", "lr": "lr", "optimizer": "optimizer", "momentum": "momentum",
               "nesterov": "nesterov", "weight_decay": "weight_decay", "schedule": "schedule",
               "label_smoothing": "label_smoothing", "augment": "augment", "device": "device", "amp": "amp",
               "seed": "seed"}
    for attr, key in mapping.items():
        v = getattr(args, attr, None)
        if v is not None:
            base[key] = v
    if getattr(args, "target", None):
        base["extra"] = {**base.get("extra", {}), "target": args.target}
    if getattr(args, "option", None):
        base["model_options"] = {**base.get("model_options", {}), **dict(args.option)}
    if base.get("data_root"):
        base["data_root"] = str(Path(base["data_root"]).expanduser().resolve())
    return TrainConfig.from_dict(base, source="the options")


def cmd_train(args: argparse.Namespace) -> int:
    resume_from = None
    if args.resume:
        cfg, resume_from = resume_from_args(args, [
            ("config", "--config"), ("data", "--data"), ("data_root", "--data-root"), ("image_size", "--image-size"),
            ("model", "--model"), ("option", "--option"), ("optimizer", "--optimizer"), ("momentum", "--momentum"),
            ("nesterov", "--nesterov"), ("weight_decay", "--weight-decay"), ("schedule", "--schedule"),
            ("label_smoothing", "--label-smoothing"), ("augment", "--augment"), ("seed", "--seed")])
        out = args.resume
    else:
        cfg = config_from_args(args)
        out = args.out
    _, rc = run_training(cfg, out=out, resume_from=resume_from, quiet=args.quiet, overwrite=args.overwrite)
    return rc


def resume_from_args(args: argparse.Namespace, fixed: list[tuple[str, str]]):
    """``--resume RUN``: the run's config with what may change applied (``--epochs`` as the run's total,
    ``--batch-size``, ``--lr``, ``--device``, ``--amp``), and its last.pt. Options naming what a run is
    (``fixed``: (attribute, flag) pairs), an ``--out`` elsewhere and fewer epochs than done are refused
    in one line."""
    from app.core.errors import UserError
    from app.engine.build import continue_config

    run = Path(args.resume).expanduser()
    given = [flag for attr, flag in [*fixed, ("overwrite", "--overwrite")]
             if getattr(args, attr, None) not in (None, [], False)]
    if getattr(args, "out", None) and Path(args.out).expanduser().resolve() != run.resolve():
        given.append("--out")
    if given:
        raise UserError(f"--resume continues {run.name} in its own folder with its own settings, so "
                        f"{', '.join(given)} cannot be used with it (only --epochs, --batch-size, --lr, --device "
                        f"and --amp); to change the others, start a new run with --config {run / 'config.json'}.")
    if args.epochs is not None and args.epochs < 1:
        raise UserError(f"--epochs must be at least 1 (got {args.epochs}): it is the run's total number of epochs.")
    changes = {k: getattr(args, k, None) for k in ("batch_size", "lr", "device", "amp")}
    return continue_config(run, total_epochs=args.epochs, **changes)


def run_training(cfg, *, out=None, resume_from=None, quiet: bool = False, overwrite: bool = False):
    """Build the trainer and run it, the command-line way: a progress printer, and Ctrl-C (SIGINT) or
    SIGTERM stop the run at the next batch with a resumable last.pt, saying so on stderr and in run.log
    (a second signal stops at once). Returns (Finished event, exit status: 0, or 128 + the signal)."""
    import signal
    import threading

    from app.engine.build import make_trainer
    from app.engine.trainer import Control

    control = Control()
    caught: list[int] = []
    trainer_ready = False

    def on_signal(signum, frame):
        if caught or not trainer_ready:
            raise KeyboardInterrupt
        caught.append(signum)
        control.stop(f"{signal.Signals(signum).name} received")

    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, on_signal)
    try:
        trainer = make_trainer(cfg, out=out, callbacks=[ProgressPrinter(quiet=quiet)], control=control,
                               progress=_load_progress(quiet), overwrite=overwrite)
        trainer_ready = True
        fin = trainer.fit(resume_from=resume_from)
    finally:
        for sig, old in handlers.items():
            signal.signal(sig, old)
    if not caught:
        return fin, 0
    name = signal.Signals(caught[0]).name
    run = trainer.run_dir
    if fin.reason == "stopped" and run is not None and trainer.started and (Path(run) / "last.pt").is_file():
        sys.stderr.write(f"visiondesk: stopped by {name} after epoch {fin.epoch}; a resumable state is saved in "
                         f"{run} (continue with: visiondesk {_resume_command(cfg)} --resume {run})\n")
    else:
        sys.stderr.write(f"visiondesk: stopped by {name} before the first training step; nothing was saved"
                         + (f" and {run} is as it was" if run is not None and resume_from else "") + "\n")
    return fin, 128 + caught[0]


def _resume_command(cfg) -> str:
    return {"keypoints": "keypoints train", "gan": "gan train"}.get(cfg.task, "train")


def _load_progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None

    def progress(done: int, total: int) -> None:
        sys.stderr.write(f"\rLoading images {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return progress


# ---------------------------------------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    from app.data import load_dataset
    from app.engine.predict import evaluate_classifier, load_classifier, resolve_checkpoint

    ckpt = resolve_checkpoint(args.checkpoint)
    clf = load_classifier(ckpt, device=args.device or "cpu")
    data = args.data or clf.meta.get("data")
    root = args.data_root
    if root is None and Path(args.checkpoint).is_dir() and (Path(args.checkpoint) / "config.json").is_file():
        root = json.loads((Path(args.checkpoint) / "config.json").read_text()).get("data_root")
    if data == "csv":
        from app.engine.tabular import evaluate_table, load_table_model

        table = load_table_model(ckpt)
        ds = load_dataset(data, root or table.meta.get("source"), target=table.encoder.target,
                          seed=int(_run_config(args.checkpoint).get("seed", 0)))
        res = evaluate_table(table, ds)
    else:
        res = None
        ds = load_dataset(data, root, size=clf.input_shape[1] if data == "folder" else None)
    if res is None and ds.input_shape != clf.input_shape:
        from app.core.errors import UserError
        raise UserError(f"The model expects images of shape {'x'.join(map(str, clf.input_shape))} but "
                        f"{data} has {'x'.join(map(str, ds.input_shape))}.")
    if res is None:
        from app.engine.predict import labels_for_model

        labels, note = labels_for_model(clf.classes, ds.classes, ds.test.labels, data_name=str(data))
        for line in ([f"skipped {len(ds.skipped)} file(s) that could not be used: " + "; ".join(ds.skipped[:3])
                      + (f"; and {len(ds.skipped) - 3} more" if len(ds.skipped) > 3 else "")] if ds.skipped else []) \
                + ([note] if note else []):
            sys.stderr.write(f"visiondesk: {line}\n")
        res = evaluate_classifier(clf, ds.test.images, labels)
    if args.json:
        print(json.dumps(res))
        return 0
    what = "rows" if data == "csv" else "images"
    print(f"{ckpt}: accuracy {100 * res['accuracy']:.2f}% on {res['n']} test {what} of {data}")
    width = max(len(c) for c in res["classes"])
    print("per-class accuracy:")
    for c, a in zip(res["classes"], res["per_class_acc"]):
        print(f"  {c:<{width}}  {100 * a:6.2f}%")
    print("confusion matrix (rows: true class, columns: predicted):")
    cw = max(5, max(len(str(v)) for row in res["confusion"] for v in row) + 1)
    print(" " * (width + 2) + "".join(f"{i:>{cw}}" for i in range(len(res["classes"]))))
    for i, (c, row) in enumerate(zip(res["classes"], res["confusion"])):
        print(f"  {c:<{width}}" + "".join(f"{v:>{cw}}" for v in row))
    return 0


def _run_config(path) -> dict:
    """The config.json of a run folder (or of the folder holding a checkpoint); {} when there is none."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------------------------------------- summary/export/models
def cmd_summary(args: argparse.Namespace) -> int:
    from app.models import build_model
    from app.models.summary import summarize

    c, h, w = args.input
    model = build_model(args.model, c, (h, w), args.classes, **dict(args.option))
    s = summarize(model, (c, h, w))
    print(json.dumps(s.to_dict(), indent=2) if args.json else s.format_table())
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from app.models import list_models

    for info in list_models(args.task):
        print(f"{info.name:<14} {info.task:<10} {info.description}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from app.engine.predict import load_classifier, resolve_checkpoint
    from app.core.errors import UserError
    from app.models.export import export_onnx, export_torchscript, model_metadata
    from app.models.layers import output_kind

    if not args.to and not args.onnx and not args.torchscript:
        raise UserError("Say where to write: --to FOLDER (model.onnx with its labels, labels.txt and a README), "
                        "or --onnx FILE and/or --torchscript FILE.")
    from app.core.files import output_path

    ckpt = resolve_checkpoint(args.run)
    for target in (args.onnx, args.torchscript):
        if target:
            output_path(target, inputs=[ckpt, *Path(ckpt).parent.glob("*.pt")], what="the exported model")
    clf = load_classifier(ckpt)
    # -- issue 18: a folder that works elsewhere (model.onnx with labels + preprocessing, labels.txt, README)
    if args.to:
        from app.models.export import export_folder

        done = export_folder(clf.model, clf.meta, args.to, torchscript=args.with_torchscript,
                             source=Path(args.run).name)
        print(f"wrote {done.folder}: " + ", ".join(f.name for f in done.files)
              + f" (ONNX checked with {done.onnx.verified_with}); see its README.md")
    # -- single files (the older flags)
    if args.onnx:
        export_onnx(clf.model, clf.input_shape, args.onnx, metadata=model_metadata(clf.meta, output_kind(clf.model)))
        print(f"wrote {args.onnx} (ONNX, checked against PyTorch)")
    if args.torchscript:
        export_torchscript(clf.model, clf.input_shape, args.torchscript)
        print(f"wrote {args.torchscript} (TorchScript, checked against PyTorch)")
    return 0


# ---------------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    from app import __version__

    p = _Parser(prog="visiondesk", description="VisionDesk: vision deep learning by clicking. "
                "Without a command it opens the window; the commands run headless.")
    p.add_argument("--version", action="version", version=f"VisionDesk {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("train", help="train a classifier and write a run folder")
    _add_train_args(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="accuracy, per-class accuracy and confusion matrix of a checkpoint")
    e.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT")
    e.add_argument("--data")
    e.add_argument("--data-root")
    e.add_argument("--device")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("summary", help="layer table of a model")
    s.add_argument("--model", required=True)
    s.add_argument("--input", type=_size, default=(1, 28, 28), help="CxHxW, default 1x28x28")
    s.add_argument("--classes", type=int, default=10)
    s.add_argument("--option", type=_option, action="append", default=[], metavar="NAME=VALUE")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_summary)

    m = sub.add_parser("models", help="list the model zoo")
    m.add_argument("--task")
    m.set_defaults(func=cmd_models)

    x = sub.add_parser("export", help="export a trained model to a folder (ONNX + labels + README), ONNX or "
                                      "TorchScript")
    x.add_argument("run", metavar="RUN_DIR_OR_CHECKPOINT")
    x.add_argument("--to", metavar="FOLDER", help="write model.onnx (class names and preprocessing in its "
                   "metadata), labels.txt, README.md and predict.py to FOLDER")
    x.add_argument("--with-torchscript", action="store_true", help="with --to: also write model.torchscript.pt")
    x.add_argument("--onnx", metavar="FILE")
    x.add_argument("--torchscript", metavar="FILE")
    x.set_defaults(func=cmd_export)

    from app import cli_gan, cli_keypoints

    cli_keypoints.add(sub)     # keypoints train / evaluate / video
    cli_gan.add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from app.core.errors import UserError

    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:        # the window is opened by app.__main__; the CLI never imports Qt
        parser.print_help()
        return EXIT_USER
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER
    try:
        from app.core.options import check_options

        check_options(args)         # every numeric option and the device, once, with its allowed range
        return int(args.func(args) or 0)
    except UserError as exc:
        if _rank() > 0:  # under torchrun every rank fails alike; rank 0 speaks for all
            return EXIT_USER
        sys.stderr.write(f"visiondesk: {exc}\n")
        return EXIT_USER
    except KeyboardInterrupt:
        sys.stderr.write("visiondesk: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    finally:
        _close_distributed()


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", "0") or 0)


def _close_distributed() -> None:
    import sys as _sys

    dist = _sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
