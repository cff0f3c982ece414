"""Image classification as a task of the shared Trainer."""
from __future__ import annotations

from typing import Any

import torch

from app.data.base import ImageDataset
from app.data.batches import Augment, DeviceLoader, default_augment
from app.engine.distributed import unwrap
from app.engine.optim import build_optimizer, build_scheduler
from app.engine.task import Task
from app.models import build_model
from app.models.layers import class_probabilities, classification_loss, output_kind

WORST_K = 24


class ClassificationTask(Task):
    name = "classify"
    monitor = ("test_acc", "max")

    def __init__(self, dataset: ImageDataset, model_name: str, *, model_options: dict | None = None,
                 batch_size: int = 128, optimizer: str = "sgd", lr: float = 0.05, momentum: float = 0.9,
                 nesterov: bool = True, weight_decay: float = 5e-4, schedule: str = "onecycle",
                 step_size: int = 5, gamma: float = 0.1, epochs: int = 10, augment: bool | Augment = True,
                 label_smoothing: float = 0.0, eval_batch_size: int = 1000):
        self.dataset = dataset
        self.model_name = model_name
        self.model_options = dict(model_options or {})
        self.batch_size = int(batch_size)
        self.opt_args = dict(name=optimizer, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
        self.sched_args = dict(name=schedule, step_size=step_size, gamma=gamma)
        self.epochs = epochs
        if augment is True:
            augment = default_augment(dataset)
        self.augment = augment or None
        self.label_smoothing = float(label_smoothing)
        self.eval_batch_size = eval_batch_size
        self.model: torch.nn.Module | None = None

    # -- setup
    def setup(self, trainer) -> None:
        ds = self.dataset
        if len(ds.train) == 0 or len(ds.test) == 0:
            from app.core.errors import DataError
            raise DataError("The data set needs images in both the training and the test split.")
        net = self.build_net()
        self.net = net.to(trainer.device)
        self.model = trainer.wrap_model(self.net)
        mean, std = self.input_scaling()
        self.loader = DeviceLoader(ds.train, self.batch_size, trainer.device, mean=mean, std=std,
                                   shuffle=True, drop_last=len(ds.train) > self.batch_size, augment=self.augment,
                                   rank=trainer.dist.rank, world_size=trainer.dist.world_size)
        self.test_loader = DeviceLoader(ds.test, self.eval_batch_size, trainer.device, mean=mean, std=std,
                                        shuffle=False, drop_last=False)
        self._finish_setup()

    def build_net(self) -> torch.nn.Module:
        ds = self.dataset
        return build_model(self.model_name, ds.channels, ds.size, ds.num_classes, **self.model_options)

    def input_scaling(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) the images are normalised with: a pretrained model's own, else the data set's."""
        from app.models import input_normalization

        own = input_normalization(self.model_name, self.model_options, self.dataset.channels)
        return own if own is not None else (tuple(self.dataset.mean), tuple(self.dataset.std))

    def _finish_setup(self) -> None:
        self.output_kind = output_kind(self.net)
        self.optimizer = build_optimizer(self.net.parameters(), **self.opt_args)
        self.scheduler = build_scheduler(self.optimizer, epochs=self.epochs, steps_per_epoch=len(self.loader),
                                         **self.sched_args)
        self.num_classes = self.dataset.num_classes

    def modules(self):
        return [self.model] if self.model is not None else []

    def num_batches(self) -> int:
        return len(self.loader)

    def train_batches(self, epoch, generator):
        self.loader.set_generator(generator)
        return iter(self.loader)

    def train_step(self, batch, trainer) -> dict[str, torch.Tensor]:
        x, y = batch
        with trainer.autocast():
            out = self.model(x)
            loss = classification_loss(out, y, self.output_kind, label_smoothing=self.label_smoothing)
        trainer.backward_step(loss, self.optimizer)
        self.scheduler.step()
        acc = (self._predicted(out.detach()) == y).float().mean()
        return {"loss": loss.detach(), "acc": acc}

    def _predicted(self, out: torch.Tensor) -> torch.Tensor:
        if self.output_kind == "binary-prob":
            return (out.reshape(-1) > 0.5).long()
        return out.argmax(1)

    # -- evaluation
    @torch.no_grad()
    def predict_test(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(per-sample loss, predicted class, probability of the prediction) on the test split."""
        losses, preds, probs, targets = [], [], [], []
        for x, y in self.test_loader:
            out = self.net(x).float()
            losses.append(classification_loss(out, y, self.output_kind, reduction="none"))
            p = class_probabilities(out, self.output_kind)
            conf, pred = p.max(1)
            preds.append(pred)
            probs.append(conf)
            targets.append(y)
        return torch.cat(losses), torch.cat(preds), torch.cat(probs), torch.cat(targets)

    def evaluate(self, trainer) -> tuple[dict[str, float], dict[str, Any]]:
        losses, preds, probs, targets = self.predict_test()
        n = len(targets)
        loss_sum, right = torch.stack([losses.sum(), (preds == targets).sum().float()]).cpu().tolist()
        metrics = {"test_loss": loss_sum / n, "test_acc": right / n, "lr": float(self.optimizer.param_groups[0]["lr"])}
        return metrics, summarise_predictions(losses, preds, probs, targets, list(self.dataset.classes))

    # -- state
    def state_dict(self) -> dict[str, Any]:
        return {"model": unwrap(self.model).state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        unwrap(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])

    def export_state(self) -> dict[str, Any]:
        ds = self.dataset
        mean, std = self.input_scaling()
        return {"model": unwrap(self.model).state_dict(),
                "meta": {"task": self.name, "model": self.model_name, "model_options": self.model_options,
                         "input_shape": list(ds.input_shape), "classes": list(ds.classes),
                         "mean": list(mean), "std": list(std), "data": ds.name}}


def summarise_predictions(losses: torch.Tensor, preds: torch.Tensor, probs: torch.Tensor, targets: torch.Tensor,
                          classes: list[str], worst_k: int = WORST_K) -> dict[str, Any]:
    """Confusion matrix, per-class accuracy and the worst predictions, from per-image loss, predicted
    class, probability of the prediction and true class (tensors on any device).

    The worst predictions: the wrong ones first, the most confidently wrong first (highest probability
    of the wrong answer); then the right ones the model was least sure of."""
    k = len(classes)
    cm = torch.bincount(targets * k + preds, minlength=k * k).reshape(k, k).cpu()
    per_class = (cm.diag().float() / cm.sum(1).clamp(min=1).float()).tolist()
    wrong = preds != targets
    l = losses.float()
    score = torch.where(wrong, 2.0 + probs.float(), l / (1.0 + l))   # wrong > 2 > right
    idx = score.topk(min(worst_k, len(targets))).indices
    worst = [{"index": int(i), "true": int(t), "pred": int(p), "prob": float(c), "loss": float(l)}
             for i, t, p, c, l in zip(idx.cpu().tolist(), targets[idx].cpu().tolist(), preds[idx].cpu().tolist(),
                                      probs[idx].cpu().tolist(), losses[idx].cpu().tolist())]
    n = len(targets)
    accuracy = float((~wrong).sum()) / n if n else 0.0
    return {"confusion": cm.tolist(), "per_class_acc": per_class, "classes": list(classes), "worst": worst,
            "accuracy": accuracy}


def evaluation_details(probs, labels, classes: list[str], worst_k: int = WORST_K) -> dict[str, Any]:
    """``summarise_predictions`` from test-set class probabilities (N, classes) and true labels: the same
    fields as the classification task's ``EpochEnd.details``, for a model loaded from a checkpoint."""
    probs = torch.as_tensor(probs, dtype=torch.float32)
    labels = torch.as_tensor(labels, dtype=torch.int64)
    conf, pred = probs.max(1)
    loss = -torch.log(probs.gather(1, labels.view(-1, 1)).squeeze(1).clamp(min=1e-12))
    return summarise_predictions(loss, pred, conf, labels, classes, worst_k)
