"""Transfer learning on a frozen pretrained backbone, as a classification task of the one Trainer.

When the model's backbone is pretrained and frozen (it says so with ``feature_cache_key``), every
image's backbone features are computed once (``app.engine.features``: batched, progress events,
cancellable, cached on disk) and an epoch trains only the last layer on them: the Trainer's epochs,
events, checkpoints, best.pt and resume work unchanged, and an epoch takes a fraction of a second.
With several views (``VIEWS``) each is a training sample and the test score averages them.
best.pt holds the whole network (backbone + trained last layer), so "Try it", evaluate and export
use it like any other model. Any other model (or "adapt the last blocks") trains as usual.
"""
from __future__ import annotations

from typing import Any

import torch

from app.data.common import Progress
from app.engine.classification import ClassificationTask
from app.engine.events import Notice, Preparing
from app.engine.features import FeatureLoader, cached_features
from app.models.layers import class_probabilities, classification_loss

PREPARING = "Computing image features (once per data set)"
#: the views whose features train the last layer. The mirrored picture ("hflip") is supported but off:
#: on cifar10-folder-small it changed the linear layer's accuracy by -0.1 to +0.5 points for twice the
#: extraction time (bench/transfer.py, issue 17 note).
VIEWS = ("orig",)
MIN_STEPS = 8          # optimisation steps per epoch at least (small folders get smaller batches)


class TransferTask(ClassificationTask):
    name = "classify"

    def __init__(self, *args: Any, feature_batch_size: int | None = None, use_cache: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.feature_batch_size = feature_batch_size
        self.use_cache = use_cache
        self.cached = False
        self.features = None

    def setup(self, trainer) -> None:
        from app.models import build_model

        ds = self.dataset
        if len(ds.train) == 0 or len(ds.test) == 0:
            from app.core.errors import DataError
            raise DataError("The data set needs images in both the training and the test split.")
        net = build_model(self.model_name, ds.channels, ds.size, ds.num_classes, **self.model_options)
        key = getattr(net, "feature_cache_key", None)
        if key is None:                       # fine-tuning, or a model without a frozen pretrained backbone
            self._prebuilt = net
            return super().setup(trainer)
        self.cached = True
        self.net = net.to(trainer.device)
        mean, std = self.input_scaling()
        device = trainer.device
        batch = self.feature_batch_size or (128 if device.type == "cuda" else 16)
        steps = Progress(1, lambda done, total: trainer.emit(Preparing(PREPARING, done, total)))

        def progress(done: int, total: int) -> None:
            steps.total = total
            steps(done)

        fs = cached_features(ds, self.net.body, backbone_key=key, input_size=getattr(net, "input_size", 0),
                             mean=mean, std=std, views=VIEWS, device=device, batch_size=batch,
                             progress=progress, cancel=lambda: trainer.control.stop_requested,
                             use_cache=self.use_cache)
        for message in fs.messages:
            trainer.emit(Notice(message))
            trainer.log(message)
        if fs.from_cache:
            trainer.log(f"Image features read from the cache ({', '.join(fs.from_cache)})")
        if fs.seconds:
            trainer.log(f"Image features computed in {fs.seconds:.1f} s")
        self.features = fs
        if self.augment:
            trainer.log("Augmentation is not used: only the last layer trains, on features of the original "
                        "pictures computed once (adapt_last_blocks=N trains on shifted and flipped pictures)")
        d = self.net.feature_dim
        train = fs.train if not fs.cancelled else torch.empty(len(VIEWS), 0, d)
        test = fs.test if not fs.cancelled else torch.empty(len(VIEWS), 0, d)
        self.head = self.net.classifier_head
        self.model = trainer.wrap_model(self.head)
        # a small folder still gets several steps per epoch: the batch is at most an eighth of the samples
        samples = train.shape[0] * train.shape[1]
        batch_size = max(1, min(self.batch_size, max(8, -(-samples // MIN_STEPS))))
        if batch_size != self.batch_size:
            trainer.log(f"Batch size {batch_size} instead of {self.batch_size} for the last layer: with "
                        f"{samples} training samples an epoch still has {MIN_STEPS} steps or more")
        self.loader = FeatureLoader(train, ds.train.labels[: train.shape[1]], batch_size, device, drop_last=True)
        # the test score: the mean over the views' features (one view: the picture's own features)
        self.test_features = test.mean(0).to(device)
        self.test_labels = ds.test.labels[: test.shape[1]].to(device)
        self._finish_setup()

    def build_net(self) -> torch.nn.Module:
        net = getattr(self, "_prebuilt", None)
        self._prebuilt = None
        return net if net is not None else super().build_net()

    def _finish_setup(self) -> None:
        if not self.cached:
            return super()._finish_setup()
        from app.engine.optim import build_optimizer, build_scheduler
        from app.models.layers import output_kind

        self.output_kind = output_kind(self.net)
        self.optimizer = build_optimizer(self.head.parameters(), **self.opt_args)
        self.scheduler = build_scheduler(self.optimizer, epochs=self.epochs, steps_per_epoch=max(1, len(self.loader)),
                                         **self.sched_args)
        self.num_classes = self.dataset.num_classes

    @torch.no_grad()
    def predict_test(self):
        if not self.cached:
            return super().predict_test()
        losses, preds, probs = [], [], []
        for i in range(0, len(self.test_labels), self.eval_batch_size):
            x, y = self.test_features[i:i + self.eval_batch_size], self.test_labels[i:i + self.eval_batch_size]
            out = self.head(x).float()
            losses.append(classification_loss(out, y, self.output_kind, reduction="none"))
            conf, pred = class_probabilities(out, self.output_kind).max(1)
            preds.append(pred)
            probs.append(conf)
        if not preds:
            empty = torch.empty(0, device=self.test_labels.device)
            return empty, empty.long(), empty, self.test_labels
        return torch.cat(losses), torch.cat(preds), torch.cat(probs), self.test_labels

    # last.pt (to resume) holds only what trains: the last layer; the backbone is the shipped file.
    # best.pt (export_state) holds the whole network, so "Try it", evaluate and export use it as it is.
    def state_dict(self) -> dict[str, Any]:
        if not self.cached:
            return super().state_dict()
        return {"head": self.head.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not self.cached:
            return super().load_state_dict(state)
        self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])

    def export_state(self) -> dict[str, Any]:
        out = super().export_state()
        if self.cached:
            out["model"] = self.net.state_dict()
        return out
