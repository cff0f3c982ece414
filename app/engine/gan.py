"""GAN training as a task of the shared Trainer, and using a trained generator.

One training step is one discriminator step and one generator step (two optimizers, each through
``trainer.backward_step``), with the non-saturating loss of Goodfellow et al. (the generator
maximises log D(G(z))) and optional one-sided label smoothing (real targets ``1 - s``, fake targets
0). Per batch: ``d_loss``, ``g_loss``, ``d_x`` (mean D(x) on real images) and ``d_gz`` (mean
D(G(z)) on the generated batch, before the discriminator's update).

After every epoch the generator draws a grid from a fixed noise batch (the same latents every
epoch, so the grids show how the same "seeds" evolve), saved as ``samples/epoch_NNN.png`` in the
run folder and sent as a ``Samples`` event. Every ``score_every`` epochs (and at the last one) the
Fréchet distance in the shipped classifier's feature space and the classifier's class histogram of
the generated samples go to ``metrics.csv`` (``fd``, ``class_max_share``) and the event details.

Images are scaled to [-1, 1] (the generator ends in tanh). ``best.pt`` holds the generator only
(``export_state``), with the metadata ``load_generator`` needs to rebuild it.

Settings in ``TrainConfig.extra``: ``class`` (train on one class: index or name), ``betas``,
``score_every``, ``score_samples``, ``classifier`` (a checkpoint for the score instead of the
shipped one), ``score`` (False: no score), ``grid`` (samples in the grid, default 64),
``noise_seed`` (the fixed noise batch).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from app.data.base import ImageDataset, ImageSplit
from app.data.batches import DeviceLoader, subset_class
from app.data.images import save_png
from app.engine.build import load_data_for, register_task
from app.engine.checkpoint import FORMAT, rebuild_from_checkpoint
from app.engine.config import TrainConfig
from app.engine.distributed import unwrap
from app.engine.events import Samples
from app.engine.fid import DEFAULT_SAMPLES, GanScorer, ScoreResult, find_score_classifier, images_from_tanh
from app.engine.optim import build_optimizer
from app.engine.task import Task
from app.core.errors import CheckpointError, DataError, UserError

GRID_SAMPLES = 64
NOISE_SEED = 1234
SCORE_SEED = 4321


# ------------------------------------------------------------------------------------------- images
def make_grid(images: torch.Tensor | np.ndarray, nrow: int | None = None, padding: int = 2,
              pad_value: int = 0) -> np.ndarray:
    """uint8 images (N, C, H, W) -> one uint8 picture (H', W') for grey or (H', W', 3) for colour."""
    x = torch.as_tensor(images)
    if x.dim() != 4 or x.shape[0] == 0:
        raise ValueError(f"expected (N, C, H, W) images, got {tuple(x.shape)}")
    n, c, h, w = x.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    ncol = nrow
    nrows = int(math.ceil(n / ncol))
    out = torch.full((c, nrows * (h + padding) + padding, ncol * (w + padding) + padding), pad_value, dtype=torch.uint8)
    for i in range(n):
        r, k = divmod(i, ncol)
        y0, x0 = padding + r * (h + padding), padding + k * (w + padding)
        out[:, y0:y0 + h, x0:x0 + w] = x[i]
    arr = out.numpy()
    return arr[0] if c == 1 else np.ascontiguousarray(arr.transpose(1, 2, 0)[:, :, :3])


def make_strip(images: torch.Tensor | np.ndarray, padding: int = 2) -> np.ndarray:
    """uint8 images (N, C, H, W) side by side in one row."""
    x = torch.as_tensor(images)
    return make_grid(x, nrow=int(x.shape[0]), padding=padding)


def grid_path(run_dir: str | Path, epoch: int) -> Path:
    """Where a GAN run keeps the fixed-noise grid of an epoch."""
    return Path(run_dir) / "samples" / f"epoch_{epoch:03d}.png"


def score_path(run_dir: str | Path, epoch: int) -> Path:
    """Where a GAN run keeps the score (FD and class histogram) of an epoch."""
    return Path(run_dir) / "samples" / f"score_{epoch:03d}.json"


def read_run_grids(run_dir: str | Path) -> dict[int, np.ndarray]:
    """The fixed-noise grids a GAN run saved, by epoch (uint8, grey HxW or RGB HxWx3); a half-written or
    foreign file is skipped."""
    from PIL import Image

    grids = {}
    for f in sorted((Path(run_dir) / "samples").glob("epoch_*.png")):
        try:
            epoch = int(f.stem.split("_", 1)[1])
            with Image.open(f) as im:
                grids[epoch] = np.asarray(im.convert("L" if im.mode in ("L", "I", "I;16") else "RGB"))
        except (ValueError, OSError):
            continue
    return grids


def read_run_score(run_dir: str | Path, epoch: int) -> dict | None:
    """The score a GAN run saved for an epoch (fd, histogram, classes, n, max_share), or None."""
    try:
        score = json.loads(score_path(run_dir, epoch).read_text(encoding="utf-8"))
        hist, classes = [int(v) for v in score["histogram"]], [str(c) for c in score["classes"]]
        if len(hist) != len(classes):
            return None
        return {"fd": float(score["fd"]), "histogram": hist, "classes": classes, "n": int(score["n"]),
                "max_share": float(score["max_share"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sample_latents(n: int, latent_dim: int, seed: int, start: int = 0) -> torch.Tensor:
    """The latents of samples ``start .. start+n-1`` of ``seed``: sample ``i`` depends only on
    (seed, i), so a sample keeps its look whatever the number of samples asked for."""
    out = torch.empty(n, latent_dim)
    for j in range(n):
        g = torch.Generator().manual_seed((int(seed) * 1_000_003 + start + j) % (2**63 - 1))
        out[j] = torch.randn(latent_dim, generator=g)
    return out


def interpolate_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int, spherical: bool = True) -> torch.Tensor:
    """``steps`` latents from z0 to z1 (both included): spherical interpolation (slerp, stays at the
    typical radius of Gaussian latents) or straight-line."""
    steps = max(2, int(steps))
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    z0, z1 = z0.reshape(1, -1).float(), z1.reshape(1, -1).float()
    if spherical:
        a, b = z0 / z0.norm(), z1 / z1.norm()
        omega = torch.acos((a * b).sum().clamp(-1 + 1e-7, 1 - 1e-7))
        if float(omega) > 1e-4:
            so = torch.sin(omega)
            return torch.sin((1 - t) * omega) / so * z0 + torch.sin(t * omega) / so * z1
    return (1 - t) * z0 + t * z1


# ------------------------------------------------------------------------------------------- the task
def _set_requires_grad(module: torch.nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def resolve_class(dataset: ImageDataset, choice: Any) -> int | None:
    """A class index from an index, a numeric string or a class name (None: the whole set)."""
    if choice is None or choice == "" or choice == "all":
        return None
    if isinstance(choice, bool):
        raise UserError(f"'{choice}' is not a class of {dataset.name}.")
    if isinstance(choice, int) or (isinstance(choice, str) and choice.strip().lstrip("-").isdigit()):
        k = int(choice)
        if not 0 <= k < dataset.num_classes:
            raise UserError(f"Class {k} does not exist: {dataset.name} has classes 0 to {dataset.num_classes - 1}.")
        return k
    names = [c.lower() for c in dataset.classes]
    if str(choice).strip().lower() in names:
        return names.index(str(choice).strip().lower())
    raise UserError(f"'{choice}' is not a class of {dataset.name} (classes: {', '.join(dataset.classes)}).")


class GanTask(Task):
    name = "gan"
    monitor = ("fd", "min")

    def __init__(self, dataset: ImageDataset, model_name: str = "dcgan", *, model_options: dict | None = None,
                 batch_size: int = 128, optimizer: str = "adam", lr: float = 2e-4,
                 betas: tuple[float, float] = (0.5, 0.999), label_smoothing: float = 0.0,
                 class_index: Any = None, score: bool = True, score_every: int = 1,
                 score_samples: int = DEFAULT_SAMPLES, classifier: str | Path | None = None,
                 grid_samples: int = GRID_SAMPLES, noise_seed: int = NOISE_SEED, epochs: int | None = None):
        from app.models import get_model_info

        info = get_model_info(model_name)
        if info.task != "gan":
            raise UserError(f"'{model_name}' is not a GAN model; choose dcgan or fc-gan.")
        if not 0 <= label_smoothing < 0.5:
            raise UserError("One-sided label smoothing must be between 0 and 0.5 (for example 0.1).")
        self.dataset = dataset
        self.model_name = model_name
        self.model_options = dict(model_options or {})
        self.batch_size = int(batch_size)
        self.opt_name = optimizer
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.label_smoothing = float(label_smoothing)
        self.class_index = resolve_class(dataset, class_index)
        self.score_enabled = bool(score)
        self.score_every = max(1, int(score_every))
        self.score_samples = max(2, int(score_samples))
        self.classifier_path = classifier
        self.grid_samples = max(1, int(grid_samples))
        self.noise_seed = int(noise_seed)
        self.epochs = epochs
        self.generator: torch.nn.Module | None = None
        self.discriminator: torch.nn.Module | None = None
        self.scorer: GanScorer | None = None
        self._grid: np.ndarray | None = None
        self._grid_epoch = 0

    # -- setup
    def _split(self, split: ImageSplit) -> ImageSplit:
        return split if self.class_index is None else subset_class(split, self.class_index)

    def setup(self, trainer) -> None:
        from app.models import build_model

        ds = self.dataset
        train = self._split(ds.train)
        if len(train) < 2:
            raise DataError("A GAN needs at least 2 training images (of the chosen class).")
        c, h, w = ds.input_shape
        pair = build_model(self.model_name, c, (h, w), 1, **self.model_options)
        self.latent_dim = pair.latent_dim
        self.g_net = pair.generator.to(trainer.device)
        self.d_net = pair.discriminator.to(trainer.device)
        self.generator = trainer.wrap_model(self.g_net)
        self.discriminator = trainer.wrap_model(self.d_net)
        half = (0.5,) * c
        self.loader = DeviceLoader(train, self.batch_size, trainer.device, mean=half, std=half, shuffle=True,
                                   drop_last=len(train) > self.batch_size)
        self.opt_g = build_optimizer(self.g_net.parameters(), self.opt_name, self.lr, betas=self.betas)
        self.opt_d = build_optimizer(self.d_net.parameters(), self.opt_name, self.lr, betas=self.betas)
        self.fixed_noise = torch.randn(self.grid_samples, self.latent_dim,
                                       generator=torch.Generator().manual_seed(self.noise_seed))
        self.device = trainer.device
        self.real_target = 1.0 - self.label_smoothing
        self.scorer = None
        self.score_note = ""
        if self.score_enabled and trainer.is_main:
            self.scorer = self._make_scorer(trainer)
        # best.pt follows the score when there is one; without a score the latest epoch is the best
        self.monitor = ("fd", "min") if self.scorer is not None else ("epoch", "max")

    def _make_scorer(self, trainer) -> GanScorer | None:
        try:
            clf = find_score_classifier(self.dataset.name, self.classifier_path, device=trainer.device, log=trainer.log)
        except CheckpointError as exc:
            raise UserError(f"The score classifier could not be used: {exc}") from exc
        if clf is None:
            self.score_note = f"No shipped classifier for {self.dataset.name}, so no score is computed."
            return None
        if tuple(clf.input_shape) != tuple(self.dataset.input_shape):
            self.score_note = (f"The score classifier expects {'x'.join(map(str, clf.input_shape))} images, "
                               f"not {'x'.join(map(str, self.dataset.input_shape))}; no score is computed.")
            trainer.log(self.score_note)
            return None
        if len(clf.classes) != self.dataset.num_classes:
            self.score_note = "The score classifier has other classes than this data set; no score is computed."
            trainer.log(self.score_note)
            return None
        real = self._split(self.dataset.test).images
        if len(real) < 2:
            self.score_note = "Too few test images for a score."
            return None
        return GanScorer(clf, real, n_samples=self.score_samples)

    @property
    def has_score(self) -> bool:
        return self.scorer is not None

    def modules(self):
        return [m for m in (self.generator, self.discriminator) if m is not None]

    def num_batches(self) -> int:
        return len(self.loader)

    def train_batches(self, epoch, generator):
        self.loader.set_generator(generator)
        return iter(self.loader)

    # -- one step
    def train_step(self, batch, trainer) -> dict[str, torch.Tensor]:
        x = batch[0]
        b = x.shape[0]
        G, D = self.generator, self.discriminator
        ws = trainer.dist.world_size
        if ws > 1:
            # every rank draws the global batch's noise and takes its own slice: N ranks together
            # use exactly the noise one process would
            z = torch.randn(b * ws, self.latent_dim, device=x.device)[trainer.dist.rank * b:(trainer.dist.rank + 1) * b]
        else:
            z = torch.randn(b, self.latent_dim, device=x.device)
        with trainer.autocast():
            fake = G(z)
            d_real = D(x).float()
            d_fake = D(fake.detach()).float()
            loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, self.real_target))
                      + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        trainer.backward_step(loss_d, self.opt_d)
        _set_requires_grad(self.d_net, False)
        try:
            with trainer.autocast():
                d_gen = D(fake).float()
                # non-saturating generator loss: -log D(G(z))
                loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
            trainer.backward_step(loss_g, self.opt_g)
        finally:
            _set_requires_grad(self.d_net, True)
        return {"d_loss": loss_d.detach(), "g_loss": loss_g.detach(),
                "d_x": torch.sigmoid(d_real.detach()).mean(), "d_gz": torch.sigmoid(d_fake.detach()).mean()}

    # -- end of epoch
    def evaluate(self, trainer) -> tuple[dict[str, float], dict[str, Any]]:
        epoch = trainer.epoch + 1
        g = self.g_net
        with torch.no_grad():
            imgs = images_from_tanh(g(self.fixed_noise.to(self.device)))
        self._grid = make_grid(imgs, nrow=int(math.ceil(math.sqrt(len(imgs)))))
        self._grid_epoch = epoch
        metrics: dict[str, float] = {}
        details: dict[str, Any] = {"classes": list(self.dataset.classes), "class": self.class_index,
                                   "score_note": self.score_note}
        due = epoch % self.score_every == 0 or epoch == trainer.epochs
        if self.scorer is not None and due:
            res: ScoreResult = self.scorer.score_generator(g, self.latent_dim, self.device, seed=SCORE_SEED)
            metrics["fd"] = res.fd
            metrics["class_max_share"] = res.max_share
            details["score"] = res.to_dict()
            if trainer.run is not None and trainer.is_main:   # the histogram, for the GAN tab's past-run view
                from app.core.files import atomic_write_text

                atomic_write_text(score_path(trainer.run.path, epoch), json.dumps({"epoch": epoch, **res.to_dict()}))
            trainer.log(f"epoch {epoch}: FD {res.fd:.4g} on {res.n} samples, class histogram {res.histogram}")
        return metrics, details

    def on_epoch_end(self, epoch: int, trainer) -> list:
        if self._grid is None or not trainer.is_main:
            return []
        path = None
        if trainer.run is not None:
            path = grid_path(trainer.run.path, epoch)
            save_png(self._grid, path)
        return [Samples(epoch, "gan-grid", self._grid, str(path) if path else None)]

    # -- state
    def meta(self) -> dict[str, Any]:
        ds = self.dataset
        k = self.class_index
        return {"task": self.name, "model": self.model_name, "model_options": dict(self.model_options),
                "latent_dim": int(self.latent_dim), "image_shape": list(ds.input_shape), "data": ds.name,
                "classes": list(ds.classes), "class": k, "class_name": None if k is None else ds.classes[k],
                "output": "tanh", "noise_seed": self.noise_seed}

    def state_dict(self) -> dict[str, Any]:
        return {"model": unwrap(self.generator).state_dict(), "meta": self.meta(),
                "discriminator": unwrap(self.discriminator).state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        unwrap(self.generator).load_state_dict(state["model"])
        unwrap(self.discriminator).load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])

    def export_state(self) -> dict[str, Any]:
        return {"model": unwrap(self.generator).state_dict(), "meta": self.meta()}


@register_task("gan")
def gan_task_factory(cfg: TrainConfig, dataset=None, progress=None) -> GanTask:
    ex = dict(cfg.extra or {})
    betas = ex.get("betas", (0.5, 0.999))
    if not (isinstance(betas, (list, tuple)) and len(betas) == 2):
        raise UserError("extra.betas must be two numbers, e.g. [0.5, 0.999].")
    try:   # a hand-edited config.json may hold text where numbers belong
        counts = dict(score_every=int(ex.get("score_every", 1)),
                      score_samples=int(ex.get("score_samples", DEFAULT_SAMPLES)),
                      grid_samples=int(ex.get("grid", GRID_SAMPLES)),
                      noise_seed=int(ex.get("noise_seed", NOISE_SEED)),
                      betas=tuple(float(b) for b in betas))
    except (TypeError, ValueError):
        raise UserError("extra.score_every, extra.score_samples, extra.grid and extra.noise_seed must be whole "
                        "numbers and extra.betas two numbers.") from None
    from app.core.options import check_value     # the command line's ranges, for a hand-edited config.json too

    for name, key, value in (("score_every", "score_every", counts["score_every"]),
                             ("score_samples", "score_samples", counts["score_samples"]),
                             ("n", "grid", counts["grid_samples"]), ("seed", "noise_seed", counts["noise_seed"]),
                             ("beta1", "betas[0]", counts["betas"][0]), ("beta1", "betas[1]", counts["betas"][1])):
        check_value(name, value, label=f"extra.{key}")
    ds = dataset if dataset is not None else load_data_for(cfg, progress)
    return GanTask(ds, cfg.model, model_options=cfg.model_options, batch_size=cfg.batch_size,
                   optimizer=cfg.optimizer, lr=cfg.lr,
                   label_smoothing=cfg.label_smoothing, class_index=ex.get("class"),
                   score=bool(ex.get("score", True)), classifier=ex.get("classifier"), epochs=cfg.epochs, **counts)


def gan_config(data: str, data_root: str | None = None, **changes: Any) -> TrainConfig:
    """A TrainConfig with the GAN defaults (DCGAN, Adam 2e-4, betas 0.5/0.999, batch 128, no schedule)."""
    base = dict(task="gan", data=data, data_root=data_root, model="dcgan", epochs=10, batch_size=128,
                optimizer="adam", lr=2e-4, momentum=0.0, nesterov=False, weight_decay=0.0, schedule="none",
                augment=False, label_smoothing=0.0)
    extra = dict(changes.pop("extra", {}) or {})
    base.update(changes)
    return TrainConfig(**base, extra=extra)


# ------------------------------------------------------------------------------------------- a past run
def run_checkpoint(run_dir: str | Path) -> Path | None:
    """The generator checkpoint of a GAN run: best.pt, else last.pt, else None."""
    for name in ("best.pt", "last.pt"):
        if (Path(run_dir) / name).is_file():
            return Path(run_dir) / name
    return None


def describe_checkpoint(path: str | Path, meta: dict) -> str:
    """A short name for a generator checkpoint: 'fashion-mnist dcgan, 2026-12-01 05:43 (best.pt)' for a
    run's (its folder starts with the run's start time), else 'folder/file'."""
    from datetime import datetime

    path = Path(path)
    try:
        started = datetime.strptime(path.parent.name[:19], "%Y-%m-%dT%H-%M-%S").strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return f"{path.parent.name}/{path.name}"
    return f"{meta.get('data', '?')} {meta.get('model', '')}, {started} ({path.name})"


def describe_score(epoch: int, score: dict) -> str:
    """One plain sentence on an epoch's score (``read_run_score`` / the event's ``details['score']``)."""
    share = 100 * float(score["max_share"])
    fair = 100 / max(1, len(score["histogram"]))
    verdict = ("no class is starved or overdone" if share <= 2 * fair else
               "one class is drawn far more than others (possible mode collapse)")
    return (f"Epoch {epoch}: Fréchet distance {float(score['fd']):.2f} on {int(score['n']):,} samples. "
            f"Largest class share {share:.0f}% (fair share {fair:.0f}%): {verdict}.")


@dataclass
class GanRun:
    """What a GAN run folder holds, for showing it again (``open_gan_run``); the grids are read apart
    (``read_run_grids``) because decoding them takes a moment."""

    path: Path
    config: TrainConfig
    epochs_done: int
    batch_x: list[float]                 # position of every logged batch, in epochs (1.5 = half-way in epoch 2)
    batch_rows: list[dict]               # its numbers: d_loss, g_loss, d_x, d_gz
    scores: list[tuple[int, float]]      # (epoch, Fréchet distance) of every scored epoch
    last_score: dict | None              # the last scored epoch's histogram (``read_run_score``), when saved
    score_text: str                      # one sentence on the scores, for a person
    checkpoint: Path | None              # best.pt or last.pt

    @property
    def title(self) -> str:
        cfg = self.config
        cls = (cfg.extra or {}).get("class")
        return f"{cfg.model} on {cfg.data}" + (f", class {cls}" if cls is not None else "")


class OtherTaskRun(UserError):
    """A VisionDesk run folder, but of another task (a classifier's, a keypoint model's)."""


def open_gan_run(run_dir: str | Path) -> GanRun:
    """Read a GAN run folder (config, batch and epoch metrics, scores). Raises UserError in plain words
    when the folder is not a VisionDesk run, ``OtherTaskRun`` when it is a run of another task."""
    from app.engine.runs import read_metrics

    run_dir = Path(run_dir)
    try:
        cfg = TrainConfig.load(run_dir / "config.json")
    except UserError as exc:
        raise UserError(f"{run_dir} is not a VisionDesk run folder (it has no valid config.json).") from exc
    if cfg.task != "gan":
        raise OtherTaskRun(f"{run_dir.name} is a {cfg.task} run, not a GAN run; open it in its own tab.")
    batches, epochs = read_metrics(run_dir, "batches.csv"), read_metrics(run_dir)
    per_epoch = max((int(r["batch"]) for r in batches if isinstance(r.get("batch"), float)), default=1)
    xs, rows = [], []
    for r in batches:
        if isinstance(r.get("epoch"), float) and isinstance(r.get("batch"), float):
            xs.append(r["epoch"] - 1 + r["batch"] / max(1, per_epoch))
            rows.append({k: v for k, v in r.items() if isinstance(v, float)})
    scored = [r for r in epochs if isinstance(r.get("fd"), float) and math.isfinite(r["fd"])
              and isinstance(r.get("epoch"), float)]
    scores = [(int(r["epoch"]), float(r["fd"])) for r in scored]
    last_score = None
    if scored:
        last = scored[-1]
        last_score = read_run_score(run_dir, int(last["epoch"]))
        if last_score is not None:
            text = describe_score(int(last["epoch"]), last_score)
        else:            # a run made before the histogram was saved: the numbers of metrics.csv
            share = last.get("class_max_share")
            share_text = (f" Largest class share {100 * share:.0f}%."
                          if isinstance(share, float) and math.isfinite(share) else "")
            text = f"Epoch {int(last['epoch'])}: Fréchet distance {last['fd']:.2f}.{share_text}"
        best_epoch, best_fd = min(scores, key=lambda s: s[1])
        text += f" Best {best_fd:.2f} at epoch {best_epoch}."
    else:
        text = "This run has no scores (scoring was off, or it stopped before the first one)."
    return GanRun(run_dir, cfg, len(epochs), xs, rows, scores, last_score, text, run_checkpoint(run_dir))


# ------------------------------------------------------------------------------------------- nearest real images
@dataclass
class NearestReal:
    """The training images nearest to a generated sample (``find_nearest_real``)."""

    images: list[np.ndarray]      # uint8 (C, H, W)
    labels: list[str]             # class name of each ('' when the set has none)
    indices: list[int]            # index in the searched training split
    distances: list[float]
    typical: float                # a real image's typical distance to its nearest other real image
    searched: str                 # which images were searched, in words

    def caption(self, i: int) -> str:
        return f"{self.labels[i]}\n#{self.indices[i]} · {self.distances[i]:.1f}"

    def tooltip(self, i: int) -> str:
        return f"Training image #{self.indices[i]} ({self.labels[i]}), distance {self.distances[i]:.1f}"

    def summary(self) -> str:
        return (f"Training image number · distance. Searched {self.searched}. A real image's nearest neighbour is "
                f"typically {self.typical:.1f} away; a much smaller distance would mean the GAN copies a training "
                f"image.")


def _reference_images(meta: dict, loaded: ImageDataset | None) -> tuple[ImageDataset, str]:
    """The training images a generator's samples are compared with, and where they came from in words:
    the Data tab's set when it is the generator's, else the data set by name (the shipped sample for
    Fashion-MNIST when the full set is not downloaded)."""
    from app.data import load_dataset

    data = meta.get("data")
    shape = tuple(meta.get("image_shape", ()))
    if loaded is not None and tuple(loaded.input_shape) == shape and (
            loaded.name == data or {loaded.name, data} <= {"fashion-mnist", "fashion-mnist-sample"}):
        return loaded, f"the {len(loaded.train):,} training images of the Data tab's {loaded.name}"
    try:
        ds = load_dataset(data)
        return ds, f"the {len(ds.train):,} training images of {data}"
    except UserError:
        if data == "fashion-mnist":
            ds = load_dataset("fashion-mnist-sample")
            return ds, (f"the {len(ds.train):,} training images of the shipped Fashion-MNIST sample "
                        f"(load the full set in the Data tab to search all 60,000)")
        raise


def find_nearest_real(meta: dict, sample: torch.Tensor, k: int = 6,
                      loaded: ImageDataset | None = None) -> NearestReal:
    """The ``k`` training images nearest to one generated ``sample`` (uint8 C x H x W or 1 x C x H x W)
    of a generator described by ``meta``, in the feature space of the shipped score classifier of its
    data set (``fid.nearest_real_images``). ``loaded``: a data set already in memory to prefer. Raises
    UserError in plain words when there is no classifier or no data to search."""
    from app.engine.fid import nearest_real_images

    data = str(meta.get("data"))
    clf = find_score_classifier(data)
    if clf is None:
        raise UserError(f"There is no shipped classifier for {data}, so similar images cannot be searched.")
    if tuple(clf.input_shape) != tuple(int(v) for v in meta.get("image_shape", ())):
        raise UserError("The classifier for this data set expects pictures of another size, so similar images "
                        "cannot be searched.")
    ds, where = _reference_images(meta, loaded)
    found = nearest_real_images(clf, ds.train.images, torch.as_tensor(sample), k,
                                cache_key=(ds.name, id(ds), len(ds.train)))
    labels = [ds.classes[int(ds.train.labels[i])] if len(ds.classes) else "" for i in found.indices]
    return NearestReal([ds.train.images[i].numpy() for i in found.indices], labels, found.indices,
                       found.distances, found.typical, where)


# ------------------------------------------------------------------------------------------- using a generator
@dataclass
class LoadedGenerator:
    """A trained generator, ready to draw samples (uint8 images)."""

    generator: torch.nn.Module
    meta: dict
    device: torch.device
    path: Path | None = None

    @property
    def latent_dim(self) -> int:
        return int(self.meta["latent_dim"])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.meta["image_shape"]
        return int(c), int(h), int(w)

    @property
    def classes(self) -> list[str]:
        return list(self.meta.get("classes") or [])

    def describe(self) -> str:
        c, h, w = self.image_shape
        what = self.meta.get("data", "?")
        if self.meta.get("class_name"):
            what += f", class {self.meta['class_name']}"
        return f"{self.meta.get('model', '?')} generator for {what} ({w}x{h}, {'grey' if c == 1 else 'colour'})"

    def latents(self, n: int, seed: int, start: int = 0) -> torch.Tensor:
        return sample_latents(n, self.latent_dim, seed, start)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """uint8 images (N, C, H, W) on the CPU for latents (N, latent_dim)."""
        out = []
        for i in range(0, len(z), batch_size):
            out.append(images_from_tanh(self.generator(z[i:i + batch_size].to(self.device))))
        return torch.cat(out) if out else torch.empty(0, *self.image_shape, dtype=torch.uint8)

    def sample(self, n: int, seed: int, start: int = 0) -> torch.Tensor:
        return self.generate(self.latents(n, seed, start))

    def interpolate(self, z0: torch.Tensor, z1: torch.Tensor, steps: int = 10, spherical: bool = True) -> torch.Tensor:
        return self.generate(interpolate_latents(z0, z1, steps, spherical))


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> LoadedGenerator:
    """Rebuild a generator from a GAN run's best.pt / last.pt (or its folder) or shipped weights.
    Raises CheckpointError with a plain message when the file is not a VisionDesk generator."""
    from app.engine.predict import read_model_checkpoint

    state, meta = read_model_checkpoint(path)
    name = Path(path).name
    if meta.get("task") != "gan":
        raise CheckpointError(f"{name} is not a GAN generator (it was made by a '{meta.get('task', '?')}' training).")
    for key in ("model", "latent_dim", "image_shape"):
        if key not in meta:
            raise CheckpointError(f"{name} does not describe its generator fully (missing '{key}').")
    try:
        c, h, w = (int(v) for v in meta["image_shape"])
        latent = int(meta["latent_dim"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{name} describes a generator VisionDesk cannot build: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc

    def generator_of(pair):
        if latent != int(getattr(pair, "latent_dim", latent)):
            raise ValueError(f"latent_dim {latent} does not match the model's {pair.latent_dim}")
        return pair.generator

    from app.engine.devices import pick_device

    dev = pick_device(device)
    gen = rebuild_from_checkpoint(state, meta, channels=c, size=(h, w), outputs=1, file_name=name,
                                  part=generator_of, device=dev, what="generator")
    from app.engine.predict import resolve_checkpoint

    return LoadedGenerator(gen, dict(meta), dev, resolve_checkpoint(path))


def export_generator(source: str | Path, target: str | Path, **extra_meta: Any) -> Path:
    """Write a small shipped generator file (fp32 generator weights + meta) from a run's checkpoint."""
    from app.engine.checkpoint import save_checkpoint
    from app.engine.predict import read_model_checkpoint

    state, meta = read_model_checkpoint(source)
    if meta.get("task") != "gan":
        raise CheckpointError(f"{Path(source).name} is not a GAN checkpoint.")
    state = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    save_checkpoint({"format": FORMAT, "kind": "weights", "model": state, "meta": {**meta, **extra_meta}}, target)
    return Path(target)


__all__ = ["GanTask", "LoadedGenerator", "export_generator", "gan_config", "gan_task_factory", "interpolate_latents",
           "load_generator", "make_grid", "make_strip", "resolve_class", "sample_latents", "save_png",
           "grid_path", "score_path", "read_run_grids", "read_run_score", "run_checkpoint", "describe_score",
           "describe_checkpoint", "GanRun", "OtherTaskRun", "open_gan_run", "NearestReal", "find_nearest_real"]
