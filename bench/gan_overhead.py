"""Engine overhead for GAN training: images/s of ``GanTask`` on the shared ``Trainer`` against a bare,
hand-written DCGAN loop on the same in-memory data, model, batch size and device, in one process.

    python bench/gan_overhead.py [--images 6400] [--epochs 2] [--repeats 5] [--width 32] [--batch-size 128]
                                 [--data fashion-mnist --data-root ../shared/data/fashion-mnist]
                                 [--device auto] [--threads 1]

Both sides do exactly the same work per step (one D step on a real and a generated batch, one G step
with the non-saturating loss, Adam 2e-4 / (0.5, 0.999), D's gradients switched off in the G step).
The bare loop keeps the uint8 images on the device and normalises each batch there, never
synchronises (no ``.item()``), writes nothing. The engine run is a real run: run folder, per-batch
metrics (fetched in groups), metrics.csv/batches.csv, the fixed-noise grid PNG and last.pt/best.pt
every epoch (the Fréchet score is switched off: it is evaluation, not training). Each side is timed
from the start of its loop (models built, data on the device) to its end, including the engine's
end-of-epoch work. Runs alternate (bare then engine, then engine then bare, ...) after one warm-up of
each; the JSON gives the median images/s of each side and their ratio (target: engine/bare >= 0.95),
by wall-clock time and by the process's CPU time (steadier on a machine shared with other jobs:
with one thread, CPU time is the work done).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from app.data.base import ImageDataset, ImageSplit  # noqa: E402
from app.engine.build import make_trainer  # noqa: E402
from app.engine.devices import describe_device, pick_device  # noqa: E402
from app.engine.events import EpochStart, Finished  # noqa: E402
from app.engine.gan import gan_config  # noqa: E402
from app.models import build_model  # noqa: E402


def synthetic(n: int, seed: int = 0) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g)
    split = ImageSplit(x, y)
    return ImageDataset("synthetic", split, ImageSplit(x[:256], y[:256]), [str(k) for k in range(10)],
                        (0.5,), (0.29,), source="random")


def load(args) -> ImageDataset:
    if args.data:
        from app.data import load_dataset

        ds = load_dataset(args.data, args.data_root)
        n = min(args.images, len(ds.train))
        return ImageDataset(ds.name, ImageSplit(ds.train.images[:n], ds.train.labels[:n]), ds.test, ds.classes,
                            ds.mean, ds.std, source=ds.source)
    return synthetic(args.images)


def bare_loop(ds: ImageDataset, args, device: torch.device) -> tuple[float, float]:
    """The hand-written loop; returns images per wall-clock second and per CPU second."""
    torch.manual_seed(0)
    pair = build_model("dcgan", ds.channels, ds.size, 1, g_width=args.width, d_width=args.width)
    G, D = pair.generator.to(device), pair.discriminator.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    images = ds.train.images.to(device)
    n, bs, nz = images.shape[0], args.batch_size, pair.latent_dim
    steps = n // bs
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, c0 = time.perf_counter(), time.process_time()
    seen = 0
    for epoch in range(args.epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch)).to(device)
        for b in range(steps):
            x = images.index_select(0, order[b * bs:(b + 1) * bs]).float().div_(127.5).sub_(1.0)
            z = torch.randn(bs, nz, device=device)
            fake = G(z)
            d_real, d_fake = D(x), D(fake.detach())
            loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                      + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            for p in D.parameters():
                p.requires_grad_(False)
            d_gen = D(fake)
            loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            for p in D.parameters():
                p.requires_grad_(True)
            seen += bs
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - t0), seen / (time.process_time() - c0)


def engine_loop(ds: ImageDataset, args, device: torch.device) -> tuple[float, float]:
    """GanTask on the Trainer, with a run folder; images per wall-clock and per CPU second from the
    first epoch's start to Finished."""
    marks: dict[str, float] = {}

    def on_event(ev) -> None:
        if isinstance(ev, EpochStart) and "start" not in marks:
            if device.type == "cuda":
                torch.cuda.synchronize()
            marks["start"], marks["cpu_start"] = time.perf_counter(), time.process_time()
        elif isinstance(ev, Finished):
            marks["end"], marks["cpu_end"] = time.perf_counter(), time.process_time()

    cfg = gan_config(ds.name, epochs=args.epochs, batch_size=args.batch_size, seed=0, device=str(device),
                     model_options={"g_width": args.width, "d_width": args.width}, extra={"score": False})
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(cfg, out=Path(tmp) / "run", dataset=ds, callbacks=[on_event])
        fin = trainer.fit()
    images = len(ds.train) // args.batch_size * args.batch_size * fin.epoch
    return images / (marks["end"] - marks["start"]), images / (marks["cpu_end"] - marks["cpu_start"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=6400)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--data")
    p.add_argument("--data-root")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    ds = load(args)
    small = argparse.Namespace(**{**vars(args), "epochs": 1})
    warm = ImageDataset(ds.name, ImageSplit(ds.train.images[:4 * args.batch_size], ds.train.labels[:4 * args.batch_size]),
                        ds.test, ds.classes, ds.mean, ds.std)
    bare_loop(warm, small, device)
    engine_loop(warm, small, device)
    bare, engine = [], []
    for i in range(args.repeats):
        # alternate which side goes first, so a slow drift of the machine's load hits both alike
        if i % 2 == 0:
            bare.append(bare_loop(ds, args, device))
            engine.append(engine_loop(ds, args, device))
        else:
            engine.append(engine_loop(ds, args, device))
            bare.append(bare_loop(ds, args, device))
    b, e = statistics.median(v[0] for v in bare), statistics.median(v[0] for v in engine)
    bc, ec = statistics.median(v[1] for v in bare), statistics.median(v[1] for v in engine)
    print(json.dumps({
        "benchmark": "gan_overhead", "device": describe_device(device), "torch": torch.__version__,
        "python": platform.python_version(), "threads": torch.get_num_threads(), "data": ds.name,
        "images": len(ds.train), "image_shape": list(ds.input_shape), "model": "dcgan",
        "width": args.width, "batch_size": args.batch_size, "epochs": args.epochs, "repeats": args.repeats,
        "bare_images_per_sec": [round(v[0], 1) for v in bare],
        "engine_images_per_sec": [round(v[0], 1) for v in engine],
        "bare_median": round(b, 1), "engine_median": round(e, 1), "ratio_engine_over_bare": round(e / b, 4),
        "bare_images_per_cpu_sec": [round(v[1], 1) for v in bare],
        "engine_images_per_cpu_sec": [round(v[1], 1) for v in engine],
        "ratio_engine_over_bare_cpu_time": round(ec / bc, 4),
        "target": 0.95, "meets_target": e / b >= 0.95,
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
