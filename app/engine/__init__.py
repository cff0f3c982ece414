"""The one training engine (no Qt): Trainer, tasks, events, checkpoints, runs, devices."""
from app.engine.config import TrainConfig
from app.engine.events import (BatchEnd, Checkpointed, EpochEnd, EpochStart, EvalStart, Event, Failed, Finished,
                               Paused, RunStarted, Samples)
from app.engine.task import Task
from app.engine.trainer import Control, Trainer

__all__ = ["TrainConfig", "Trainer", "Control", "Task", "Event", "RunStarted", "EpochStart", "BatchEnd", "EvalStart",
           "EpochEnd", "Samples", "Checkpointed", "Paused", "Finished", "Failed"]
