"""How long a classification run will take, before it starts (torch only, no Qt).

Measured, not guessed: a frozen pretrained backbone is timed on a few pictures (its features are
computed once per data set, or read from the cache when they are there already), and any other
model is timed on a few real training steps of the configured batch size. The result is in plain
words for the Train tab ("about 2 minutes: image features for 1,200 pictures about 1 minute (only the
first time), then 30 quick epochs").
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from app.data.base import ImageDataset
from app.engine.config import TrainConfig
from app.engine.devices import pick_device


@dataclass
class Estimate:
    seconds: float
    text: str          # one sentence for the person
    cached: bool = False


def duration_text(seconds: float) -> str:
    """'under 10 seconds', 'about 40 seconds', 'about 3 minutes', 'about 1 hour 20 minutes'."""
    s = max(0.0, float(seconds))
    if s < 10:
        return "under 10 seconds"
    if s < 60:
        return f"about {int(round(s / 5.0) * 5)} seconds"
    if s < 3600:
        m = max(1, int(round(s / 60)))
        return f"about {m} minute{'s' if m != 1 else ''}"
    h, m = divmod(int(round(s / 60)), 60)
    return f"about {h} hour{'s' if h != 1 else ''}" + (f" {m} minutes" if m else "")


def _time(fn, repeats: int = 2) -> float:
    fn()                                  # warm-up (allocations, kernels)
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


def estimate_run(cfg: TrainConfig, ds: ImageDataset, *, probe: int = 4) -> Estimate:
    """Estimate the whole run of ``cfg`` on ``ds`` (decoded already) on the configured device."""
    from app.engine.features import features_saved
    from app.engine.transfer import VIEWS
    from app.models import build_model, input_normalization

    device = pick_device(cfg.device)
    net = build_model(cfg.model, ds.channels, ds.size, ds.num_classes, **(cfg.model_options or {})).to(device)
    n_train, n_test = len(ds.train), len(ds.test)
    mean, std = input_normalization(cfg.model, cfg.model_options, ds.channels) or (ds.mean, ds.std)
    scale = torch.tensor([1 / (255 * s) for s in std], device=device).view(1, -1, 1, 1)
    shift = torch.tensor([-m / s for m, s in zip(mean, std)], device=device).view(1, -1, 1, 1)

    def batch(n: int) -> torch.Tensor:
        x = ds.train.images[: max(1, min(n, n_train))].to(device)
        return x.float() * scale + shift

    key = getattr(net, "feature_cache_key", None)
    if key is not None:
        cached = features_saved(ds, key, getattr(net, "input_size", 0), VIEWS)
        feature_s = 0.0
        if not cached:
            x = batch(probe)
            net.eval()
            with torch.no_grad():
                per_image = _time(lambda: net.body(x)) / x.shape[0]
            feature_s = per_image * (n_train + n_test) * len(VIEWS)
        steps = max(1, (len(VIEWS) * n_train) // max(1, cfg.batch_size))
        head_s = cfg.epochs * (steps * 0.002 + 0.15)      # a linear layer; most of an epoch is its checkpoint
        total = feature_s + head_s
        if cached:
            text = (f"Estimated time: {duration_text(total)} — the image features of this data set are saved "
                    f"already, so {cfg.epochs} quick epochs train the last layer.")
        else:
            text = (f"Estimated time: {duration_text(total)} — image features for {n_train + n_test:,} pictures "
                    f"{duration_text(feature_s)} (only the first time on this data), then {cfg.epochs} quick "
                    f"epochs.")
        return Estimate(total, text, cached)

    bs = max(1, min(cfg.batch_size, n_train))
    x = batch(bs)
    y = ds.train.labels[: x.shape[0]].to(device)
    net.train()
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-9) if params else None

    def step() -> None:
        out = net(x)
        loss = torch.nn.functional.cross_entropy(out.float(), y) if out.dim() == 2 else out.float().mean()
        if opt is not None:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    per_step = _time(step, repeats=1)
    steps = max(1, n_train // bs)
    eval_s = per_step / 3 * (n_test / bs)
    total = cfg.epochs * (steps * per_step + eval_s)
    return Estimate(total, f"Estimated time: {duration_text(total)} ({cfg.epochs} epochs of "
                           f"{duration_text(steps * per_step + eval_s).replace('about ', '')} each).")
