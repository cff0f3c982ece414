"""The Basics experiments: gradient descent on a line, a sine and a spiral, as tasks of the Trainer.

Three small full-batch problems that the classic PyTorch curriculum starts with, run by the same
``Trainer`` as every other task (stop, pause, seeding and events come from it):

- ``line``: y = 10 x + 4 + noise for x = 0, 0.01, ..., 99.99 (10,000 points), fitted with w and b in
  three ways: gradients written by hand (no autograd), autograd with a hand-written update, and
  ``nn.Linear`` with a ``torch.optim`` optimizer. Raw x makes plain gradient descent blow up at any
  ordinary learning rate; the task notices (``Diverged``) and says so in plain words. With
  "standardise x" a normal learning rate works; w and b are always reported in the original scale.
- ``sine``: sin(x) on [-pi, pi] (2,000 points) fitted by a polynomial of degree 1 to 7 with autograd.
  The powers are taken of x / pi (all between -1 and 1) so the fit converges; the formula is given
  in the original x.
- ``spiral``: the CS231n two- or three-arm spiral, classified by a small MLP (0 hidden layers is
  softmax / logistic regression). Decision regions (class probabilities on a grid) come with the
  epoch details.

A *step* is one full-batch gradient step (one "batch" for the trainer); an *epoch* is a group of
steps (``steps_per_epoch``), after which ``evaluate`` reports the state for the live drawing and
checks for divergence. Per-step values (loss, and w, b or accuracy) come in ``BatchEnd.metrics``.

These problems are tiny: they run on the CPU and in a single intra-op thread (``BasicsTrainer``);
OpenMP's thread hand-offs cost far more than the arithmetic of a 10,000-element step, and on a busy
machine they made a step a hundred times slower.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app.engine.build import register_task
from app.engine.config import TrainConfig
from app.engine.events import Event
from app.engine.optim import build_optimizer
from app.engine.task import Task
from app.engine.threads import one_intra_op_thread
from app.engine.trainer import Control, Trainer
from app.core.errors import UserError

EXPERIMENTS = {"line": "Fit a line", "sine": "Fit a sine", "spiral": "Classify a spiral"}
METHODS = {"hand": "Gradients by hand", "autograd": "Autograd", "nn": "nn.Linear + optimizer"}
OPTIMIZERS = {"sgd": "SGD", "momentum": "SGD + momentum", "adam": "Adam"}
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
LOSSES = {"mean": "Mean squared error", "sum": "Summed squared error"}

TRUE_W, TRUE_B = 10.0, 4.0          # the line the data comes from
LINE_POINTS = 10_000                # x = 0, 0.01, ..., 99.99
SINE_POINTS = 2000
SINE_PLOT_POINTS = 400
MAX_DEGREE = 7
GRID = 120                          # decision-region grid (GRID x GRID points)
SPIRAL_EXTENT = 1.15                # the grid covers [-SPIRAL_EXTENT, SPIRAL_EXTENT]^2
MOMENTUM = 0.9
BLOW_UP = 1e6                       # a loss this many times its starting value has diverged ...
MIN_STEPS_SHOWN = 5                 # ... once a few steps show the climb (a non-finite loss at once)
SNAPSHOT_SECONDS = 0.05             # decision regions at most 20 times a second (and always at the end)
MAX_SNAPSHOTS = 100                 # evaluations (epochs) per run at most
TOO_LARGE = "the learning rate is too large for this data"

# recommended (learning rate) per experiment and optimizer; steps per experiment
RECOMMENDED_LR = {
    "line": {"sgd": 0.1, "momentum": 0.05, "adam": 5.0},
    "sine": {"sgd": 0.5, "momentum": 0.2, "adam": 0.03},
    "spiral": {"sgd": 1.0, "momentum": 0.1, "adam": 0.01},
}
RECOMMENDED_STEPS = {"line": 100, "sine": 2000, "spiral": 1000}


# The course's exact settings, offered as presets: name -> (what the preset shows, settings)
PRESETS: dict[str, tuple[str, "BasicsSettings"]] = {}


class Diverged(UserError):
    """The loss became non-finite or exploded: the learning rate is too large."""

    kind = "diverged"


# ============================================================================================ settings
@dataclass
class BasicsSettings:
    """Everything that defines one Basics run (same settings + same seed = the same run)."""
    experiment: str = "line"
    steps: int = 300
    lr: float = 0.1
    optimizer: str = "sgd"          # sgd | momentum | adam
    seed: int = 0
    seconds: float = 0.0            # spread the run over about this many seconds (0: as fast as possible)
    # line
    method: str = "hand"            # hand | autograd | nn
    standardise: bool = False
    loss: str = "mean"              # mean | sum: mean or summed squared error (the course's lesson sums)
    noise: float = 5.0              # standard deviation of the noise added to y ("uniform": its width)
    noise_kind: str = "normal"      # normal: noise x N(0, 1); uniform: noise x U[0, 1) (the course's np.random.rand)
    # sine
    degree: int = 5
    # spiral
    arms: int = 3
    points_per_arm: int = 100
    spiral_noise: float = 0.2
    hidden_layers: int = 1
    width: int = 100
    activation: str = "relu"

    def validate(self) -> "BasicsSettings":
        def check(ok: bool, msg: str) -> None:
            if not ok:
                raise UserError(msg)

        check(self.experiment in EXPERIMENTS, f"Unknown experiment '{self.experiment}' (choose line, sine or spiral).")
        check(1 <= int(self.steps) <= 100_000, f"The number of steps must be between 1 and 100000 (got {self.steps}).")
        check(isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and 0 < self.lr < 100,
              f"The learning rate must be a positive number below 100 (got {self.lr}).")
        check(self.optimizer in OPTIMIZERS, f"Unknown optimizer '{self.optimizer}' (choose sgd, momentum or adam).")
        check(self.seconds >= 0, "The pace cannot be negative.")
        if self.experiment == "line":
            check(self.method in METHODS, f"Unknown method '{self.method}' (choose hand, autograd or nn).")
            check(self.method == "nn" or self.optimizer == "sgd",
                  "Gradients by hand and autograd use plain gradient descent (w = w - lr * gradient); "
                  "choose the nn.Linear method to try momentum or Adam.")
            check(0 <= self.noise <= 1000, "The noise must be between 0 and 1000.")
            check(self.noise_kind in ("normal", "uniform"), "The noise is normal or uniform.")
            check(self.loss in LOSSES, f"Unknown loss '{self.loss}' (mean or sum of the squared errors).")
        if self.experiment == "sine":
            check(1 <= int(self.degree) <= MAX_DEGREE, f"The degree must be between 1 and {MAX_DEGREE}.")
        if self.experiment == "spiral":
            check(self.arms in (2, 3), "The spiral has 2 or 3 arms.")
            check(5 <= self.points_per_arm <= 5000, "Points per arm must be between 5 and 5000.")
            check(0 <= self.spiral_noise <= 2, "The spiral noise must be between 0 and 2.")
            check(0 <= self.hidden_layers <= 4, "Choose between 0 and 4 hidden layers.")
            check(1 <= self.width <= 1024, "The hidden width must be between 1 and 1024.")
            check(self.activation in ACTIVATIONS, f"Unknown activation '{self.activation}' (relu, tanh or sigmoid).")
        return self

    def replace(self, **changes: Any) -> "BasicsSettings":
        return BasicsSettings(**{**asdict(self), **changes})

    @property
    def steps_per_epoch(self) -> int:
        return steps_per_epoch(self.steps)

    @property
    def epochs(self) -> int:
        return math.ceil(int(self.steps) / self.steps_per_epoch)

    def to_config(self) -> TrainConfig:
        """A TrainConfig (config.json) for this run: ``python -m app train --config`` can repeat it."""
        model = {"line": f"line-{self.method}", "sine": f"poly{self.degree}",
                 "spiral": f"mlp{self.hidden_layers}x{self.width}-{self.activation}"}[self.experiment]
        extra = {f.name: getattr(self, f.name) for f in fields(self)
                 if f.name not in ("experiment", "lr", "seed")}
        return TrainConfig(task=f"basics-{self.experiment}", data=self.experiment, model=model,
                           epochs=self.epochs, batch_size=1, optimizer="adam" if self.optimizer == "adam" else "sgd",
                           lr=float(self.lr), momentum=MOMENTUM if self.optimizer == "momentum" else 0.0,
                           nesterov=False, weight_decay=0.0, schedule="none", augment=False, seed=int(self.seed),
                           device="cpu", amp="off", extra=extra)

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> "BasicsSettings":
        experiment = cfg.task.removeprefix("basics-")
        known = {f.name for f in fields(cls)}
        extra = {k: v for k, v in (cfg.extra or {}).items() if k in known}
        opt = extra.pop("optimizer", None) or ("adam" if cfg.optimizer in ("adam", "adamw")
                                               else "momentum" if cfg.momentum > 0 else "sgd")
        return cls(experiment=experiment, lr=float(cfg.lr), seed=int(cfg.seed), optimizer=opt,
                   **{"steps": cfg.epochs, **extra}).validate()


PRESETS["line-lesson"] = (
    "The course's line: y = 10 x + 4 plus random noise between 0 and 1, for x from 0 to 100 in steps of 0.01; "
    "summed squared error, gradients by hand, learning rate 1e-8, 50,000 steps. w ends near 10.00 and b near "
    "4.1 to 4.2: the noise adds 0.5 on average, so the best b is about 4.5, and b learns slowly because its "
    "gradient is tiny next to w's. Try a learning rate of 1e-6 to see the loss become NaN.",
    BasicsSettings(experiment="line", method="hand", loss="sum", standardise=False, lr=1e-8, steps=50_000,
                   noise=1.0, noise_kind="uniform"))


def preset(name: str) -> BasicsSettings:
    """The settings of a preset (a copy the caller may change)."""
    if name not in PRESETS:
        raise UserError(f"Unknown preset '{name}' (known: {', '.join(PRESETS)}).")
    return PRESETS[name][1].replace()


def noise_floor(s: BasicsSettings) -> float:
    """The smallest loss the line's noise leaves: the noise's variance per point (normal: noise², uniform
    between 0 and noise: noise² / 12), times the 10,000 points for the summed squared error."""
    per_point = s.noise ** 2 / (12 if s.noise_kind == "uniform" else 1)
    return per_point * (LINE_POINTS if s.loss == "sum" else 1)


def recommended(experiment: str, optimizer: str) -> float:
    """A learning rate that works well for ``experiment`` with ``optimizer`` (for the line: with
    standardised x)."""
    return RECOMMENDED_LR[experiment][optimizer]


def steps_per_epoch(steps: int) -> int:
    """Steps between two evaluations: every step for short runs, at most MAX_SNAPSHOTS evaluations."""
    return max(1, math.ceil(int(steps) / MAX_SNAPSHOTS))


# ============================================================================================ data
def line_data(noise: float = 5.0, seed: int = 0, kind: str = "normal") -> tuple[torch.Tensor, torch.Tensor]:
    """x = 0, 0.01, ..., 99.99 and y = 10 x + 4 + noise * N(0, 1) (float32, CPU); ``kind="uniform"``:
    noise * U[0, 1) instead (positive, mean noise / 2, as the course's ``np.random.rand``)."""
    x = torch.arange(LINE_POINTS, dtype=torch.float64).mul(0.01).float()
    g = torch.Generator().manual_seed(int(seed))
    draw = torch.rand if kind == "uniform" else torch.randn
    y = TRUE_W * x + TRUE_B + float(noise) * draw(LINE_POINTS, generator=g)
    return x, y


def sine_data() -> tuple[torch.Tensor, torch.Tensor]:
    """2,000 points of sin(x), x evenly spaced on [-pi, pi]."""
    x = torch.linspace(-math.pi, math.pi, SINE_POINTS)
    return x, torch.sin(x)


def spiral_data(arms: int = 3, points_per_arm: int = 100, noise: float = 0.2,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The CS231n spiral: arm k has radius r = 0..1 and angle (12 / arms) r + 2 pi k / arms + noise * N(0, 1)
    (three arms of 4 radians as in CS231n; two arms of 6 radians, so that a straight cut cannot split them)."""
    g = torch.Generator().manual_seed(int(seed))
    r = torch.linspace(0.0, 1.0, points_per_arm)
    xs, ys = [], []
    for k in range(arms):
        t = torch.linspace(0.0, 12.0 / arms, points_per_arm) + 2 * math.pi * k / arms
        t = t + float(noise) * torch.randn(points_per_arm, generator=g)
        xs.append(torch.stack([r * torch.sin(t), r * torch.cos(t)], dim=1))
        ys.append(torch.full((points_per_arm,), k, dtype=torch.long))
    return torch.cat(xs), torch.cat(ys)


def spiral_grid(size: int = GRID, extent: float = SPIRAL_EXTENT) -> torch.Tensor:
    """(size*size, 2) points, row-major: row i is y = -extent + ..., column j is x."""
    v = torch.linspace(-extent, extent, size)
    gy, gx = torch.meshgrid(v, v, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


# ============================================================================================ text
def _num(v: float, digits: int = 4) -> str:
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    if abs(v) >= 10 ** digits:
        return f"{v:.{digits}g}"
    return np.format_float_positional(v, precision=digits, unique=False, fractional=False, trim="-")


_SUPER = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def polynomial_formula(coefficients: Iterable[float], decimals: int = 4) -> str:
    """'y = 0.0012 + 0.8541 x - 0.0003 x² - 0.0928 x³' (coefficients of x⁰, x¹, ..., fixed decimals)."""
    terms = []
    for k, c in enumerate(coefficients):
        c = float(c)
        text = f"{abs(c):.{decimals}f}"
        negative = c < 0 and float(text) != 0          # no "-0.0000"
        power = "" if k == 0 else " x" if k == 1 else " x" + str(k).translate(_SUPER)
        if not terms:
            terms.append(("-" if negative else "") + text + power)
        else:
            terms.append(("- " if negative else "+ ") + text + power)
    return "y = " + " ".join(terms) if terms else "y = 0"


def line_formula(w: float, b: float) -> str:
    """'y = 9.998 x + 4.12'."""
    return f"y = {_num(w)} x {'-' if b < 0 else '+'} {_num(abs(b))}"


# ============================================================================================ threads
class BasicsTrainer(Trainer):
    """The shared Trainer, run in a single intra-op thread (see the module note)."""

    def fit(self, resume_from=None):
        with one_intra_op_thread():
            return super().fit(resume_from=resume_from)


# ============================================================================================ tasks
class BasicsTask(Task):
    """Common part: steps grouped into epochs, pacing, divergence checks."""

    monitor = ("loss", "min")
    stop_on_nonfinite = False      # check_divergence says it in the lesson's own words
    advice = "Try a learning rate about 10 times smaller."

    def __init__(self, settings: BasicsSettings):
        self.settings = settings.validate()
        self.name = f"basics-{settings.experiment}"
        self.total_steps = int(settings.steps)
        self.spe = settings.steps_per_epoch
        self.device = torch.device("cpu")
        self.start_loss = 1.0
        self._t0: float | None = None

    # -- the trainer's view: an epoch is a group of full-batch steps
    def num_batches(self) -> int:
        return self.spe

    def train_batches(self, epoch: int, generator: torch.Generator):
        first = (epoch - 1) * self.spe
        for step in range(first, min(first + self.spe, self.total_steps)):
            self._pace(step)
            yield step

    def batch_size_of(self, batch: Any) -> int:
        return 1

    def _pace(self, step: int) -> None:
        seconds = float(self.settings.seconds)
        if seconds <= 0:
            return
        per_step = seconds / self.total_steps
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now - step * per_step
        wait = self._t0 + step * per_step - now
        if wait > 0:
            time.sleep(wait)

    # -- divergence
    def check_divergence(self, loss: float, trainer: Trainer) -> None:
        exploded = loss > BLOW_UP * max(self.start_loss, 1e-12) and trainer.step >= MIN_STEPS_SHOWN
        if math.isfinite(loss) and not exploded:
            return
        how = ("became NaN, \"not a number\": too large to compute" if math.isnan(loss) else
               "became too large to compute" if not math.isfinite(loss) else
               f"grew from {self.start_loss:.3g} to {loss:.3g}")
        steps = f"{trainer.step} step" + ("" if trainer.step == 1 else "s")
        raise Diverged(f"The loss blew up after {steps} (it {how}): {TOO_LARGE}. "
                       f"Each step overshot the bottom of the loss and landed higher up on the other side. "
                       + self.advice)

    def export_state(self) -> dict[str, Any]:
        return {"model": self.state_dict(), "meta": {"task": self.name, **asdict(self.settings)}}


class LineTask(BasicsTask):
    """Fit y = w x + b to the line data: by hand, with autograd, or with nn.Linear + an optimizer."""

    def setup(self, trainer: Trainer) -> None:
        s = self.settings
        x, y = line_data(s.noise, s.seed, s.noise_kind)
        self.x_mean = float(x.mean()) if s.standardise else 0.0
        self.x_std = float(x.std()) if s.standardise else 1.0
        self.x = ((x - self.x_mean) / self.x_std).to(self.device)
        self.y = y.to(self.device)
        self.lr = float(s.lr)
        self.model: nn.Linear | None = None
        self.optimizer = None
        if s.method == "nn":
            self.model = nn.Linear(1, 1).to(self.device)
            with torch.no_grad():           # start flat (like the other methods), so all three compare
                self.model.weight.zero_()
                self.model.bias.zero_()
            self.optimizer = build_optimizer(self.model.parameters(), "adam" if s.optimizer == "adam" else "sgd",
                                             self.lr, momentum=MOMENTUM if s.optimizer == "momentum" else 0.0)
        else:
            grad = s.method == "autograd"
            self.w = torch.zeros((), device=self.device, requires_grad=grad)
            self.b = torch.zeros((), device=self.device, requires_grad=grad)
        self.start_loss = float(self._loss())
        self.advice = self._advice()

    def largest_stable_lr(self) -> float:
        """2 / (largest curvature of the loss): plain gradient descent diverges above this learning rate."""
        ex2 = float((self.x.double() ** 2).mean())
        ex = float(self.x.double().mean())
        half = (ex2 + 1) / 2
        top = 2 * (half + math.sqrt(half ** 2 - (ex2 - ex ** 2)))
        if self.settings.loss == "sum":
            top *= len(self.x)          # the sum's gradient and curvature are N times the mean's
        return 2 / top

    def _advice(self) -> str:
        s = self.settings
        if s.loss == "sum" and not s.standardise:
            return (f"With the summed squared error of {len(self.x):,} points (x from 0 to 100), every gradient is "
                    f"{len(self.x):,} times larger than with the mean, so plain gradient descent is only stable "
                    f"below a learning rate of about {self.largest_stable_lr():.1g}: the course uses 1e-8. Above "
                    f"that, each step overshoots, w swings further every step, the numbers overflow and the loss "
                    f"becomes NaN (\"not a number\"): nothing can be learned from it any more.")
        if s.standardise:
            return "Try a learning rate about 10 times smaller."
        # the largest stable step of plain gradient descent is 2 / (largest curvature of the loss)
        top = 2 / self.largest_stable_lr()
        return (f"With raw x (0 to 100) the slope's gradient is thousands of times larger than the intercept's, "
                f"so plain gradient descent only stays stable below a learning rate of about {2 / top:.1g}, "
                f"and then b hardly moves. Switch on \"standardise x\" (x becomes (x - mean) / std, "
                f"about -1.7 to 1.7) and a normal learning rate such as 0.1 works.")

    def _params(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.model is not None:
            return self.model.weight.reshape(()), self.model.bias.reshape(())
        return self.w, self.b

    def _reduce(self, squared: torch.Tensor) -> torch.Tensor:
        return squared.sum() if self.settings.loss == "sum" else squared.mean()

    def _loss(self) -> torch.Tensor:
        with torch.no_grad():
            w, b = self._params()
            return self._reduce((w * self.x + b - self.y) ** 2)

    def original_scale(self) -> tuple[torch.Tensor, torch.Tensor]:
        """w and b for the original x: y = w_s (x - m) / s + b_s = (w_s / s) x + (b_s - w_s m / s)."""
        with torch.no_grad():
            w, b = self._params()
            return w / self.x_std, b - w * self.x_mean / self.x_std

    def modules(self) -> list[nn.Module]:
        return [self.model] if self.model is not None else []

    def train_step(self, batch: Any, trainer: Trainer) -> dict[str, torch.Tensor]:
        method = self.settings.method
        x, y = self.x, self.y
        if method == "hand":
            # the gradients of L = mean((w x + b - y)^2) (or the sum), written out: no autograd
            err = self.w * x + self.b - y
            loss = self._reduce(err ** 2)
            dw = 2 * self._reduce(err * x)
            db = 2 * self._reduce(err)
            self.w -= self.lr * dw
            self.b -= self.lr * db
        elif method == "autograd":
            loss = self._reduce((self.w * x + self.b - y) ** 2)
            loss.backward()
            with torch.no_grad():
                self.w -= self.lr * self.w.grad
                self.b -= self.lr * self.b.grad
            self.w.grad = None
            self.b.grad = None
        else:
            with trainer.autocast():
                loss = F.mse_loss(self.model(x.unsqueeze(1)).squeeze(1), y,
                                  reduction="sum" if self.settings.loss == "sum" else "mean")
            trainer.backward_step(loss, self.optimizer)
        w, b = self.original_scale()
        return {"loss": loss.detach(), "w": w, "b": b}

    def evaluate(self, trainer: Trainer) -> tuple[dict[str, float], dict[str, Any]]:
        loss = float(self._loss())
        self.check_divergence(loss, trainer)
        w, b = (float(v) for v in self.original_scale())
        return {"loss": loss, "w": w, "b": b}, {"w": w, "b": b, "loss": loss, "formula": line_formula(w, b)}

    def state_dict(self) -> dict[str, Any]:
        if self.model is not None:
            return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}
        return {"w": self.w.detach().clone(), "b": self.b.detach().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.model is not None:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        else:
            with torch.no_grad():
                self.w.copy_(state["w"])
                self.b.copy_(state["b"])


class SineTask(BasicsTask):
    """Fit sin(x) on [-pi, pi] with a polynomial of x / pi, by autograd and an optimizer."""

    def setup(self, trainer: Trainer) -> None:
        s = self.settings
        x, y = sine_data()
        self.x, self.y = x.to(self.device), y.to(self.device)
        self.powers = torch.arange(s.degree + 1, dtype=torch.float32, device=self.device)
        self.features = (self.x / math.pi).unsqueeze(1) ** self.powers      # (N, degree + 1), all in [-1, 1]
        self.coef = torch.zeros(s.degree + 1, device=self.device, requires_grad=True)
        self.optimizer = build_optimizer([self.coef], "adam" if s.optimizer == "adam" else "sgd", float(s.lr),
                                         momentum=MOMENTUM if s.optimizer == "momentum" else 0.0)
        plot_x = torch.linspace(-math.pi, math.pi, SINE_PLOT_POINTS, device=self.device)
        self.plot_x = plot_x
        self.plot_features = (plot_x / math.pi).unsqueeze(1) ** self.powers
        with torch.no_grad():
            self.start_loss = float(F.mse_loss(self.features @ self.coef, self.y))

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        return (features * self.coef).sum(dim=1)

    def train_step(self, batch: Any, trainer: Trainer) -> dict[str, torch.Tensor]:
        loss = F.mse_loss(self.predict(self.features), self.y)
        trainer.backward_step(loss, self.optimizer)
        return {"loss": loss.detach()}

    def coefficients(self) -> list[float]:
        """Coefficients of 1, x, x², ... in the original x (a_k (x / pi)^k = a_k / pi^k x^k)."""
        c = self.coef.detach().double().cpu().numpy()
        return [float(v / math.pi ** k) for k, v in enumerate(c)]

    def evaluate(self, trainer: Trainer) -> tuple[dict[str, float], dict[str, Any]]:
        pred = self.predict(self.features)
        loss = float(F.mse_loss(pred, self.y))
        self.check_divergence(loss, trainer)
        max_error = float((pred - self.y).abs().max())
        coefs = self.coefficients()
        details = {"x": self.plot_x.cpu().numpy(), "y": self.predict(self.plot_features).cpu().numpy(),
                   "coefficients": coefs, "formula": polynomial_formula(coefs), "max_error": max_error,
                   "loss": loss}
        return {"loss": loss, "max_error": max_error}, details

    def state_dict(self) -> dict[str, Any]:
        return {"coef": self.coef.detach().clone(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.coef.copy_(state["coef"])
        self.optimizer.load_state_dict(state["optimizer"])


def build_mlp(in_features: int, classes: int, hidden_layers: int, width: int, activation: str) -> nn.Sequential:
    """hidden_layers x (Linear + activation), then a Linear to the class scores. 0 hidden layers:
    softmax (logistic) regression."""
    layers: list[nn.Module] = []
    d = in_features
    for _ in range(hidden_layers):
        layers += [nn.Linear(d, width), ACTIVATIONS[activation]()]
        d = width
    layers.append(nn.Linear(d, classes))
    return nn.Sequential(*layers)


class SpiralTask(BasicsTask):
    """Classify the spiral arms with an MLP; decision regions on a grid for the live drawing."""

    monitor = ("acc", "max")

    def setup(self, trainer: Trainer) -> None:
        s = self.settings
        x, y = spiral_data(s.arms, s.points_per_arm, s.spiral_noise, s.seed)
        self.x, self.y = x.to(self.device), y.to(self.device)
        self.net = build_mlp(2, s.arms, s.hidden_layers, s.width, s.activation).to(self.device)
        self.optimizer = build_optimizer(self.net.parameters(), "adam" if s.optimizer == "adam" else "sgd",
                                         float(s.lr), momentum=MOMENTUM if s.optimizer == "momentum" else 0.0)
        self.grid = spiral_grid().to(self.device)
        self._last_snapshot = -math.inf
        with torch.no_grad():
            self.start_loss = float(F.cross_entropy(self.net(self.x), self.y))

    def modules(self) -> list[nn.Module]:
        return [self.net]

    def train_step(self, batch: Any, trainer: Trainer) -> dict[str, torch.Tensor]:
        with trainer.autocast():
            logits = self.net(self.x)
            loss = F.cross_entropy(logits, self.y)
        trainer.backward_step(loss, self.optimizer)
        acc = (logits.detach().argmax(1) == self.y).float().mean()
        return {"loss": loss.detach(), "acc": acc}

    def regions(self) -> np.ndarray:
        """Class probabilities on the grid: float32 (GRID, GRID, arms), row 0 at y = -SPIRAL_EXTENT."""
        probs = torch.softmax(self.net(self.grid).float(), dim=1)
        return probs.reshape(GRID, GRID, -1).cpu().numpy()

    def evaluate(self, trainer: Trainer) -> tuple[dict[str, float], dict[str, Any]]:
        logits = self.net(self.x).float()
        loss = float(F.cross_entropy(logits, self.y))
        self.check_divergence(loss, trainer)
        acc = float((logits.argmax(1) == self.y).float().mean())
        details: dict[str, Any] = {"loss": loss, "acc": acc}
        now = time.perf_counter()
        if trainer.step >= self.total_steps or now - self._last_snapshot >= SNAPSHOT_SECONDS:
            details["regions"] = self.regions()
            details["extent"] = SPIRAL_EXTENT
            self._last_snapshot = now
        return {"loss": loss, "acc": acc}, details

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])


TASK_CLASSES = {"line": LineTask, "sine": SineTask, "spiral": SpiralTask}


@dataclass
class Verdict:
    """What a finished (or failed) experiment means, in plain words, for the person who ran it.

    ``text`` marks the key figure with **double asterisks** (the GUI shows it bold, a terminal as is);
    ``fix`` names the one-click remedy the GUI may offer: "standardise" (switch on standardised x with a
    learning rate of 0.1) or "smaller-lr" (a ten times smaller learning rate)."""

    level: str                  # "ok" | "warn" | "error" | "info"
    text: str
    fix: str | None = None

    FIX_LABELS = {"standardise": "Switch on “standardise x” (learning rate 0.1)",
                  "smaller-lr": "Use a 10× smaller learning rate"}


def _fmt(v: float, digits: int = 4) -> str:
    return _num(v, digits) if math.isfinite(v) else "too large to compute"


def verdict(settings: BasicsSettings, result: Any, steps_done: int = 0) -> Verdict:
    """The verdict on ``result`` (the trainer's ``Finished`` or ``Failed``) of a run with ``settings``."""
    from app.engine.events import Failed

    s = settings
    if isinstance(result, Failed):
        if result.kind == Diverged.kind:
            fix = "standardise" if s.experiment == "line" and not s.standardise else "smaller-lr"
            return Verdict("warn", result.message.replace(TOO_LARGE, f"**{TOO_LARGE}**", 1), fix)
        if result.user_error:
            return Verdict("error", result.message)
        return Verdict("error", "Something went wrong: " + result.message)
    if result.reason == "stopped":
        return Verdict("info", f"Stopped after {steps_done} of {s.steps} steps. **Start** runs it again from the "
                               "beginning; the same seed gives exactly the same run.")
    m = result.metrics
    if s.experiment == "line":
        w, b = m.get("w", math.nan), m.get("b", math.nan)
        text = (f"Done: **{line_formula(w, b)}** (the true line is y = 10 x + 4); "
                f"loss {_fmt(m.get('loss', math.nan))}.")
        if abs(w - TRUE_W) < 0.05 and abs(b - TRUE_B) < 0.5:
            return Verdict("ok", text + f" The loss is down at the noise level (≈ {_fmt(noise_floor(s), 3)}): "
                                        "this line is as good as these noisy points allow.")
        if not s.standardise:
            return Verdict("warn", text + " w and b are not there yet: with raw x, a learning rate small enough "
                                          "to be stable barely moves b. Standardising x fixes that.", "standardise")
        return Verdict("warn", text + " Not there yet: try more steps or a larger learning rate.")
    if s.experiment == "sine":
        err = m.get("max_error", math.nan)
        if err < 0.05:
            return Verdict("ok", f"Done: the largest error is **{_fmt(err, 3)}**, below 0.05. The polynomial "
                                 "is a good stand-in for sin(x) on this range.")
        if s.degree < 3:
            return Verdict("warn", f"Done: the largest error is {_fmt(err, 3)}. A polynomial of degree {s.degree} "
                                   "cannot bend enough to follow a sine: try degree 3 or more.")
        if s.degree >= 6:
            return Verdict("warn", f"Done: the largest error is {_fmt(err, 3)}. Degree {s.degree} can fit much "
                                   "better, but its high powers (x⁵, x⁶, x⁷ …) look alike between −π and π, so "
                                   "gradient descent needs many more steps to tell their coefficients apart: try "
                                   "10000 steps.")
        return Verdict("warn", f"Done: the largest error is {_fmt(err, 3)}. Not there yet: try more steps, "
                               "a larger learning rate, or Adam.")
    acc = 100 * m.get("acc", math.nan)
    if s.hidden_layers == 0:
        return Verdict("warn", f"Done: **{_fmt(acc, 3)}%** of the points are right. Without a hidden layer "
                               "the model can only draw straight boundaries, so it cannot follow the arms. "
                               "Add a hidden layer and start again.")
    if acc > 95:
        return Verdict("ok", f"Done: **{_fmt(acc, 3)}%** of the points are right: the hidden layer lets the "
                             "boundaries bend around the arms.")
    return Verdict("warn", f"Done: {_fmt(acc, 3)}% of the points are right. Not there yet: try more steps, "
                           "a larger learning rate, Adam, or a wider hidden layer.")


def build_basics_task(settings: BasicsSettings) -> BasicsTask:
    return TASK_CLASSES[settings.validate().experiment](settings)


def make_basics_trainer(settings: BasicsSettings, *, callbacks: Iterable = (), control: Control | None = None,
                        flush_seconds: float = 0.05) -> BasicsTrainer:
    """A trainer for one Basics run (no run folder: these experiments are for watching)."""
    task = build_basics_task(settings)
    return BasicsTrainer(task, epochs=settings.epochs, device="cpu", amp="off", seed=int(settings.seed),
                         run_dir=None, config=settings.to_config().to_dict(), callbacks=callbacks,
                         control=control, flush_seconds=flush_seconds)


def run_basics(settings: BasicsSettings, callbacks: Iterable = ()) -> tuple[BasicsTask, list[Event]]:
    """Run one experiment to the end in this thread; returns the task (its final state) and the events."""
    events: list[Event] = []
    trainer = make_basics_trainer(settings, callbacks=[events.append, *callbacks])
    trainer.fit()
    return trainer.task, events


def _factory(cfg: TrainConfig, dataset=None, progress=None) -> Task:
    return build_basics_task(BasicsSettings.from_config(cfg))


for _name in EXPERIMENTS:
    register_task(f"basics-{_name}")(_factory)
