"""Classifying the rows of a table (a CSV file) as a task of the shared Trainer, and trying one row.

``TableTask`` is the classification task with a table instead of images: the rows are float features
already standardised / one-hot encoded by ``app.data.table``; a row is handed to the model as a
1 x 1 x F "image", so every model of the registry that flattens its input (``logistic``, ``mlp``,
``softmax``) trains on it with the same loss, metrics, confusion matrix, checkpoints and run folder.

``load_table_model(run_or_checkpoint)`` and ``predict_row(model, {column: value})`` give the class
probabilities of one typed row (the "Try it" form).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from app.core.errors import CheckpointError, DataError, ModelError
from app.data.table import TableDataset, TableEncoder, TableLoader
from app.engine.classification import ClassificationTask
from app.engine.distributed import unwrap
from app.engine.threads import one_intra_op_thread
from app.engine.trainer import Trainer
from app.models import build_model
from app.models.layers import class_probabilities, output_kind


class TableTrainer(Trainer):
    """The shared Trainer; on the CPU it runs in one intra-op thread. A table's steps are tiny
    (a few hundred numbers per row): OpenMP's hand-offs between threads cost far more than the
    arithmetic, and on a busy two-core machine an epoch of Titanic took 5.4 s on two threads against
    0.07 s on one."""

    def fit(self, resume_from=None):
        if self.device.type != "cpu":
            return super().fit(resume_from=resume_from)
        with one_intra_op_thread():
            return super().fit(resume_from=resume_from)


# models that read a row as a flat vector (the others are made for pictures)
TABLE_MODELS = ("logistic", "mlp", "softmax")


class TableTask(ClassificationTask):
    """Classification of table rows (no augmentation; the features are already normalised)."""

    def __init__(self, dataset: TableDataset, model_name: str, **kwargs: Any):
        if not isinstance(dataset, TableDataset):
            raise DataError("This run expects a table (a CSV file) as its data.")
        if model_name not in TABLE_MODELS:
            raise ModelError(f"{model_name} is made for images; for a table choose one of: {', '.join(TABLE_MODELS)}.")
        kwargs["augment"] = False
        super().__init__(dataset, model_name, **kwargs)

    def setup(self, trainer) -> None:
        ds: TableDataset = self.dataset
        if len(ds.train) == 0 or len(ds.test) == 0:
            raise DataError("The table needs rows in both the training and the test split.")
        net = build_model(self.model_name, 1, (1, ds.num_features), ds.num_classes, **self.model_options)
        self.net = net.to(trainer.device)
        self.model = trainer.wrap_model(self.net)
        self.loader = TableLoader(ds.train, self.batch_size, trainer.device, shuffle=True,
                                  drop_last=len(ds.train) > self.batch_size)
        self.test_loader = TableLoader(ds.test, self.eval_batch_size, trainer.device, shuffle=False)
        self._finish_setup()

    def export_state(self) -> dict[str, Any]:
        state = super().export_state()
        ds: TableDataset = self.dataset
        state["meta"].update({"data": "csv", "table": ds.encoder.to_dict(), "source": ds.source})
        return state


@dataclass
class TableModel:
    """A trained table classifier, ready to try on typed rows."""
    model: torch.nn.Module
    encoder: TableEncoder
    meta: dict

    @property
    def classes(self) -> list[str]:
        return list(self.encoder.classes)

    @property
    def inputs(self) -> list[str]:
        """The column names the form asks for (in file order)."""
        return self.encoder.inputs


def load_table_model(path: str | Path) -> TableModel:
    """The model of a table run folder (its best.pt) or of a checkpoint file, on the CPU."""
    from app.engine.predict import load_classifier

    clf = load_classifier(path)
    table = clf.meta.get("table")
    if not isinstance(table, dict):
        raise CheckpointError(f"{Path(path).name} is not a model trained on a table (CSV file).")
    return TableModel(clf.model, TableEncoder.from_dict(table), clf.meta)


@torch.no_grad()
def predict_row(model: TableModel, row: dict[str, Any]) -> list[tuple[str, float]]:
    """Class probabilities for one row ``{column: value}``, most likely first. Blank or missing cells
    are filled as in training; text in a number column raises ``DataError``."""
    x = model.encoder.encode_row(row)
    net = unwrap(model.model)
    p = class_probabilities(net(x.view(1, 1, 1, -1)), output_kind(net))[0]
    order = p.argsort(descending=True).tolist()
    return [(model.classes[i], float(p[i])) for i in order]


@torch.no_grad()
def evaluate_table(model: TableModel, dataset: TableDataset) -> dict[str, Any]:
    """Accuracy, per-class accuracy and confusion matrix on the table's test split (as
    ``app.engine.predict.evaluate_classifier`` gives for images)."""
    if list(dataset.classes) != model.classes or dataset.num_features != len(model.encoder.feature_names):
        raise DataError("This table does not have the columns and classes the model was trained on.")
    net = unwrap(model.model)
    x, labels = dataset.test.features, dataset.test.labels
    pred = class_probabilities(net(x.view(len(x), 1, 1, -1)), output_kind(net)).argmax(1)
    k = len(model.classes)
    cm = torch.bincount(labels * k + pred, minlength=k * k).reshape(k, k)
    per_class = (cm.diag().float() / cm.sum(1).clamp(min=1).float()).tolist()
    return {"accuracy": float((pred == labels).float().mean()), "per_class_acc": per_class,
            "confusion": cm.tolist(), "classes": model.classes, "n": int(len(labels))}


def is_table_run(run_dir: str | Path | None) -> bool:
    """True when the run folder ``run_dir`` trained on a table (its config.json says ``data: csv``)."""
    import json

    if run_dir is None:
        return False
    try:
        cfg = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(cfg, dict) and str(cfg.get("data", "")).strip().lower() == "csv"


@torch.no_grad()
def test_probabilities(model: torch.nn.Module, dataset: TableDataset) -> torch.Tensor:
    """(N, K) class probabilities of ``model`` (e.g. a ``Classifier``'s) for the table's test rows, on the CPU;
    what ``Classifier.probabilities`` gives for images (which it would divide by 255)."""
    net = unwrap(model)
    device = next(net.parameters()).device
    x = dataset.test.features.to(device)
    return class_probabilities(net(x.view(len(x), 1, 1, -1)), output_kind(net)).cpu()
