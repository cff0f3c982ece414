"""Optimizers and learning-rate schedules (all schedules step once per batch)."""
from __future__ import annotations

import math
from typing import Iterable

import torch

from app.core.errors import UserError


def build_optimizer(params: Iterable, name: str, lr: float, *, momentum: float = 0.9, nesterov: bool = False,
                    weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if not params:
        raise UserError("Nothing to train: every layer of the model is frozen.")
    name = name.lower()
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=nesterov and momentum > 0,
                               weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    raise UserError(f"Unknown optimizer '{name}': choose sgd, adam or adamw.")


def build_scheduler(optimizer: torch.optim.Optimizer, name: str, *, epochs: int, steps_per_epoch: int,
                    step_size: int = 5, gamma: float = 0.1) -> torch.optim.lr_scheduler.LRScheduler:
    """A scheduler to step after every batch. ``step``: multiply by gamma every step_size epochs;
    ``cosine``: cosine decay to 0 over the run; ``onecycle``: warm up for 25% then anneal."""
    total = max(1, epochs * steps_per_epoch)
    name = name.lower()
    if name == "none":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    if name == "step":
        every = max(1, step_size * steps_per_epoch)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: gamma ** (s // every))
    if name == "onecycle" and total < 8:
        name = "cosine"  # too few steps for a warm-up phase (OneCycleLR divides by the phase length)
    if name == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    if name == "onecycle":
        max_lrs = [g["lr"] for g in optimizer.param_groups]
        cycle_momentum = isinstance(optimizer, torch.optim.SGD) and optimizer.defaults.get("momentum", 0) > 0
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lrs, total_steps=total + 1,
                                                   pct_start=0.25, cycle_momentum=cycle_momentum)
    raise UserError(f"Unknown schedule '{name}': choose none, step, cosine or onecycle.")
