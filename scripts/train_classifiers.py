"""Train the classifiers the GAN score uses and ship them in ``weights/`` (reproducible, CPU friendly).

    python scripts/train_classifiers.py [--data mnist fashion-mnist] [--root ../shared/data]
                                        [--model lenet5] [--epochs 4] [--seed 0]

For each data set: trains ``--model`` through the engine (``make_trainer``: the same loop as
``visiondesk train``), keeps the run folder under ``runs/`` of the VisionDesk home, copies its
best.pt as ``weights/classifier-<data>.pt`` (fp32 weights + the meta needed to rebuild the model,
nothing else), measures the test accuracy of that file on the full test split and records it in
``weights/manifest.json`` with the command, seed and epochs.

The equivalent CLI training is::

    visiondesk train --data mnist --data-root ../shared/data/mnist --model lenet5 --epochs 4 --seed 0
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
from app.engine.checkpoint import FORMAT, load_checkpoint, save_checkpoint  # noqa: E402
from app.engine.config import TrainConfig  # noqa: E402
from app.engine.predict import evaluate_classifier, load_classifier  # noqa: E402
from app.engine.runs import new_run_dir  # noqa: E402
from app.core.paths import portable_path  # noqa: E402
from app.core.weights import register_weight, weights_dir  # noqa: E402


def export_weights(best: Path, target: Path) -> None:
    """A small shipped file: fp32 state dict + meta (no optimizer, no config)."""
    ckpt = load_checkpoint(best)
    state = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in ckpt["model"].items()}
    save_checkpoint({"format": FORMAT, "kind": "weights", "model": state, "meta": ckpt["meta"],
                     "epoch": ckpt.get("epoch")}, target)


def train_one(data: str, root: Path, model: str, epochs: int, seed: int, batch_size: int, lr: float,
              command: str) -> dict:
    ds = load_dataset(data, root)
    cfg = TrainConfig(task="classify", data=data, data_root=str(root), model=model, epochs=epochs,
                      batch_size=batch_size, optimizer="sgd", lr=lr, momentum=0.9, nesterov=True,
                      weight_decay=5e-4, schedule="onecycle", augment=True, seed=seed, device="cpu")
    out = new_run_dir(data, model)
    t0 = time.perf_counter()
    trainer = make_trainer(cfg, out=out, dataset=ds, callbacks=[ProgressPrinter()])
    trainer.fit()
    seconds = time.perf_counter() - t0
    target = weights_dir() / f"classifier-{data}.pt"
    export_weights(out / "best.pt", target)
    clf = load_classifier(target)
    res = evaluate_classifier(clf, ds.test.images, ds.test.labels)
    entry = register_weight(f"classifier-{data}", target, task="classify", model=model, data=data,
                            epochs=epochs, seed=seed, batch_size=batch_size, lr=lr,
                            test_acc=round(res["accuracy"], 4), test_images=res["n"],
                            per_class_acc=[round(a, 4) for a in res["per_class_acc"]],
                            feature_dim=int(clf.model.feature_dim), train_seconds=round(seconds, 1),
                            command=command, used_for="GAN score (Frechet distance features, class histogram)")
    print(f"{data}: test accuracy {100 * res['accuracy']:.2f}% -> {target} ({entry['bytes']} bytes)")
    return entry


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["mnist", "fashion-mnist"])
    p.add_argument("--root", default=str(SHARED_DATA), help="folder holding mnist/ and fashion-mnist/")
    p.add_argument("--model", default="lenet5")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    for data in args.data:
        command = ("python scripts/train_classifiers.py " + " ".join(shlex.quote(str(a)) for a in (
            "--data", data, "--root", portable_path(args.root), "--model", args.model, "--epochs", args.epochs,
            "--batch-size", args.batch_size, "--lr", args.lr, "--seed", args.seed)))
        train_one(data, Path(args.root) / data, args.model, args.epochs, args.seed, args.batch_size, args.lr,
                  command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
