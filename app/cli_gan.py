"""``visiondesk gan train | generate | score``: GAN training and sampling without a window.

    visiondesk gan train --data fashion-mnist --data-root PATH [--class K] --epochs N --out RUN_DIR
    visiondesk gan generate CHECKPOINT --n 64 --seed S --out grid.png
    visiondesk gan score CHECKPOINT --data NAME --data-root PATH

CHECKPOINT is a GAN run folder, its best.pt / last.pt, a shipped weights file, or the name of shipped
weights (e.g. ``gan-fashion-mnist``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from app import cli


def _checkpoint_path(text: str) -> Path:
    """A file or folder as given, else shipped weights of that name (checksum verified)."""
    p = Path(text).expanduser()
    if p.exists():
        return p
    from app.core.errors import CheckpointError
    from app.core.weights import list_weights, verified_weight_path

    if text in list_weights():
        return verified_weight_path(text)
    raise CheckpointError(f"{text} does not exist (and is not the name of shipped weights: "
                          f"{', '.join(sorted(list_weights('gan'))) or 'none'}).")


# ---------------------------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    from app.engine.config import TrainConfig
    from app.engine.gan import gan_config

    resume_from = None
    if args.resume:
        cfg, resume_from = cli.resume_from_args(args, [
            ("config", "--config"), ("data", "--data"), ("data_root", "--data-root"), ("image_size", "--image-size"),
            ("class_", "--class"), ("model", "--model"), ("option", "--option"), ("beta1", "--beta1"),
            ("label_smoothing", "--label-smoothing"), ("score_every", "--score-every"),
            ("score_samples", "--score-samples"), ("classifier", "--classifier"), ("no_score", "--no-score"),
            ("seed", "--seed")])
        if cfg.task != "gan":
            from app.core.errors import UserError
            raise UserError(f"{args.resume} is not a GAN run (it is a '{cfg.task}' run).")
        out = args.resume
    else:
        if args.config:
            base = TrainConfig.load(args.config)
        else:
            if not args.data:
                from app.core.errors import UserError
                raise UserError("Say which data set to train on: --data mnist, fashion-mnist, cifar10, "
                                "fashion-mnist-sample or folder.")
            base = gan_config(args.data)
        changes: dict = {}
        for attr in ("data", "image_size", "model", "epochs", "batch_size", "lr", "label_smoothing", "seed",
                     "device", "amp"):
            v = getattr(args, attr)
            if v is not None:
                changes[attr] = v
        if args.data_root:
            changes["data_root"] = str(Path(args.data_root).expanduser().resolve())
        if args.option:
            changes["model_options"] = {**base.model_options, **dict(args.option)}
        extra = dict(base.extra)
        if args.class_ is not None:
            extra["class"] = args.class_
        if args.beta1 is not None:
            extra["betas"] = [args.beta1, extra.get("betas", [0.5, 0.999])[1]]
        for attr, key in (("score_every", "score_every"), ("score_samples", "score_samples"),
                          ("classifier", "classifier")):
            v = getattr(args, attr)
            if v is not None:
                extra[key] = str(Path(v).resolve()) if key == "classifier" else v
        if args.no_score:
            extra["score"] = False
        changes["extra"] = extra
        cfg = TrainConfig.from_dict({**base.to_dict(), **changes, "task": "gan"}, source="the options")
        out = args.out
    _, rc = cli.run_training(cfg, out=out, resume_from=resume_from, quiet=args.quiet, overwrite=args.overwrite)
    return rc


# ---------------------------------------------------------------------------------------------- generate
def cmd_generate(args: argparse.Namespace) -> int:
    import math

    from app.engine.gan import load_generator, make_grid, make_strip, save_png
    from app.core.errors import UserError

    # --n, --steps and --scale are checked with every numeric option (core.options, in cli.main)
    from app.core.files import output_path

    source = _checkpoint_path(args.checkpoint)
    output_path(args.out, inputs=[source, *(source.glob("*.pt") if source.is_dir() else [])], what="the picture")
    gen = load_generator(source, device=args.device or "cpu")
    if args.interpolate:
        i, j = args.interpolate
        if not (0 <= i < args.n and 0 <= j < args.n):
            raise UserError(f"--interpolate needs two sample indices between 0 and {args.n - 1}.")
        z = gen.latents(args.n, args.seed)
        images = gen.interpolate(z[i], z[j], steps=args.steps)
        picture = make_strip(images)
        what = f"{args.steps}-step interpolation from sample {i} to sample {j} of seed {args.seed}"
    else:
        images = gen.sample(args.n, args.seed)
        picture = make_grid(images, nrow=args.nrow or int(math.ceil(math.sqrt(args.n))))
        what = f"{args.n} samples of seed {args.seed}"
    save_png(picture, args.out, scale=args.scale)
    print(f"wrote {args.out}: {what} from {gen.describe()}")
    return 0


# ---------------------------------------------------------------------------------------------- score
def cmd_score(args: argparse.Namespace) -> int:
    from app.data import load_dataset
    from app.engine.fid import GanScorer, find_score_classifier, real_floor
    from app.engine.gan import SCORE_SEED, load_generator, resolve_class
    from app.core.errors import UserError

    gen = load_generator(_checkpoint_path(args.checkpoint), device=args.device or "cpu")
    data = args.data or gen.meta.get("data")
    if not data:
        raise UserError("Say which data set to compare with: --data NAME --data-root PATH.")
    c, h, w = gen.image_shape
    ds = load_dataset(data, args.data_root, size=h if data == "folder" else None)
    if tuple(ds.input_shape) != gen.image_shape:
        raise UserError(f"The generator draws {c}x{h}x{w} images but {data} has "
                        f"{'x'.join(map(str, ds.input_shape))} images.")
    clf = find_score_classifier(ds.name, args.classifier, device=args.device or "cpu")
    if clf is None:
        raise UserError(f"There is no shipped classifier for {data}; give one with --classifier CHECKPOINT.")
    real = ds.test
    k = resolve_class(ds, args.class_ if args.class_ is not None else gen.meta.get("class"))
    if k is not None:
        from app.data import subset_class
        real = subset_class(real, k)
    scorer = GanScorer(clf, real.images, n_samples=args.samples)
    res = scorer.score_generator(gen.generator, gen.latent_dim, gen.device, seed=args.seed if args.seed is not None
                                 else SCORE_SEED)
    out = res.to_dict()
    if args.floor:
        out["fd_real_floor"] = real_floor(clf, real.images[: 2 * args.samples], seed=0)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"Frechet distance: {res.fd:.4f}  ({res.n} generated vs {scorer.n_real} real test images of {data}"
          + (f", class {ds.classes[k]}" if k is not None else "") + ")")
    if "fd_real_floor" in out:
        print(f"real-data floor (two halves of the test set): {out['fd_real_floor']:.4f}")
    width = max(len(c) for c in res.classes)
    print("classes the classifier assigns to the generated samples:")
    for name, count in zip(res.classes, res.histogram):
        share = count / max(res.n, 1)
        print(f"  {name:<{width}}  {count:6d}  {100 * share:5.1f}%  {'#' * int(round(share * 50))}")
    return 0


# ---------------------------------------------------------------------------------------------- parser
def add(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("gan", help="train a GAN, draw samples from it, score it")
    gsub = g.add_subparsers(dest="gan_command", parser_class=cli._Parser)
    g.set_defaults(func=lambda a: (g.print_help(), cli.EXIT_USER)[1])

    t = gsub.add_parser("train", help="train a GAN and write a run folder")
    t.add_argument("--config", help="re-run from a GAN run's config.json (other options override it)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a GAN run from its last.pt")
    t.add_argument("--data", help="mnist, fashion-mnist, cifar10, fashion-mnist-sample or folder")
    t.add_argument("--data-root", help="folder holding the data set")
    t.add_argument("--image-size", type=int, help="resize folder images to this square size (28, 32 or 64)")
    t.add_argument("--class", dest="class_", metavar="K", help="train on one class only (index or name)")
    t.add_argument("--model", choices=["dcgan", "fc-gan"])
    t.add_argument("--option", type=cli._option, action="append", default=[], metavar="NAME=VALUE",
                   help="model option, e.g. latent_dim=64, g_width=32, d_width=32")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float, help="Adam learning rate (default 0.0002)")
    t.add_argument("--beta1", type=float, help="Adam beta1 (default 0.5)")
    t.add_argument("--label-smoothing", type=float, help="one-sided: real targets 1 - s (e.g. 0.1)")
    t.add_argument("--score-every", type=int, help="compute the Frechet distance every N epochs (default 1)")
    t.add_argument("--score-samples", type=int, help="samples for the score (default 10000)")
    t.add_argument("--classifier", help="classifier checkpoint for the score (default: the shipped one)")
    t.add_argument("--no-score", action="store_true", help="do not compute the score")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="auto, cpu or cuda")
    t.add_argument("--amp", nargs="?", const="auto", choices=["off", "auto", "bf16", "fp16"])
    t.add_argument("--out", help="run folder to write (default: a new folder under the runs folder)")
    cli.add_overwrite_arg(t)
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)

    gen = gsub.add_parser("generate", help="draw a grid of samples (or an interpolation strip) as PNG")
    gen.add_argument("checkpoint", metavar="CHECKPOINT")
    gen.add_argument("--n", type=int, default=64)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", required=True, help="PNG file to write")
    gen.add_argument("--nrow", type=int, help="samples per row (default: a square grid)")
    gen.add_argument("--scale", type=int, default=1, help="enlarge the picture this many times")
    gen.add_argument("--interpolate", type=int, nargs=2, metavar=("I", "J"),
                     help="instead of the grid: a strip from sample I to sample J")
    gen.add_argument("--steps", type=int, default=10, help="images in the interpolation strip")
    gen.add_argument("--device")
    gen.set_defaults(func=cmd_generate)

    s = gsub.add_parser("score", help="Frechet distance and class histogram of a generator")
    s.add_argument("checkpoint", metavar="CHECKPOINT")
    s.add_argument("--data", help="data set to compare with (default: the one it was trained on)")
    s.add_argument("--data-root")
    s.add_argument("--class", dest="class_", metavar="K", help="compare with one class's test images")
    s.add_argument("--samples", type=int, default=10_000, help="generated and real images (default 10000)")
    s.add_argument("--classifier", help="classifier checkpoint (default: the shipped one for the data set)")
    s.add_argument("--seed", type=int, help="seed of the generated samples")
    s.add_argument("--floor", action="store_true", help="also print the distance between two halves of the test set")
    s.add_argument("--json", action="store_true")
    s.add_argument("--device")
    s.set_defaults(func=cmd_score)


__all__ = ["add", "cmd_train", "cmd_generate", "cmd_score"]
