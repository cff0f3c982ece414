"""Engine overhead benchmark: images/s of the same training three ways, in one process.

(a) a bare hand-written PyTorch loop over in-memory tensors,
(b) the classic tutorial pipeline: torchvision MNIST + ToTensor/Normalize + DataLoader(batch 64),
(c) VisionDesk's Trainer + ClassificationTask with the CLI's progress printer and a run folder.

Same model (classic-cnn), same data (MNIST from ../shared/data/mnist when present, otherwise generated
MNIST-sized data), same batch size, same number of batches. Prints JSON with the ratios
engine/bare (target >= 0.97) and engine/tutorial (target >= 1.15).

    python bench/engine_overhead.py [--batches 300] [--repeats 3] [--device cpu]
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.cli import ProgressPrinter  # noqa: E402
from app.data.base import ImageDataset, ImageSplit  # noqa: E402
from app.engine.classification import ClassificationTask  # noqa: E402
from app.engine.devices import pick_device  # noqa: E402
from app.engine.trainer import Trainer  # noqa: E402
from app.models import build_model  # noqa: E402

SHARED_MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"
MEAN, STD = 0.1307, 0.3081


def load_images(n: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    if (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
        from app.data.idx import read_idx

        x = read_idx(SHARED_MNIST / "train-images-idx3-ubyte.gz")[:n]
        y = read_idx(SHARED_MNIST / "train-labels-idx1-ubyte.gz")[:n]
        return torch.from_numpy(np.ascontiguousarray(x))[:, None], torch.from_numpy(y.astype(np.int64)), str(SHARED_MNIST)
    g = torch.Generator().manual_seed(0)
    return (torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8),
            torch.randint(0, 10, (n,), generator=g), "generated")


def make_model(device):
    torch.manual_seed(0)
    return build_model("classic-cnn", 1, (28, 28), 10).to(device)


def bare(x_u8, y, batch, device) -> float:
    model = make_model(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = ((x_u8.float() / 255 - MEAN) / STD).to(device)
    y = y.to(device)
    model.train()
    n = len(x) // batch * batch
    perm = torch.randperm(len(x), device=device)
    sync(device)
    t = time.perf_counter()
    for i in range(0, n, batch):
        idx = perm[i:i + batch]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return n / (time.perf_counter() - t)


def tutorial(root: Path, n: int, batch, device) -> float:
    import torchvision
    from torchvision import transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    ds = torchvision.datasets.MNIST(str(root), train=True, download=False, transform=tf)
    ds = torch.utils.data.Subset(ds, range(n))
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True)
    model = make_model(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    sync(device)
    t = time.perf_counter()
    seen = 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(xb)
    sync(device)
    return seen / (time.perf_counter() - t)


def engine(x_u8, y, batch, device, run_dir: Path) -> float:
    n = len(x_u8) // batch * batch
    train = ImageSplit(x_u8[:n], y[:n])
    test = ImageSplit(x_u8[:batch], y[:batch])
    ds = ImageDataset("bench", train, test, [str(i) for i in range(10)], (MEAN,), (STD,))
    task = ClassificationTask(ds, "classic-cnn", batch_size=batch, optimizer="sgd", lr=0.01, momentum=0.9,
                              nesterov=False, weight_decay=0.0, schedule="none", epochs=1, augment=False)
    shutil.rmtree(run_dir, ignore_errors=True)
    tr = Trainer(task, epochs=1, device=device, seed=0, run_dir=run_dir,
                 callbacks=[ProgressPrinter(stream=io.StringIO(), out=io.StringIO())])
    fin = tr.fit()
    return float(fin.metrics["images_per_sec"])


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def write_torchvision_root(x_u8, y, root: Path) -> None:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    from app.data.idx import write_idx

    write_idx(raw / "train-images-idx3-ubyte", x_u8[:, 0].numpy())
    write_idx(raw / "train-labels-idx1-ubyte", y.numpy().astype(np.uint8))
    write_idx(raw / "t10k-images-idx3-ubyte", x_u8[:100, 0].numpy())
    write_idx(raw / "t10k-labels-idx1-ubyte", y[:100].numpy().astype(np.uint8))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = pick_device(args.device)
    n = args.batches * args.batch_size
    x, y, source = load_images(n)
    tmp = Path(tempfile.mkdtemp(prefix="vd-bench-"))
    try:
        write_torchvision_root(x, y, tmp / "tv")
        results: dict[str, list[float]] = {"bare": [], "tutorial": [], "engine": []}
        bare(x[: args.batch_size * 20], y[: args.batch_size * 20], args.batch_size, device)  # warm-up
        for _ in range(args.repeats):  # interleaved, so drifting machine load hits all three alike
            results["bare"].append(bare(x, y, args.batch_size, device))
            results["tutorial"].append(tutorial(tmp / "tv", n, args.batch_size, device))
            results["engine"].append(engine(x, y, args.batch_size, device, tmp / "run"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(json.dumps({
        "benchmark": "engine_overhead", "device": str(device), "torch_threads": torch.get_num_threads(),
        "model": "classic-cnn", "batch_size": args.batch_size, "batches": args.batches, "data": source,
        "images_per_sec": {k: round(v, 1) for k, v in med.items()},
        "runs": {k: [round(v, 1) for v in vs] for k, vs in results.items()},
        "engine_over_bare": round(med["engine"] / med["bare"], 3),
        "engine_over_tutorial": round(med["engine"] / med["tutorial"], 3),
        "targets": {"engine_over_bare": 0.97, "engine_over_tutorial": 1.15},
    }, indent=2))


if __name__ == "__main__":
    main()
