"""``visiondesk keypoints ...``: train and evaluate facial keypoint models from the command line.

    visiondesk keypoints train --data PATH --model kp-resnet18 --epochs N --out RUN_DIR
                               [--batch-size --lr --size --device --seed ...]
    visiondesk keypoints evaluate CHECKPOINT --data PATH      (prints RMSE px and NME % and how many faces;
                                                              one file is scored whole)

The same group holds ``video`` (the live pipeline on a video file), defined in ``app.cli_vision``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli import _option, add_overwrite_arg

DEFAULT_LOSS = "smoothl1"
DEFAULT_BETA = 0.02


def _keypoint_config(args: argparse.Namespace):
    from app.engine.config import TrainConfig
    from app.core.errors import UserError
    from app.models import get_model_info

    info = get_model_info(args.model)
    if info.task != "keypoints":
        raise UserError(f"{args.model} is not a keypoint model; choose kp-cnn4 or kp-resnet18.")
    base = TrainConfig(task="keypoints", model=args.model).to_dict()
    base.update({k: v for k, v in (info.defaults or {}).items() if k in base})
    data = Path(args.data).expanduser()
    base.update(data=data.name, data_root=str(data.resolve()), image_size=args.size,
                model_options=dict(args.option), augment=True if args.augment is None else args.augment,
                extra={"loss": args.loss or DEFAULT_LOSS, "beta": DEFAULT_BETA if args.beta is None else args.beta})
    for key in ("epochs", "batch_size", "lr", "optimizer", "weight_decay", "schedule", "seed", "device", "amp"):
        v = getattr(args, key, None)
        if v is not None:
            base[key] = v
    return TrainConfig.from_dict(base, source="the options")


def cmd_train(args: argparse.Namespace) -> int:
    from app.cli import resume_from_args, run_training

    resume = None
    if args.resume:
        cfg, resume = resume_from_args(args, [
            ("data", "--data"), ("model", "--model"), ("optimizer", "--optimizer"), ("weight_decay", "--weight-decay"),
            ("schedule", "--schedule"), ("size", "--size"), ("loss", "--loss"), ("beta", "--beta"),
            ("augment", "--augment"), ("option", "--option"), ("seed", "--seed")])
        if cfg.task != "keypoints":
            from app.core.errors import UserError
            raise UserError(f"{args.resume} is not a keypoint run (it is a '{cfg.task}' run).")
        out = args.resume
    else:
        if not args.data or not args.model:
            from app.core.errors import UserError
            raise UserError("Say which data and model to train: --data PATH --model kp-resnet18 (or kp-cnn4).")
        cfg = _keypoint_config(args)
        out = args.out
    fin, rc = run_training(cfg, out=out, resume_from=resume, quiet=args.quiet, overwrite=args.overwrite)
    if fin.best and rc == 0:
        print(f"best epoch {fin.best.get('epoch')}: RMSE {fin.best.get('test_rmse', float('nan')):.3f} px, "
              f"NME {100 * fin.best.get('test_nme', float('nan')):.2f}%")
    return rc


def cmd_evaluate(args: argparse.Namespace) -> int:
    from app.data.keypoints import load_keypoints
    from app.engine.keypoints import evaluate_keypoint_model, load_keypoint_model
    from app.core.errors import UserError

    kp = load_keypoint_model(args.checkpoint, device=args.device or "cpu")
    ds = load_keypoints(args.data, size=kp.input_size, seed=args.seed)
    if ds.num_points != kp.num_points:
        raise UserError(f"The model predicts {kp.num_points} points but {Path(args.data).name} has "
                        f"{ds.num_points} points per face.")
    which = args.split or ("test" if _has_own_test_split(Path(args.data).expanduser()) else "all")
    if which == "all":
        split = _whole(ds)
    else:
        split = ds.train if which == "train" else ds.test
    res = evaluate_keypoint_model(kp, split, ds.eye_corners)
    res.update(model=kp.meta.get("model"), input_size=kp.input_size, split=which, data=str(args.data))
    if args.json:
        print(json.dumps(res))
        return 0
    what = "faces (the whole file)" if which == "all" else f"{which} faces"
    print(f"{args.checkpoint}: {res['n']} {what} of {Path(args.data).name}, "
          f"{kp.input_size}x{kp.input_size} crops")
    print(f"RMSE {res['rmse']:.3f} px (of the {kp.input_size}-pixel crop)")
    print(f"NME  {100 * res['nme']:.2f}% (mean error / {res['nme_norm']} distance, {res['faces']} faces)")
    return 0


def _has_own_test_split(path: Path) -> bool:
    """A folder with train.npz and test.npz brings its own test part; any other data given to evaluate
    (one .npz, a CSV with its images, the Kaggle CSV) is scored whole unless --split says otherwise."""
    return path.is_dir() and (path / "train.npz").is_file() and (path / "test.npz").is_file()


def _whole(ds):
    """Every face of a loaded keypoint data set, its training and test parts together."""
    import torch

    from app.data.keypoints import KeypointSplit

    tr, te = ds.train, ds.test
    names = list(tr.names) + list(te.names) if (tr.names and te.names) else []
    return KeypointSplit(torch.cat([tr.images, te.images]), torch.cat([tr.points, te.points]), names)


def add(subparsers: argparse._SubParsersAction) -> None:
    kp = subparsers.add_parser("keypoints", help="facial keypoints: train, evaluate (and the video pipeline)")
    sub = kp.add_subparsers(dest="keypoints_command", parser_class=type(kp))
    kp.set_defaults(func=lambda a: (kp.print_help(), 2)[1])

    t = sub.add_parser("train", help="train a keypoint model and write a run folder")
    t.add_argument("--data", help="train.npz/test.npz folder, a .npz, a CSV + images, or the Kaggle CSV")
    t.add_argument("--model", help="kp-cnn4 or kp-resnet18")
    t.add_argument("--epochs", type=int)
    t.add_argument("--out", help="run folder to write (default: a new folder under the runs folder)")
    add_overwrite_arg(t)
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last.pt")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--optimizer", choices=["sgd", "adam", "adamw"])
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--schedule", choices=["none", "step", "cosine", "onecycle"])
    t.add_argument("--size", type=int, help="crop side in pixels (default: the data's own; 128 for CSV + images)")
    t.add_argument("--loss", choices=["smoothl1", "mse", "l1"], help=f"default {DEFAULT_LOSS}")
    t.add_argument("--beta", type=float, help=f"SmoothL1 beta in normalised units (default {DEFAULT_BETA})")
    t.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None, help="default: on")
    t.add_argument("--option", type=_option, action="append", default=[], metavar="NAME=VALUE",
                   help="model option, e.g. pretrained=false")
    t.add_argument("--device", help="auto, cpu or cuda")
    t.add_argument("--amp", nargs="?", const="auto", choices=["off", "auto", "bf16", "fp16"])
    t.add_argument("--seed", type=int)
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="RMSE (pixels) and NME (%%) of a keypoint model on a data set")
    e.add_argument("checkpoint", metavar="CHECKPOINT", help="run folder, best.pt/last.pt, or shipped weights name")
    e.add_argument("--data", required=True)
    e.add_argument("--split", choices=["test", "train", "all"],
                   help="which faces to score: a folder with train.npz + test.npz scores its test.npz, any other "
                        "data (one .npz or CSV) every face, unless this says otherwise")
    e.add_argument("--seed", type=int, default=0, help="the train/test split seed for --split test|train of one file")
    e.add_argument("--device")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    from app.cli_vision import add_video_command

    add_video_command(sub)


def main(argv: list[str] | None = None) -> int:
    from app.cli import main as cli_main

    return cli_main(["keypoints", *(sys.argv[1:] if argv is None else argv)])
