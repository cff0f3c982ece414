"""Optimizers and learning-rate schedules (all schedules step once per batch).

A schedule is a ``PlannedLR``: the learning rate as a function of the step, described by one
*segment* (plain numbers, saved in ``last.pt``), so a run can be continued exactly or re-planned.

What a schedule does when a run is continued (``Trainer.fit(resume_from=...)``):

- same planned epochs, batch size and learning rate: the saved segment is restored and training goes
  on exactly as if it had never stopped (a stop in the middle of an epoch included);
- more epochs, another batch size or another learning rate: the schedule is re-planned over the steps
  that remain (``PlannedLR.continue_for``):

  * ``none``: the (new) learning rate, constant;
  * ``step``: keeps multiplying by ``gamma`` every ``step_size`` epochs of the whole run, from the
    current learning rate (or from a new learning rate when one is given);
  * ``cosine`` and ``onecycle`` of a run that had reached its planned end (its learning rate annealed to
    about 0), or given a new learning rate: a fresh schedule over the added epochs (a warm restart:
    cosine from the learning rate down to 0; one-cycle warming up again from lr/25 to the learning
    rate over the first quarter, then annealing);
  * ``cosine`` and ``onecycle`` of a run stopped before its planned end: they go on from the current
    learning rate, annealing over the new remaining steps (a one-cycle still warming up finishes its
    warm-up over the first quarter of them first).
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import torch

from app.core.errors import UserError

ONECYCLE_WARMUP = 0.25        # share of the steps spent warming up
ONECYCLE_DIV = 25.0           # one-cycle starts at lr / 25 ...
ONECYCLE_FINAL_DIV = 1e4      # ... and ends at lr / 25 / 1e4 (torch's OneCycleLR defaults)
ONECYCLE_MOMENTUM = (0.85, 0.95)   # SGD momentum cycles inversely to the learning rate


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


def _cos_between(a: float, b: float, frac: float) -> float:
    """From ``a`` (frac 0) to ``b`` (frac 1) along half a cosine."""
    return b + (a - b) * (0.5 * (1 + math.cos(math.pi * frac)))


class PlannedLR:
    """A learning-rate schedule stepped once per batch; its state is one segment of plain numbers.

    Segment fields: ``kind`` (none | step | cosine | onecycle), ``start`` (the step it begins at),
    ``length`` (steps it covers, cosine / onecycle), ``lr0`` (learning rate at its start), ``peak``,
    ``lr_end``, ``warm`` (warm-up steps), ``every`` / ``offset`` / ``gamma`` (step decay every ``every``
    steps counted from ``offset`` steps before the segment) and ``momentum`` ([low, high] cycled for SGD,
    or None). All parameter groups get the same learning rate.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, kind: str, *, lr: float, total_steps: int,
                 steps_per_epoch: int, step_size: int = 5, gamma: float = 0.1):
        self.optimizer = optimizer
        self.kind = kind
        self.lr = float(lr)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        sgd_momentum = isinstance(optimizer, torch.optim.SGD) and optimizer.defaults.get("momentum", 0) > 0
        self.cycle_momentum = sgd_momentum
        self.last_step = 0
        self._legacy_lr: float | None = None
        self.segment = self._plan(start=0, steps=total_steps, lr0=None, restart=True, offset=0)
        self._apply()

    # -- the plan
    def _plan(self, *, start: int, steps: int, lr0: float | None, restart: bool, offset: int,
              warming: bool = True) -> dict[str, Any]:
        kind, lr, steps = self.kind, self.lr, max(1, int(steps))
        seg: dict[str, Any] = {"kind": kind, "start": int(start), "length": steps, "lr0": lr, "peak": lr,
                               "lr_end": lr, "warm": 0, "every": 0, "offset": 0, "gamma": 1.0, "momentum": None}
        if kind == "none":
            return seg
        if kind == "step":
            base = lr if restart or lr0 is None else lr0
            seg.update(lr0=base, peak=base, lr_end=base, every=max(1, self.step_size * self.steps_per_epoch),
                       offset=int(offset), gamma=self.gamma)
            return seg
        if kind == "cosine":
            base = lr if restart or lr0 is None else lr0
            seg.update(lr0=base, peak=base, lr_end=0.0)
            return seg
        if kind == "onecycle":
            end = lr / ONECYCLE_DIV / ONECYCLE_FINAL_DIV
            if restart or lr0 is None:
                seg.update(lr0=lr / ONECYCLE_DIV, peak=lr, lr_end=end, warm=int(round(ONECYCLE_WARMUP * steps)))
            elif warming:
                seg.update(lr0=lr0, peak=lr, lr_end=end, warm=int(round(ONECYCLE_WARMUP * steps)))
            else:
                seg.update(lr0=lr0, peak=lr0, lr_end=min(end, lr0), warm=0)
            if self.cycle_momentum:
                seg["momentum"] = list(ONECYCLE_MOMENTUM)
            return seg
        raise UserError(f"Unknown schedule '{kind}': choose none, step, cosine or onecycle.")

    def _values(self, step: int) -> tuple[float, float | None]:
        s = self.segment
        t = max(0, step - int(s["start"]))
        kind = s["kind"]
        if kind == "none":
            return float(s["peak"]), None
        if kind == "step":
            every, off = int(s["every"]), int(s["offset"])
            return float(s["peak"]) * float(s["gamma"]) ** ((t + off) // every - off // every), None
        length, warm = int(s["length"]), int(s["warm"])
        mom = s.get("momentum")
        if t < warm:
            frac = t / warm
            return (_cos_between(float(s["lr0"]), float(s["peak"]), frac),
                    _cos_between(mom[1], mom[0], frac) if mom else None)
        frac = min(t - warm, length - warm) / (length - warm) if length > warm else 1.0
        return (_cos_between(float(s["peak"]), float(s["lr_end"]), frac),
                _cos_between(mom[0], mom[1], frac) if mom else None)

    def _apply(self) -> None:
        lr, mom = self._values(self.last_step)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
            if mom is not None and "momentum" in g:
                g["momentum"] = mom

    # -- the LRScheduler interface the tasks use
    def step(self) -> None:
        self.last_step += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def current_lr(self) -> float:
        if self._legacy_lr is not None:
            return self._legacy_lr
        return self._values(self.last_step)[0]

    def in_warmup(self) -> bool:
        s = self.segment
        return s["kind"] == "onecycle" and self.last_step - int(s["start"]) < int(s["warm"])

    def state_dict(self) -> dict[str, Any]:
        return {"planned_lr": 1, "step": int(self.last_step), "segment": dict(self.segment)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "planned_lr" in state:
            seg = dict(state["segment"])
            missing = {"kind", "start", "length", "lr0", "peak", "lr_end", "warm", "every", "offset",
                       "gamma"} - set(seg)
            if missing:
                raise KeyError(f"the saved schedule lacks {', '.join(sorted(missing))}")
            self.segment = seg
            self.kind = str(seg["kind"])
            self.last_step = int(state["step"])
            self._legacy_lr = None
        else:
            # a torch LambdaLR / OneCycleLR state from before PlannedLR: keep the position, plan as now
            self.last_step = int(state["last_epoch"])
            last = state.get("_last_lr")
            self._legacy_lr = float(last[0]) if last else None
        self._apply()

    def continue_for(self, steps_left: int, *, lr: float, restart: bool, epoch_steps: int,
                     steps_per_epoch: int) -> None:
        """Re-plan the steps that remain (see the module notes). ``restart``: the old plan had reached its
        end or the learning rate changed; ``epoch_steps``: where the run stands, in steps of the new
        batch size from the start of the run (for the step schedule's epoch count)."""
        current = self.current_lr()
        warming = self.in_warmup() if self._legacy_lr is None else False
        self.lr = float(lr)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.segment = self._plan(start=self.last_step, steps=steps_left, lr0=current, restart=restart,
                                  offset=epoch_steps, warming=warming)
        self._legacy_lr = None
        self._apply()


def build_scheduler(optimizer: torch.optim.Optimizer, name: str, *, epochs: int, steps_per_epoch: int,
                    step_size: int = 5, gamma: float = 0.1) -> PlannedLR:
    """A scheduler to step after every batch. ``step``: multiply by gamma every step_size epochs;
    ``cosine``: cosine decay to 0 over the run; ``onecycle``: warm up from lr/25 for 25% of the steps,
    then anneal to lr/25/1e4 (SGD momentum cycles between 0.95 and 0.85). Any number of steps works
    (a one-step run has no warm-up). How a continued run re-plans it: see the module notes."""
    name = name.lower()
    if name not in ("none", "step", "cosine", "onecycle"):
        raise UserError(f"Unknown schedule '{name}': choose none, step, cosine or onecycle.")
    lr = optimizer.param_groups[0]["lr"]
    return PlannedLR(optimizer, name, lr=lr, total_steps=max(1, epochs * steps_per_epoch),
                     steps_per_epoch=steps_per_epoch, step_size=step_size, gamma=gamma)
