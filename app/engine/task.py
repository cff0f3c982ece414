"""What a task is: the part of training that differs between classification, keypoints and GANs.

The ``Trainer`` owns epochs, device placement, mixed precision, timing, stop/pause, checkpoints
and events. A ``Task`` owns what one step means: its models, optimizers, loss and metrics.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable

import torch

from app.engine.events import Event


class Task(ABC):
    #: short name written to config.json ("classify", "keypoints", "gan", ...)
    name: str = "task"
    #: the epoch metric that decides best.pt, and whether higher or lower is better
    monitor: tuple[str, str] = ("test_loss", "min")
    #: the trainer stops the run when a loss becomes NaN or infinite (a task with its own check: False)
    stop_on_nonfinite: bool = True

    @abstractmethod
    def setup(self, trainer: "Trainer") -> None:  # noqa: F821
        """Build models, optimizers and schedulers on ``trainer.device``. Called once per fit,
        after seeding and before a checkpoint is restored."""
        ...

    @abstractmethod
    def num_batches(self) -> int:
        ...

    @abstractmethod
    def train_batches(self, epoch: int, generator: torch.Generator) -> Iterable[Any]:
        """The training batches of one epoch, in an order drawn from ``generator`` only."""
        ...

    def batch_size_of(self, batch: Any) -> int:
        return int(batch[0].shape[0])

    @abstractmethod
    def train_step(self, batch: Any, trainer: "Trainer") -> dict[str, torch.Tensor]:  # noqa: F821
        """One optimisation step. Returns detached 0-d tensors (no ``.item()``: the trainer
        synchronises them in groups)."""
        ...

    @abstractmethod
    def evaluate(self, trainer: "Trainer") -> tuple[dict[str, float], dict[str, Any]]:  # noqa: F821
        """Metrics on the test split: (scalars for metrics.csv, details for the GUI)."""
        return {}, {}

    def on_epoch_end(self, epoch: int, trainer: "Trainer") -> list[Event]:  # noqa: F821
        """Extra events after evaluation (sample grids ...)."""
        return []

    def train(self) -> None:
        for m in self.modules():
            m.train()

    def eval(self) -> None:
        for m in self.modules():
            m.eval()

    def modules(self) -> list[torch.nn.Module]:
        return []

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """The task's optimizers (found among its attributes), e.g. to apply a new learning rate on resume."""
        return [v for v in vars(self).values() if isinstance(v, torch.optim.Optimizer)]

    def schedulers(self) -> list:
        """The task's learning-rate schedules (``PlannedLR`` attributes), re-planned when a run grows."""
        from app.engine.optim import PlannedLR

        return [v for v in vars(self).values() if isinstance(v, PlannedLR)]

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizer and scheduler states."""
        ...

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        ...

    @abstractmethod
    def export_state(self) -> dict[str, Any]:
        """What best.pt holds: the weights and the metadata to rebuild the model."""
        ...
