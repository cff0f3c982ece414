"""Facial keypoint regression: the task on the shared Trainer, its metrics, and the predictor.

Predictor API (used by app/vision and the Keypoints tab)::

    from app.engine.keypoints import load_keypoint_model, face_box_to_crop
    kp = load_keypoint_model("kp-resnet18")          # shipped weights (sha256-checked), a run folder or a .pt
    kp.input_size, kp.num_points, kp.meta
    pts = kp.predict(crops)                           # crops uint8 (N, 1, S, S) tensor or numpy (N, S, S)
                                                      # -> numpy float32 (N, P, 2), (x, y) in crop pixels
    x0, y0, side = face_box_to_crop((x, y, w, h), kp.meta)   # where to cut the square crop around a
                                                      # Haar face box so it looks like the training crops

Coordinates: ``x`` is the column and ``y`` the row, pixel centres at integers, origin at the centre of
the crop's top-left pixel. A crop of side ``side`` at ``(x0, y0)`` (edge coordinates) of a frame maps
back with ``X = x0 + (x + 0.5) * side / S - 0.5``.

Metrics (test split, every epoch): ``test_rmse`` is the root mean squared error of the coordinates in
pixels of the model's input crop (``S`` x ``S``), over the points that are present; ``test_nme`` is the
mean point-to-point error divided by the distance of the true outer eye corners (points 36 and 45 of
the 68-point layout), averaged over faces (a fraction: 0.045 = 4.5%).
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from app.data.images import draw_points, save_png
from app.data.keypoints import (DEFAULT_FACE_CROP, KeypointAugment, KeypointDataset, face_box_to_crop, from_unit,
                                layout_for, to_unit)
from app.engine.build import register_task
from app.engine.checkpoint import load_checkpoint, rebuild_from_checkpoint, save_checkpoint
from app.engine.events import Samples
from app.engine.distributed import unwrap
from app.engine.optim import build_optimizer, build_scheduler
from app.engine.task import Task
from app.core.errors import CheckpointError, DataError, UserError

SAMPLE_COUNT = 16


# ============================================================================================ metrics
def keypoint_metrics(pred: torch.Tensor, true: torch.Tensor, eye_corners: Optional[Sequence[int]] = None
                     ) -> dict[str, float]:
    """RMSE (pixels) and NME of ``pred`` against ``true`` (both (N, P, 2) pixels, NaN = missing in true).

    ``rmse``: sqrt of the mean squared coordinate error over present coordinates. ``nme``: per face,
    the mean distance over present points divided by the true outer-eye-corner distance, averaged
    over the faces that have both corners; without known eye corners the keypoint bounding box
    diagonal is the divisor (``nme_norm`` says which).
    """
    per_face_err, iod, present, sq = _errors(pred, true, eye_corners)
    n_coord = present.sum() * 2
    rmse = math.sqrt(float(sq.sum() / n_coord.clamp(min=1)))
    ok = (iod > 0) & ~torch.isnan(iod) & ~torch.isnan(per_face_err)
    nme = float((per_face_err[ok] / iod[ok]).mean()) if bool(ok.any()) else float("nan")
    return {"rmse": rmse, "nme": nme, "faces": int(ok.sum()),
            "nme_norm": "outer eye corners" if eye_corners is not None else "box diagonal"}


def _errors(pred, true, eye_corners):
    pred, true = pred.float(), true.float()
    present = ~torch.isnan(true).any(-1)                               # (N, P)
    diff = torch.where(present.unsqueeze(-1), pred - true, torch.zeros_like(pred))
    dist = diff.norm(dim=-1)                                           # (N, P)
    per_face_err = dist.sum(1) / present.sum(1).clamp(min=1)
    per_face_err = torch.where(present.any(1), per_face_err, torch.full_like(per_face_err, float("nan")))
    if eye_corners is not None:
        a, b = eye_corners
        iod = (true[:, a] - true[:, b]).norm(dim=-1)                   # NaN when a corner is missing
    else:
        lo = torch.where(present.unsqueeze(-1), true, torch.full_like(true, float("inf"))).amin(1)
        hi = torch.where(present.unsqueeze(-1), true, torch.full_like(true, float("-inf"))).amax(1)
        iod = (hi - lo).norm(dim=-1)
    return per_face_err, iod, present, (diff ** 2).sum(-1)


def masked_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "smoothl1", beta: float = 0.02) -> torch.Tensor:
    """Mean loss over present coordinates (NaN in ``target`` = missing; masked out, never NaN)."""
    mask = ~torch.isnan(target)
    tgt = torch.where(mask, target, pred.detach())
    if kind == "mse":
        per = (pred - tgt) ** 2
    elif kind in ("smoothl1", "smooth_l1", "huber"):
        per = F.smooth_l1_loss(pred, tgt, reduction="none", beta=beta)
    elif kind == "l1":
        per = (pred - tgt).abs()
    else:
        raise UserError(f"Unknown keypoint loss '{kind}': choose smoothl1, mse or l1.")
    m = mask.to(per.dtype)
    return (per * m).sum() / m.sum().clamp(min=1)


# ============================================================================================ sample grid
def sample_grid(images: torch.Tensor, pred: np.ndarray, true: Optional[np.ndarray], cols: int = 4,
                tile: int = 128) -> np.ndarray:
    """A grid of faces (uint8 (N, 1, S, S)) with the truth in green and the prediction in red."""
    n = len(images)
    s = int(images.shape[-1])
    scale = max(1, tile // s) if s < tile else 1
    side = s * scale
    rows = max(1, math.ceil(n / cols))
    grid = np.zeros((rows * (side + 2) + 2, cols * (side + 2) + 2, 3), np.uint8)
    imgs = images[:, 0].cpu().numpy()
    for i in range(n):
        r, c = divmod(i, cols)
        t = np.repeat(np.repeat(imgs[i], scale, 0), scale, 1)
        t = np.stack([t, t, t], -1).copy()
        to_tile = lambda p: (p + 0.5) * scale - 0.5  # noqa: E731
        if true is not None:
            draw_points(t, to_tile(true[i]), (40, 220, 40), radius=max(1.0, scale / 2))
        draw_points(t, to_tile(pred[i]), (240, 40, 40), radius=max(1.0, scale / 2))
        y0, x0 = 2 + r * (side + 2), 2 + c * (side + 2)
        grid[y0:y0 + side, x0:x0 + side] = t
    return grid


# ============================================================================================ the task
class KeypointTask(Task):
    name = "keypoints"
    monitor = ("test_nme", "min")

    def __init__(self, dataset: KeypointDataset, model_name: str, *, model_options: dict | None = None,
                 batch_size: int = 64, optimizer: str = "adamw", lr: float = 2e-3, momentum: float = 0.9,
                 nesterov: bool = True, weight_decay: float = 1e-4, schedule: str = "onecycle",
                 step_size: int = 5, gamma: float = 0.1, epochs: int = 10, augment: bool | KeypointAugment = True,
                 loss: str = "smoothl1", beta: float = 0.02, eval_batch_size: int = 256,
                 data_label: str | None = None, channels_last: bool = False):
        self.dataset = dataset
        self.model_name = model_name
        self.model_options = dict(model_options or {})
        self.batch_size = int(batch_size)
        self.opt_args = dict(name=optimizer, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
        self.sched_args = dict(name=schedule, step_size=step_size, gamma=gamma)
        self.epochs = int(epochs)
        self.augment = KeypointAugment() if augment is True else (augment or None)
        if self.augment is not None and dataset.flip_permutation == list(range(dataset.num_points)):
            self.augment = dataclasses.replace(self.augment, flip=0.0)  # no mirror pairs known
        masked_loss(torch.zeros(1), torch.zeros(1), loss)     # unknown loss names fail before training
        self.loss_kind, self.beta = loss, float(beta)
        self.eval_batch_size = int(eval_batch_size)
        # NHWC activations: oneDNN's CPU convolutions run kp-cnn4 about 1.3x faster in this layout
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.data_label = data_label or dataset.name
        self.mean, self.std = dataset.mean, dataset.std      # the model's own scaling once set up
        self.model: torch.nn.Module | None = None

    # -- setup
    def setup(self, trainer) -> None:
        from app.models import build_model, input_normalization

        ds = self.dataset
        if len(ds.train) == 0 or len(ds.test) == 0:
            raise DataError("The keypoint data set needs faces in both the training and the test split.")
        self.size = ds.size
        # a pretrained model keeps the pixel scaling its weights were made for; others use the data's
        norm = input_normalization(self.model_name, self.model_options, 1)
        self.mean, self.std = (norm[0][0], norm[1][0]) if norm else (ds.mean, ds.std)
        self.net = build_model(self.model_name, 1, (self.size, self.size), 2 * ds.num_points, **self.model_options)
        self.net = self.net.to(memory_format=self.memory_format)
        self.imagenet_init = bool(getattr(self.net, "imagenet_init", False))
        self.model = trainer.wrap_model(self.net)
        self._dist = trainer.dist
        dev = trainer.device
        self.device = dev
        self.train_images = ds.train.images.to(dev)
        self.train_points = to_unit(ds.train.points, self.size).to(dev)
        self.test_images = ds.test.images.to(dev)
        self.test_points = ds.test.points.to(dev)
        self.perm = list(ds.flip_permutation)
        self.n_batches = max(1, len(ds.train) // self.batch_size) if len(ds.train) >= self.batch_size else 1
        self.optimizer = build_optimizer(self.net.parameters(), **self.opt_args)
        self.scheduler = build_scheduler(self.optimizer, epochs=self.epochs, steps_per_epoch=self.n_batches,
                                         **self.sched_args)
        self._last_pred: Optional[torch.Tensor] = None

    def modules(self):
        return [self.model] if self.model is not None else []

    def num_batches(self) -> int:
        return self.n_batches

    def normalise(self, x01: torch.Tensor) -> torch.Tensor:
        return (x01 - self.mean) / self.std

    def train_batches(self, epoch: int, generator: torch.Generator):
        n = len(self.dataset.train)
        order = torch.randperm(n, generator=generator)
        bs = min(self.batch_size, n)
        rank, world = self._dist.rank, self._dist.world_size
        for b in range(self.n_batches):
            idx = order[b * bs:(b + 1) * bs].to(self.device)
            x = self.train_images[idx].float() / 255
            p = self.train_points[idx]
            if self.augment is not None:
                x, p = self.augment(x, p, self.perm, generator)
            if world > 1:  # data-parallel: every rank draws the same global batch and keeps its slice
                per = len(x) // world
                x, p = x[rank * per:(rank + 1) * per], p[rank * per:(rank + 1) * per]
            yield self.normalise(x).contiguous(memory_format=self.memory_format), p

    def train_step(self, batch, trainer) -> dict[str, torch.Tensor]:
        x, p = batch
        with trainer.autocast():
            out = self.model(x)
        out = out.float().view(p.shape)
        loss = masked_loss(out, p, self.loss_kind, self.beta)
        trainer.backward_step(loss, self.optimizer)
        self.scheduler.step()
        return {"loss": loss.detach()}

    # -- evaluation
    @torch.no_grad()
    def predict_test(self) -> torch.Tensor:
        outs = []
        for i in range(0, len(self.test_images), self.eval_batch_size):
            x = self.normalise(self.test_images[i:i + self.eval_batch_size].float() / 255)
            outs.append(self.net(x).float().view(len(x), -1, 2))
        return from_unit(torch.cat(outs), self.size)

    def evaluate(self, trainer) -> tuple[dict[str, float], dict[str, Any]]:
        pred = self.predict_test()
        self._last_pred = pred
        true = self.test_points
        loss = masked_loss(to_unit(pred, self.size), to_unit(true, self.size), self.loss_kind, self.beta)
        m = keypoint_metrics(pred, true, self.dataset.eye_corners)
        metrics = {"test_loss": float(loss), "test_rmse": m["rmse"], "test_nme": m["nme"],
                   "lr": float(self.optimizer.param_groups[0]["lr"])}
        details = {"rmse_px": m["rmse"], "nme": m["nme"], "nme_norm": m["nme_norm"], "input_size": self.size,
                   "num_points": self.dataset.num_points}
        return metrics, details

    def on_epoch_end(self, epoch: int, trainer) -> list:
        if self._last_pred is None:
            return []
        k = min(SAMPLE_COUNT, len(self.dataset.test))
        grid = sample_grid(self.dataset.test.images[:k], self._last_pred[:k].cpu().numpy(),
                           self.dataset.test.points[:k].numpy())
        path = None
        if trainer.run is not None and trainer.run_dir is not None:
            path = Path(trainer.run_dir) / "samples" / f"epoch_{epoch:03d}.png"
            save_png(grid, path)
        return [Samples(epoch, "keypoints", grid, str(path) if path else None)]

    # -- state
    def meta(self) -> dict[str, Any]:
        ds = self.dataset
        return {"task": self.name, "model": self.model_name, "model_options": dict(self.model_options),
                "input_size": self.size, "input_shape": [1, self.size, self.size], "num_points": ds.num_points,
                "point_names": list(ds.point_names), "flip_permutation": list(ds.flip_permutation),
                "eye_corners": list(ds.eye_corners) if ds.eye_corners else None,
                "normalisation": {"points": "u = (x - c) / h, c = (S - 1) / 2, h = S / 2 (x, y in crop pixels)",
                                  "center": (self.size - 1) / 2, "scale": self.size / 2,
                                  "pixels": "(v / 255 - mean) / std"},
                "mean": [self.mean], "std": [self.std], "data": self.data_label, "imagenet_init": self.imagenet_init,
                "face_crop": dict(DEFAULT_FACE_CROP)}

    def state_dict(self) -> dict[str, Any]:
        return {"model": unwrap(self.model).state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "meta": self.meta()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        unwrap(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])

    def export_state(self) -> dict[str, Any]:
        return {"model": unwrap(self.model).state_dict(), "meta": self.meta()}


def load_data_for(cfg, progress=None) -> KeypointDataset:
    from app.data.keypoints import load_keypoints

    path = cfg.data_root or cfg.data
    if cfg.data_root is None and cfg.data in ("facial-keypoints", "keypoints"):
        from app.core.paths import default_data_root

        path = str(Path(default_data_root()) / "facial-keypoints")
    return load_keypoints(path, size=cfg.image_size, seed=cfg.seed, progress=progress)


def augment_from_settings(settings: Optional[dict]) -> KeypointAugment:
    """The augmentation of ``extra["augment"]`` (a dict of ``KeypointAugment`` fields; missing ones keep
    their defaults), checked so that a typo or a nonsense value fails before training starts."""
    if settings is None:
        return KeypointAugment()
    if not isinstance(settings, dict):
        raise UserError(f"extra.augment must be a dictionary of augmentation settings, not {settings!r}.")
    base = KeypointAugment()
    known = {f.name for f in dataclasses.fields(base)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise UserError(f"Unknown keypoint augmentation setting(s) {', '.join(unknown)}; "
                        f"known: {', '.join(sorted(known))}.")
    values = {}
    for key, value in settings.items():
        default = getattr(base, key)
        try:
            if isinstance(default, tuple):
                lo, hi = (float(v) for v in value)
                if lo > hi:
                    raise ValueError
                values[key] = (lo, hi)
            else:
                values[key] = float(value)
        except (TypeError, ValueError):
            shape = "a [low, high] pair" if isinstance(default, tuple) else "a number"
            raise UserError(f"extra.augment.{key} must be {shape}, not {value!r}.") from None
        flat = values[key] if isinstance(values[key], tuple) else (values[key],)
        if any(v < 0 or not math.isfinite(v) for v in flat) or (key in ("flip", "geometric") and values[key] > 1):
            raise UserError(f"extra.augment.{key} is out of range: {value!r}.")
    return KeypointAugment(**values)


@register_task("keypoints")
def _keypoint_task(cfg, dataset=None, progress=None) -> KeypointTask:
    ds = dataset if dataset is not None else load_data_for(cfg, progress)
    extra = dict(cfg.extra or {})
    try:
        beta = float(extra.get("beta", 0.02))
    except (TypeError, ValueError):
        raise UserError(f"extra.beta must be a number, not {extra.get('beta')!r}.") from None
    if not (math.isfinite(beta) and beta >= 0):
        raise UserError(f"The SmoothL1 beta must be a number of 0 or more, not {beta}.")
    augment = augment_from_settings(extra.get("augment")) if cfg.augment else False
    return KeypointTask(ds, cfg.model, model_options=cfg.model_options, batch_size=cfg.batch_size,
                        optimizer=cfg.optimizer, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                        weight_decay=cfg.weight_decay, schedule=cfg.schedule, step_size=cfg.step_size,
                        gamma=cfg.gamma, epochs=cfg.epochs, augment=augment,
                        loss=str(extra.get("loss", "smoothl1")), beta=beta,
                        channels_last=bool(extra.get("channels_last", False)),
                        data_label=Path(str(cfg.data_root or cfg.data)).name)


# ============================================================================================ predictor
class KeypointPredictor:
    """A trained keypoint model, ready to predict points on face crops (eval mode, inference only)."""

    runtime = "pytorch"       # what runs the model (app.engine.fast_inference has the onnxruntime one)

    def __init__(self, model: torch.nn.Module, meta: dict, device: torch.device):
        self.model = model
        self.meta = meta
        self.device = device
        self.input_size = int(meta["input_size"])
        self.num_points = int(meta["num_points"])
        self.point_names = list(meta.get("point_names") or layout_for(self.num_points)[0])
        self.flip_permutation = list(meta.get("flip_permutation") or layout_for(self.num_points)[1])
        self._mean = float(meta["mean"][0] if isinstance(meta["mean"], (list, tuple)) else meta["mean"])
        self._std = float(meta["std"][0] if isinstance(meta["std"], (list, tuple)) else meta["std"])
        self._c = (self.input_size - 1) / 2
        self._h = self.input_size / 2

    def _as_tensor(self, crops) -> torch.Tensor:
        s = self.input_size
        if isinstance(crops, np.ndarray):
            arr = crops
            if arr.ndim == 2:
                arr = arr[None]
            if arr.ndim == 4 and arr.shape[-1] == 1:
                arr = arr[..., 0]
            if arr.ndim == 3:
                arr = arr[:, None]
            x = torch.from_numpy(np.ascontiguousarray(arr))
        elif isinstance(crops, torch.Tensor):
            x = crops
            if x.dim() == 2:
                x = x[None, None]
            elif x.dim() == 3:
                x = x[:, None]
        else:
            raise UserError("Keypoint crops must be a uint8 numpy array (N, S, S) or tensor (N, 1, S, S).")
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != s or x.shape[3] != s:
            raise UserError(f"This keypoint model takes grey {s}x{s} crops; got an array of shape {tuple(x.shape)}.")
        return x

    def predict(self, crops) -> np.ndarray:
        """Points (N, P, 2) float32, (x, y) in crop pixels, for grey crops of the model's input size.

        ``crops``: uint8 tensor (N, 1, S, S) or numpy (N, S, S) (a single (S, S) crop is accepted).
        """
        x = self._as_tensor(crops)
        if len(x) == 0:
            return np.zeros((0, self.num_points, 2), np.float32)
        with torch.inference_mode():
            x = x.to(self.device, non_blocking=True)
            x = (x.float() * (1 / 255) - self._mean) * (1 / self._std)
            u = self.model(x).float().view(len(x), self.num_points, 2)
            pts = u * self._h + self._c
            return pts.cpu().numpy().astype(np.float32, copy=False)


def _resolve(path_or_name: str | Path) -> Path:
    from app.engine.predict import resolve_checkpoint

    p = Path(str(path_or_name)).expanduser()
    if p.exists():
        return resolve_checkpoint(p)
    name = str(path_or_name)
    if "/" not in name and "\\" not in name and not name.endswith(".pt"):
        from app.core.weights import verified_weight_path

        return verified_weight_path(name)
    raise CheckpointError(f"There is no keypoint model file at {p}.")


def read_keypoint_checkpoint(path_or_name: str | Path) -> tuple[dict, dict, Path]:
    """(state_dict, meta, path) of shipped weights, a run folder, a best.pt/last.pt or a weights file."""
    path = _resolve(path_or_name)
    return (*keypoint_model_of(load_checkpoint(path), path.name), path)


def keypoint_model_of(ckpt: dict, file_name: str) -> tuple[dict, dict]:
    """(state_dict, checked meta) of the keypoint model in a loaded best.pt, last.pt or weights file."""
    name = Path(file_name).name
    if ckpt.get("kind") == "last" and isinstance(ckpt.get("task"), dict):
        state, meta = ckpt["task"].get("model"), ckpt["task"].get("meta")
    else:
        state, meta = ckpt.get("model"), ckpt.get("meta")
    if not isinstance(state, dict) or not isinstance(meta, dict):
        raise CheckpointError(f"{name} is not a VisionDesk model file (no weights or no model description).")
    if meta.get("task") != "keypoints":
        raise CheckpointError(f"{name} is not a keypoint model (it was trained for '{meta.get('task')}').")
    for key in ("model", "input_size", "num_points", "mean", "std"):
        if key not in meta:
            raise CheckpointError(f"{name} does not describe its model fully (missing '{key}').")
    from app.engine.checkpoint import check_meta

    return state, check_meta(meta, name)


def load_keypoint_model(path_or_weight_name: str | Path, device: str | torch.device = "cpu") -> KeypointPredictor:
    """A ``KeypointPredictor`` from shipped weights (``"kp-resnet18"``, ``"kp-cnn4"``: checked against
    weights/manifest.json), a run folder (its best.pt), or a checkpoint / weights file."""
    from app.engine.devices import pick_device

    state, meta, path = read_keypoint_checkpoint(path_or_weight_name)
    try:
        s, p = int(meta["input_size"]), int(meta["num_points"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path.name} describes its model in a way VisionDesk cannot use "
                              f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}).") from exc
    stored = meta.get("model_options")
    options = {"pretrained": False} if isinstance(stored, dict) and "pretrained" in stored else {}
    dev = pick_device(device) if isinstance(device, str) else device
    # the trained weights replace any ImageNet start
    model = rebuild_from_checkpoint(state, meta, channels=1, size=(s, s), outputs=2 * p, file_name=path.name,
                                    options=options, device=dev)
    for prm in model.parameters():
        prm.requires_grad_(False)
    return KeypointPredictor(model, meta, dev)


def combine_keypoint_models(bests: Sequence[str | Path], out: str | Path, model: str = "kp-lite0-pair") -> Path:
    """Put keypoint networks trained apart into one averaging ``model`` file (``app.models.keypoints.
    KeypointEnsemble``: its weights are ``members.i.*``). The first file's input size is the model's; each
    other member keeps its own and the model resizes the crop for it. Returns ``out``."""
    got = [read_keypoint_checkpoint(b) for b in bests]
    if len(got) != 2:
        raise CheckpointError(f"{model} is made of two keypoint models, not {len(got)}.")
    (state0, meta0, path0), (state1, meta1, path1) = got
    if meta0["model"] != meta1["model"] or int(meta0["num_points"]) != int(meta1["num_points"]) \
            or meta0["mean"] != meta1["mean"] or meta0["std"] != meta1["std"]:
        raise CheckpointError(f"{path0.parent.name}/{path0.name} and {path1.parent.name}/{path1.name} are not the "
                              "same kind of keypoint model (network, number of points and pixel scaling must match).")
    meta = dict(meta0)
    meta["model"] = model
    meta["model_options"] = {**(meta0.get("model_options") or {}), "second_size": int(meta1["input_size"])}
    meta["members"] = [{"model": m["model"], "input_size": int(m["input_size"]),
                        "file": f"{p.parent.name}/{p.name}"} for m, p in ((meta0, path0), (meta1, path1))]
    state = {f"members.{i}.{k}": v for i, st in enumerate((state0, state1)) for k, v in st.items()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint({"model": state, "meta": meta}, out)
    return out


def evaluate_keypoint_model(predictor: KeypointPredictor, dataset_split, eye_corners=None,
                            batch_size: int = 256) -> dict[str, float]:
    """RMSE (pixels of the model's crop) and NME of ``predictor`` on a ``KeypointSplit`` of its input size."""
    outs = [predictor.predict(dataset_split.images[i:i + batch_size]) for i in range(0, len(dataset_split), batch_size)]
    pred = torch.from_numpy(np.concatenate(outs)) if outs else torch.zeros(0, predictor.num_points, 2)
    if eye_corners is None and predictor.meta.get("eye_corners"):
        eye_corners = tuple(predictor.meta["eye_corners"])
    m = keypoint_metrics(pred, dataset_split.points, eye_corners)
    m["n"] = len(dataset_split)
    return m


__all__ = ["KeypointTask", "KeypointPredictor", "load_keypoint_model", "combine_keypoint_models", "face_box_to_crop",
           "keypoint_metrics", "masked_loss", "sample_grid", "evaluate_keypoint_model", "read_keypoint_checkpoint",
           "keypoint_model_of"]
