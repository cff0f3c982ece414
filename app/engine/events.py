"""Events the trainer sends to callbacks.

Plain dataclasses, no Qt. The CLI subscribes a progress bar and a metrics writer; the GUI
subscribes a bridge that re-emits them as Qt signals. Values are plain Python numbers (already
synchronised from the device), so a callback never touches a tensor of the training loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    pass


@dataclass
class RunStarted(Event):
    run_dir: str | None
    config: dict
    device: str                # "CPU, 2 threads" / "CUDA: NVIDIA H100 80GB HBM3"
    start_epoch: int           # 0 for a fresh run, e.g. 3 when resuming after epoch 3
    epochs: int
    batches_per_epoch: int


@dataclass
class EpochStart(Event):
    epoch: int                 # 1-based
    epochs: int


@dataclass
class BatchEnd(Event):
    epoch: int                 # 1-based
    batch: int                 # 1-based within the epoch
    batches: int               # batches in this epoch
    step: int                  # global step, 1-based
    metrics: dict[str, float]  # e.g. {"loss": 0.41, "acc": 0.88} or {"d_loss": .., "g_loss": ..}
    images_per_sec: float
    eta_seconds: float         # for the whole run


@dataclass
class EvalStart(Event):
    epoch: int


@dataclass
class EpochEnd(Event):
    epoch: int
    epochs: int
    metrics: dict[str, float]               # the metrics.csv row (scalars)
    details: dict[str, Any] = field(default_factory=dict)  # task extras: confusion matrix, ...
    is_best: bool = False


@dataclass
class Samples(Event):
    """Images a task produced at the end of an epoch (a GAN grid, keypoint predictions)."""
    epoch: int
    kind: str                  # "gan-grid", "keypoints", ...
    image: Any                 # uint8 numpy array (H, W) or (H, W, 3)
    path: str | None = None    # where it was saved in the run folder


@dataclass
class Checkpointed(Event):
    epoch: int
    path: str


@dataclass
class Paused(Event):
    paused: bool


@dataclass
class Preparing(Event):
    """Work before the first epoch (e.g. computing a frozen backbone's features): ``done`` of ``total``."""
    what: str                  # for the person: "Computing image features (first run on this data)"
    done: int
    total: int


@dataclass
class Notice(Event):
    """Something the person should know that does not stop the run (e.g. damaged rows skipped)."""
    message: str


@dataclass
class Finished(Event):
    reason: str                # "completed" | "stopped"
    epoch: int                 # last completed epoch
    metrics: dict[str, float]  # last epoch's metrics
    best: dict[str, float]     # best epoch's metrics
    run_dir: str | None
    seconds: float


@dataclass
class Failed(Event):
    message: str               # for the person: what happened and what to do
    details: str               # traceback text, for "copy details"
    epoch: int
    run_dir: str | None
    user_error: bool = False   # True when it was bad input rather than a bug
    kind: str = ""             # what went wrong, for code that reacts to it: "diverged", "out-of-memory",
                               # "non-finite-loss", "interrupted", "" (anything else); never match on the message text
