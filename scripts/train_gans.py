"""Train the shipped DCGAN generators through the engine and record how good they are.

    python scripts/train_gans.py [--data fashion-mnist mnist] [--root ../shared/data] [--epochs 5]
                                 [--seed 0] [--width 32] [--threads 1]

Needs the score classifiers first (``scripts/train_classifiers.py``). For each data set: trains a
DCGAN with ``GanTask`` on the shared ``Trainer`` (the same run as ``visiondesk gan train``; the run
folder with metrics.csv, the per-epoch grids and best.pt stays under the VisionDesk home's runs/),
copies the generator of best.pt (the epoch with the lowest Fréchet distance) to
``weights/gan-<data>.pt`` and records in ``weights/manifest.json``:

* ``fd``: its Fréchet distance to the real test set in the shipped classifier's feature space
  (``--score-samples`` generated images vs as many real test images),
* ``fd_untrained``: the same for a freshly initialised generator (same seed),
* ``fd_real_floor``: the distance between two disjoint random halves of the real test set,
* ``class_histogram`` / ``class_max_share``: the classes the classifier assigns to the samples,
* data set, epochs, seed, the command, sha256 (added by ``register_weight``).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
#: the development data next to the project checkout (../shared/data), never copied into it
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

import torch  # noqa: E402

from app.cli import ProgressPrinter  # noqa: E402
from app.data import load_dataset  # noqa: E402
from app.engine.build import make_trainer  # noqa: E402
from app.engine.checkpoint import load_checkpoint  # noqa: E402
from app.engine.fid import GanScorer, find_score_classifier, real_floor  # noqa: E402
from app.engine.gan import SCORE_SEED, export_generator, gan_config, load_generator  # noqa: E402
from app.core.paths import portable_path  # noqa: E402
from app.engine.runs import new_run_dir  # noqa: E402
from app.models import build_model  # noqa: E402
from app.core.weights import register_weight, weight_entry, weights_dir  # noqa: E402


def train_one(args, data: str, command: str) -> dict:
    root = Path(args.root) / data
    ds = load_dataset(data, root)
    options = {"latent_dim": args.latent, "g_width": args.width, "d_width": args.width}
    cfg = gan_config(data, str(root), epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, lr=args.lr,
                     device="cpu", model_options=options, label_smoothing=args.label_smoothing,
                     extra={"score_every": args.score_every, "score_samples": args.score_samples})
    out = new_run_dir(data, "dcgan", task="gan")
    t0 = time.perf_counter()
    make_trainer(cfg, out=out, dataset=ds, callbacks=[ProgressPrinter()]).fit()
    seconds = time.perf_counter() - t0

    clf = find_score_classifier(data)
    if clf is None:
        raise SystemExit(f"No verified weights/classifier-{data}.pt: run scripts/train_classifiers.py first.")
    target = weights_dir() / f"gan-{data}.pt"
    export_generator(out / "best.pt", target)
    gen = load_generator(target)
    scorer = GanScorer(clf, ds.test.images, n_samples=args.score_samples)
    trained = scorer.score_generator(gen.generator, gen.latent_dim, gen.device, seed=SCORE_SEED)
    torch.manual_seed(args.seed)
    fresh = build_model("dcgan", ds.channels, ds.size, 1, **options).generator
    untrained = scorer.score_generator(fresh, gen.latent_dim, "cpu", seed=SCORE_SEED)
    floor = real_floor(clf, ds.test.images, seed=args.seed)
    best_epoch = int(load_checkpoint(out / "best.pt")["epoch"])
    entry = register_weight(
        f"gan-{data}", target, task="gan", model="dcgan", model_options=options, data=data, epochs=args.epochs,
        best_epoch=best_epoch, seed=args.seed, batch_size=args.batch_size, lr=args.lr, betas=[0.5, 0.999],
        label_smoothing=args.label_smoothing, fd=round(trained.fd, 3), fd_untrained=round(untrained.fd, 3),
        fd_real_floor=round(floor, 3), fd_ratio_to_untrained=round(trained.fd / untrained.fd, 5),
        score_samples=trained.n, class_histogram=trained.histogram, class_max_share=round(trained.max_share, 4),
        score_classifier=f"classifier-{data}", score_classifier_sha256=weight_entry(f"classifier-{data}")["sha256"],
        train_seconds=round(seconds, 1), run=out.name, command=command)
    print(f"{data}: FD {trained.fd:.3f} (untrained {untrained.fd:.3f}, real floor {floor:.3f}), "
          f"class histogram {trained.histogram} (max share {100 * trained.max_share:.1f}%) -> {target}")
    return entry


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["fashion-mnist", "mnist"])
    p.add_argument("--root", default=str(SHARED_DATA), help="folder holding mnist/ and fashion-mnist/")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=32, help="g_width and d_width of the DCGAN")
    p.add_argument("--latent", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--score-every", type=int, default=1)
    p.add_argument("--score-samples", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    for data in args.data:
        command = "python scripts/train_gans.py " + " ".join(shlex.quote(str(a)) for a in (
            "--data", data, "--root", portable_path(args.root), "--epochs", args.epochs, "--seed", args.seed, "--width", args.width,
            "--latent", args.latent, "--batch-size", args.batch_size, "--lr", args.lr,
            "--label-smoothing", args.label_smoothing, "--score-every", args.score_every,
            "--score-samples", args.score_samples))
        train_one(args, data, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
