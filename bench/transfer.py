"""Transfer-learning benchmark (issue 17): the shipped EfficientNet-Lite0 on cached features.

Prints one JSON object:

* ``extraction``: images/s of VisionDesk's feature extraction (``app.engine.features.extract``: batching,
  normalisation, channels-last on the CPU) against a bare ``torch.no_grad()`` loop over the same model
  body and the same images in the same process (interleaved repeats, medians and spread);
  ``ratio`` = engine / bare (target >= 0.95). ``bare_channels_last`` is the same bare loop with the
  memory layout VisionDesk uses, for reference.
* ``head``: seconds per epoch of the last-layer training on cached features inside the one Trainer
  (with and without a run folder).
* ``accuracy`` (only when ../shared/data/cifar10-folder-small exists): whole runs through the same path as
  ``visiondesk train --data folder`` (decode, features, training; a fresh feature cache, then a second
  run that reads it) on (a) its cat and dog folders and (b) all 10 classes, and, for (b), the best
  from-scratch zoo model (cnn4) given the same wall-clock time.

    python bench/transfer.py [--repeats 3] [--images 64] [--skip-accuracy] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cifar10-folder-small"


def _spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def bench_extraction(images: int, repeats: int, input_size: int) -> dict:
    from app.data.base import ImageSplit
    from app.engine.features import extract
    from app.models import build_model
    from app.models.efficientnet import INPUT_MEAN, INPUT_STD

    g = torch.Generator().manual_seed(0)
    x8 = torch.randint(0, 256, (images, 3, 32, 32), generator=g, dtype=torch.uint8)
    split = ImageSplit(x8, torch.zeros(images, dtype=torch.int64))
    net = build_model("efficientnet-lite0", 3, 32, 10, input_size=input_size).eval()
    body = net.body
    mean, std = (INPUT_MEAN,) * 3, (INPUT_STD,) * 3
    bs = 16
    xf = (x8.float() / 255 - INPUT_MEAN) / INPUT_STD

    def bare(layout):
        body.to(memory_format=layout)
        with torch.no_grad():
            for i in range(0, images, bs):
                body(xf[i:i + bs].contiguous(memory_format=layout))

    def engine():
        extract(body, split, mean=mean, std=std, device="cpu", batch_size=bs)

    runs = {"engine": [], "bare": [], "bare_channels_last": []}
    fns = {"engine": engine, "bare": lambda: bare(torch.contiguous_format),
           "bare_channels_last": lambda: bare(torch.channels_last)}
    for fn in fns.values():        # warm-up
        fn()
    for _ in range(repeats):       # interleaved
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            runs[name].append(images / (time.perf_counter() - t))
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {"images": images, "input_size": input_size, "batch_size": bs,
            "images_per_sec": {k: _spread(v) for k, v in runs.items()},
            "ratio": med["engine"] / med["bare"],
            "ratio_vs_bare_channels_last": med["engine"] / med["bare_channels_last"]}


def bench_head(epochs: int = 10) -> dict:
    """Epoch seconds of the last layer on cached features (5,000 images x 1,904 features, 10 classes)."""
    from app.data.base import ImageDataset, ImageSplit
    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig
    from app.engine.features import FeatureSet
    from app.engine import transfer

    g = torch.Generator().manual_seed(0)
    ds = ImageDataset("folder", ImageSplit(torch.zeros(5000, 3, 32, 32, dtype=torch.uint8), torch.arange(5000) % 10),
                      ImageSplit(torch.zeros(1000, 3, 32, 32, dtype=torch.uint8), torch.arange(1000) % 10),
                      [str(i) for i in range(10)], (0.5,) * 3, (0.25,) * 3)
    out = {}
    original = transfer.cached_features
    try:
        def fake(ds_, backbone, **kw):     # features as if read from the cache: the head alone is timed
            d = backbone.feature_dim if hasattr(backbone, "feature_dim") else 1904
            views = len(kw.get("views", ("orig",)))
            return FeatureSet(torch.rand(views, 5000, d, generator=g), torch.rand(views, 1000, d, generator=g),
                              tuple(kw.get("views", ("orig",))), list(kw.get("views", ("orig",))))
        transfer.cached_features = fake
        for label, write in (("no_run_folder", False), ("with_run_folder", True)):
            tmp = tempfile.mkdtemp()
            cfg = TrainConfig(data="folder", model="efficientnet-lite0", epochs=epochs, optimizer="adamw", lr=1e-3,
                              weight_decay=0.05, schedule="cosine", batch_size=128, device="cpu")
            tr = make_trainer(cfg, dataset=ds, write_run=write, out=Path(tmp) / "run" if write else None)
            tr.fit()
            secs = [r["seconds"] for r in tr.history]
            out[label] = _spread(secs)
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        transfer.cached_features = original
    return out


def _whole_run(cfg, root_env: str) -> dict:
    from app.data.folder import clear_cache
    from app.engine.build import make_trainer

    clear_cache()
    os.environ["VISIONDESK_HOME"] = root_env
    t = time.perf_counter()
    tr = make_trainer(cfg, write_run=True, out=Path(root_env) / f"run-{time.time_ns()}")
    fin = tr.fit()
    total = time.perf_counter() - t
    fs = getattr(tr.task, "features", None)
    return {"test_acc": fin.best.get("test_acc"), "final_test_acc": fin.metrics.get("test_acc"),
            "seconds": round(total, 1), "feature_seconds": round(fs.seconds, 1) if fs else None,
            "features_from_cache": list(fs.from_cache) if fs else None, "epochs": fin.epoch}


def _from_scratch(data_root: str, budget: float, home: str, model: str = "cnn4") -> dict:
    """The from-scratch model with its suggested settings, stopped when the budget is spent."""
    from app.data.folder import clear_cache
    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig
    from app.engine.events import EpochEnd
    from app.engine.trainer import Control
    from app.models import get_model_info

    clear_cache()
    os.environ["VISIONDESK_HOME"] = home
    d = get_model_info(model).defaults
    cfg = TrainConfig(data="folder", data_root=data_root, model=model, epochs=200, batch_size=d["batch_size"],
                      optimizer=d["optimizer"], lr=d["lr"], weight_decay=d["weight_decay"], schedule="cosine",
                      device="cpu")
    control = Control()
    t0 = time.perf_counter()
    accs = []

    def watch(ev):
        if isinstance(ev, EpochEnd):
            accs.append(ev.metrics.get("test_acc"))
        if time.perf_counter() - t0 > budget:
            control.stop("time budget spent")

    tr = make_trainer(cfg, write_run=False, callbacks=[watch], control=control)
    fin = tr.fit()
    return {"model": model, "test_acc": max(a for a in accs if a is not None) if accs else None,
            "epochs": fin.epoch, "seconds": round(time.perf_counter() - t0, 1), "note": "cosine planned for 200 epochs, stopped at the budget"}


def bench_accuracy(with_scratch: bool = True) -> dict:
    from app.engine.config import TrainConfig
    from app.models import default_classifier, get_model_info

    out = {}
    work = Path(tempfile.mkdtemp(prefix="vd-transfer-bench-"))
    try:
        catdog = work / "catdog"
        for split in ("train", "test"):
            for cls in ("cat", "dog"):
                shutil.copytree(SHARED / split / cls, catdog / split / cls)
        model = default_classifier("folder")
        d = get_model_info(model).defaults

        def cfg_for(root):
            return TrainConfig(data="folder", data_root=str(root), model=model, epochs=d["epochs"],
                               batch_size=d["batch_size"], optimizer=d["optimizer"], lr=d["lr"],
                               weight_decay=d["weight_decay"], schedule=d["schedule"],
                               label_smoothing=d.get("label_smoothing", 0.0), device="cpu")

        for name, root in (("cat_dog", catdog), ("cifar10_folder_small", SHARED)):
            home = str(work / f"home-{name}")
            first = _whole_run(cfg_for(root), home)
            second = _whole_run(cfg_for(root), home)
            out[name] = {"model": model, "first_run": first, "second_run_cached": second}
        if with_scratch:
            budget = out["cifar10_folder_small"]["first_run"]["seconds"]
            out["cifar10_folder_small"]["from_scratch_same_time"] = _from_scratch(str(SHARED), budget,
                                                                                  str(work / "home-scratch"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--input-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--skip-scratch", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"device": "cpu", "threads": torch.get_num_threads(),
              "extraction": bench_extraction(args.images, args.repeats, args.input_size),
              "head": bench_head()}
    if SHARED.is_dir() and not args.skip_accuracy:
        result["accuracy"] = bench_accuracy(with_scratch=not args.skip_scratch)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
