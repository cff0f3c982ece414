"""From a TrainConfig to a running Trainer: used by the CLI, the GUI worker and the benchmarks."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable


from app.engine.config import TrainConfig
from app.engine.events import Event, Finished
from app.engine.runs import new_run_dir
from app.engine.task import Task
from app.engine.trainer import Control, Trainer
from app.core.errors import ModelError, UserError

# task name -> factory(config, dataset_or_None, progress) -> Task ; other tasks register themselves
TASKS: dict[str, Callable[..., Task]] = {}


def register_task(name: str):
    def deco(factory):
        TASKS[name] = factory
        return factory
    return deco


def load_data_for(cfg: TrainConfig, progress=None, cancel=None):
    from app.data import load_dataset

    return load_dataset(cfg.data, cfg.data_root, size=cfg.image_size, progress=progress, cancel=cancel,
                        seed=cfg.seed, target=(cfg.extra or {}).get("target"))


@register_task("classify")
def _classification(cfg: TrainConfig, dataset=None, progress=None) -> Task:
    from app.engine.classification import ClassificationTask

    ds = dataset if dataset is not None else load_data_for(cfg, progress)
    task_class = ClassificationTask
    if cfg.data.strip().lower() == "csv":
        from app.engine.tabular import TableTask as task_class
    return task_class(ds, cfg.model, model_options=cfg.model_options, batch_size=cfg.batch_size,
                              optimizer=cfg.optimizer, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                              weight_decay=cfg.weight_decay, schedule=cfg.schedule, step_size=cfg.step_size,
                              gamma=cfg.gamma, epochs=cfg.epochs, augment=cfg.augment,
                              label_smoothing=cfg.label_smoothing)


def _load_task_modules() -> None:
    # tasks that live in their own modules register on import
    import importlib

    for mod in ("app.engine.keypoints", "app.engine.gan", "app.engine.basics"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def build_task(cfg: TrainConfig, dataset=None, progress=None) -> Task:
    _load_task_modules()
    if cfg.task not in TASKS:
        raise UserError(f"Unknown task '{cfg.task}' (known: {', '.join(sorted(TASKS))}).")
    _check_model_fits_task(cfg)
    return TASKS[cfg.task](cfg, dataset, progress)


_MODEL_TASKS = {"classify": "classification", "gan": "GAN", "keypoints": "keypoint"}
_TASK_USES = {"classify": "classifying images", "gan": "a GAN", "keypoints": "facial keypoints"}


def _check_model_fits_task(cfg: TrainConfig) -> None:
    """A model made for another task (e.g. a GAN in a classification run, from a hand-edited
    config.json) is refused before any data is loaded, with the models that fit."""
    if cfg.task not in _MODEL_TASKS:
        return
    from app.models import get_model_info, list_models

    info = get_model_info(cfg.model)      # ModelError naming the known models when unknown
    if info.task != cfg.task:
        fitting = ", ".join(m.name for m in list_models(cfg.task)) or "none"
        raise ModelError(f"'{cfg.model}' is a {_MODEL_TASKS.get(info.task, info.task)} model, so it cannot be "
                         f"used for {_TASK_USES[cfg.task]}; choose one of: {fitting}.")


def make_trainer(cfg: TrainConfig, *, out: str | Path | None = None, dataset=None,
                 callbacks: Iterable[Callable[[Event], None]] = (), control: Control | None = None,
                 progress=None, write_run: bool = True) -> Trainer:
    """A Trainer for ``cfg``. ``out``: the run folder (a new one under the runs root when None)."""
    task = build_task(cfg, dataset, progress)
    run_dir = None
    if write_run:
        run_dir = Path(out) if out else new_run_dir(cfg.data, cfg.model, task=cfg.task)
    callbacks = list(callbacks)
    if run_dir is not None and cfg.task == "classify":
        from app.engine.report import RunReport

        callbacks.append(RunReport(run_dir))
    trainer_class = Trainer
    if cfg.task == "classify" and cfg.data.strip().lower() == "csv":
        from app.engine.tabular import TableTrainer as trainer_class
    return trainer_class(task, epochs=cfg.epochs, device=cfg.device, amp=cfg.amp, seed=cfg.seed, run_dir=run_dir,
                         config=cfg.to_dict(), callbacks=callbacks, control=control)


def resume_config(run_dir: str | Path, epochs: int | None = None) -> tuple[TrainConfig, Path]:
    """The config and last.pt of a past run, to continue it (optionally with more epochs)."""
    run_dir = Path(run_dir)
    cfg = TrainConfig.load(run_dir / "config.json")
    last = run_dir / "last.pt"
    if not last.is_file():
        raise UserError(f"{run_dir.name} has no last.pt, so it cannot be continued.")
    if epochs is not None:
        cfg = cfg.replace(epochs=epochs)
    return cfg, last


def train(cfg: TrainConfig, **kwargs: Any) -> Finished:
    resume = kwargs.pop("resume_from", None)
    return make_trainer(cfg, **kwargs).fit(resume_from=resume)
