"""From a TrainConfig to a running Trainer: used by the CLI, the GUI worker and the benchmarks."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable


from app.engine.config import TrainConfig
from app.engine.events import Event, Finished
from app.engine.runs import new_run_dir, prepare_run_dir
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
    from app.models.suggest import own_pictures_side

    return load_dataset(cfg.data, cfg.data_root, size=cfg.image_size, progress=progress, cancel=cancel,
                        seed=cfg.seed, target=(cfg.extra or {}).get("target"), fallback_size=own_pictures_side())


@register_task("classify")
def _classification(cfg: TrainConfig, dataset=None, progress=None) -> Task:
    from app.engine.classification import ClassificationTask
    from app.models import get_model_info

    ds = dataset if dataset is not None else load_data_for(cfg, progress)
    task_class = ClassificationTask
    if cfg.data.strip().lower() == "csv":
        from app.engine.tabular import TableTask as task_class
    elif "freeze_backbone" in get_model_info(cfg.model).options:
        from app.engine.transfer import TransferTask as task_class   # frozen pretrained: cached features
    return task_class(ds, cfg.model, model_options=cfg.model_options, batch_size=cfg.batch_size,
                              optimizer=cfg.optimizer, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                              weight_decay=cfg.weight_decay, schedule=cfg.schedule, step_size=cfg.step_size,
                              gamma=cfg.gamma, epochs=cfg.epochs, augment=cfg.augment,
                              label_smoothing=cfg.label_smoothing)


def _load_task_modules() -> None:
    # tasks that live in their own modules register on import
    from app.engine import basics, gan, keypoints  # noqa: F401


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
                 progress=None, write_run: bool = True, overwrite: bool = False) -> Trainer:
    """A Trainer for ``cfg``. ``out``: the run folder (a new one under the runs root when None); it must be
    new, empty or a run (``prepare_run_dir``). ``overwrite``: a new run may replace an earlier run there
    (else only continuing it with ``fit(resume_from=...)`` is allowed)."""
    if write_run and out:
        out = prepare_run_dir(out)          # before the data is loaded: a bad folder is refused at once
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
    try:
        return trainer_class(task, epochs=cfg.epochs, device=cfg.device, amp=cfg.amp, seed=cfg.seed, run_dir=run_dir,
                             config=cfg.to_dict(), callbacks=callbacks, control=control, overwrite=overwrite)
    except BaseException:
        if run_dir is not None and not out:      # the new folder made for this run: not left behind empty
            for leftover in ("run.log",):
                p = run_dir / leftover
                if p.is_file() and p.stat().st_size == 0:
                    p.unlink()
            try:
                run_dir.rmdir()
            except OSError:
                pass
        raise


#: what a continued run may change; anything else is part of what the run is (model, data, optimizer ...)
CONTINUE_CHANGES = ("batch_size", "lr", "device", "amp")
MAX_EPOCHS = 100000


def planned_epochs(run_dir: str | Path) -> tuple[int, int]:
    """(epochs done, epochs planned) of a past run. Planned = config.json's ``epochs``: how many epochs
    the run is meant to have in all, done ones included (at least the ones done; a damaged value counts
    as the epochs done). Done = the epochs in metrics.csv."""
    import json

    from app.engine.runs import read_metrics

    run_dir = Path(run_dir)
    done = 0
    for r in read_metrics(run_dir):
        try:
            done = max(done, int(float(r.get("epoch"))))
        except (TypeError, ValueError, OverflowError):
            continue
    try:
        planned = json.loads((run_dir / "config.json").read_text(encoding="utf-8")).get("epochs")
    except (OSError, ValueError, AttributeError):
        planned = None
    if not isinstance(planned, int) or isinstance(planned, bool) or planned < 1:
        planned = done
    return done, max(planned, done)


def _load_run_config(run_dir: Path) -> TrainConfig:
    """config.json of a run; an ``epochs`` value a continue cannot have written sensibly (below 1, e.g.
    from an older VisionDesk) is read as the epochs done, so such a run can still be continued."""
    import json

    path = run_dir / "config.json"
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a run folder (it does not exist), so it cannot be continued.")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{run_dir.name} has no config.json, so it is not a run that can be continued.") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return TrainConfig.load(path)        # the plain message for an unreadable file
    if isinstance(raw, dict) and isinstance(raw.get("epochs"), int) and not isinstance(raw["epochs"], bool) \
            and raw["epochs"] < 1:
        raw["epochs"] = max(1, planned_epochs(run_dir)[0])
    return TrainConfig.from_dict(raw, source=str(path))


def continue_config(run_dir: str | Path, more_epochs: int = 0, *, total_epochs: int | None = None,
                    **changes: Any) -> tuple[TrainConfig, Path]:
    """What to train to continue a past run, and the last.pt to start from.

    ``more_epochs``: epochs added to the run's plan (0: finish the plan as it was). The plan only grows:
    the new planned epochs are ``planned + more_epochs`` where planned is config.json's ``epochs`` (at
    least the epochs done): a run at "0 of 2" continued for 1 more epoch is "0 of 3", one at "2 of 2"
    becomes "2 of 3". ``total_epochs`` (the command line's ``--resume RUN --epochs N``) sets the total
    instead: at least the epochs done, and it may end a long plan early. ``changes``: settings that may differ from the run's (``batch_size``, ``lr``,
    ``device``, ``amp``; None = keep); a new batch size or learning rate re-plans the schedule (see
    ``app.engine.optim``). Raises UserError (one plain line) for anything else or a bad value.
    Nothing is written: config.json changes only once the continued run's first step has succeeded.
    """
    run_dir = Path(run_dir)
    if isinstance(more_epochs, bool) or not isinstance(more_epochs, int) or more_epochs < 0:
        raise UserError(f"The epochs to add must be a whole number of 0 or more (got {more_epochs}).")
    refused = sorted(k for k, v in changes.items() if k not in CONTINUE_CHANGES and v is not None)
    if refused:
        raise UserError(f"A continued run keeps its {', '.join(refused)}; only the epochs, batch size, learning "
                        f"rate, device and mixed precision can change.")
    cfg = _load_run_config(run_dir)
    last = run_dir / "last.pt"
    if not last.is_file():
        raise UserError(f"{run_dir.name} has no last.pt (it stopped before its first step was saved), so it cannot "
                        f"be continued; start it again instead.")
    done, planned = planned_epochs(run_dir)
    epochs = max(planned, cfg.epochs, done) + more_epochs
    if total_epochs is not None:
        if isinstance(total_epochs, bool) or not isinstance(total_epochs, int) or total_epochs < max(1, done):
            raise UserError(f"{run_dir.name} has {done} epoch(s) done, so its total number of epochs must be at least "
                            f"{max(1, done)} (got {total_epochs}).")
        epochs = total_epochs
    if epochs > MAX_EPOCHS:
        raise UserError(f"{run_dir.name} would have {epochs} epochs; a run has at most {MAX_EPOCHS}.")
    new = {k: v for k, v in changes.items() if v is not None}
    cfg = cfg.replace(epochs=epochs, **new)
    cfg.validate("the options")
    return cfg, last


def resume_config(run_dir: str | Path, epochs: int | None = None) -> tuple[TrainConfig, Path]:
    """The config and last.pt of a past run, to continue it to ``epochs`` epochs in all (None: its plan;
    at least the epochs done). Kept for older callers: the GUI's Continue should call
    ``continue_config(run_dir, more_epochs)``, which only adds to the plan."""
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise UserError(f"The number of epochs must be a whole number of at least 1 (got {epochs}).")
    return continue_config(run_dir, total_epochs=epochs)


def train(cfg: TrainConfig, **kwargs: Any) -> Finished:
    resume = kwargs.pop("resume_from", None)
    return make_trainer(cfg, **kwargs).fit(resume_from=resume)
