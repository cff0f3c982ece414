"""The run configuration: everything needed to re-run a training from the CLI.

Stored as ``config.json`` in every run folder. ``TrainConfig.from_dict`` validates a (possibly
hand-edited) file and raises a UserError naming the bad field, never a traceback.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import UserError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "onecycle")
AMP_CHOICES = ("off", "auto", "bf16", "fp16")
DEVICE_CHOICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig:
    task: str = "classify"
    data: str = "fashion-mnist-sample"
    data_root: str | None = None
    image_size: int | None = None        # folder data sets: resize to this square size
    model: str = "cnn4"
    model_options: dict = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    step_size: int = 5                   # epochs between decays for the "step" schedule
    gamma: float = 0.1
    augment: bool = True
    label_smoothing: float = 0.0
    seed: int = 0
    device: str = "auto"
    amp: str = "off"
    extra: dict = field(default_factory=dict)   # task-specific settings (GAN, keypoints, ...)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_command(self) -> str:
        """The ``visiondesk train ...`` line that trains exactly this configuration without the window."""
        import shlex

        parts = ["visiondesk", "train", "--data", self.data]
        if self.data_root:
            parts += ["--data-root", self.data_root]
        if (self.extra or {}).get("target") and self.data.strip().lower() == "csv":
            parts += ["--target", str(self.extra["target"])]
        if self.image_size:
            parts += ["--image-size", str(self.image_size)]
        parts += ["--model", self.model]
        for k, v in sorted(self.model_options.items()):
            parts += ["--option", f"{k}={_option_text(v)}"]
        parts += ["--epochs", str(self.epochs), "--batch-size", str(self.batch_size), "--optimizer", self.optimizer,
                  "--lr", repr(float(self.lr)), "--momentum", repr(float(self.momentum)),
                  "--weight-decay", repr(float(self.weight_decay)), "--schedule", self.schedule,
                  "--augment" if self.augment else "--no-augment", "--device", self.device, "--amp", self.amp,
                  "--seed", str(self.seed)]
        if not self.nesterov:
            parts.append("--no-nesterov")
        if self.label_smoothing:
            parts += ["--label-smoothing", repr(float(self.label_smoothing))]
        return shlex.join(parts)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "the configuration") -> "TrainConfig":
        if not isinstance(raw, dict):
            raise UserError(f"{source} must be a JSON object with named settings.")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - set(known) - {"version"})
        if unknown:
            raise UserError(f"{source} has unknown setting(s): {', '.join(unknown)}.")
        defaults = cls()
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if name == "version":
                continue
            values[name] = _check_type(name, value, getattr(defaults, name), source)
        cfg = cls(**values)
        cfg.validate(source)
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        from app.core.files import ensure_ordinary_file

        path = Path(path)
        ensure_ordinary_file(path, "config.json file")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"No config.json at {path}.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"{path} is not valid JSON: {exc}") from None
        except RecursionError:   # absurdly deep nesting
            raise UserError(f"{path} is not a VisionDesk configuration (nested too deeply).") from None
        return cls.from_dict(raw, source=str(path))

    def validate(self, source: str = "the configuration") -> None:
        def bad(msg: str) -> UserError:
            return UserError(f"{source}: {msg}")

        from app.core.options import check_value

        for name, label in (("lr", "the learning rate"), ("momentum", "momentum"), ("weight_decay", "weight decay"),
                            ("label_smoothing", "label smoothing"), ("seed", "the seed")):
            try:
                check_value(name, getattr(self, name), label=label)
            except UserError as exc:
                raise bad(str(exc)) from None
        if self.epochs < 1 or self.epochs > 100000:
            raise bad(f"epochs must be between 1 and 100000 (got {self.epochs}).")
        if self.batch_size < 1 or self.batch_size > 65536:
            raise bad(f"batch size must be between 1 and 65536 (got {self.batch_size}).")
        if self.optimizer not in OPTIMIZERS:
            raise bad(f"unknown optimizer '{self.optimizer}' (choose {', '.join(OPTIMIZERS)}).")
        if self.schedule not in SCHEDULES:
            raise bad(f"unknown schedule '{self.schedule}' (choose {', '.join(SCHEDULES)}).")
        if self.amp not in AMP_CHOICES:
            raise bad(f"unknown mixed-precision setting '{self.amp}' (choose {', '.join(AMP_CHOICES)}).")
        if not (self.device in DEVICE_CHOICES or self.device.startswith("cuda:")):
            raise bad(f"unknown device '{self.device}' (choose auto, cpu or cuda).")
        if self.step_size < 1 or not (0 < self.gamma <= 1):
            raise bad("the step schedule needs step_size >= 1 and 0 < gamma <= 1.")
        if self.image_size is not None and not (8 <= self.image_size <= 1024):
            raise bad("image_size must be between 8 and 1024 pixels.")


def _option_text(v: Any) -> str:
    """A model option as ``--option NAME=VALUE`` text: JSON, except a string that is not JSON by itself."""
    if isinstance(v, str):
        try:
            json.loads(v)
        except ValueError:
            return v
    return json.dumps(v)


def _check_type(name: str, value: Any, default: Any, source: str) -> Any:
    if name in ("data_root", "image_size"):
        if value is None:
            return None
        expected = str if name == "data_root" else int
    elif isinstance(default, bool):
        expected = bool
    elif isinstance(default, float):
        expected = float
    else:
        expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is int and isinstance(value, bool):
        raise UserError(f"{source}: '{name}' must be a whole number, not {json.dumps(value)}.")
    if not isinstance(value, expected):
        kind = {int: "a whole number", float: "a number", bool: "true or false", str: "text", dict: "an object"}[expected]
        raise UserError(f"{source}: '{name}' must be {kind}, not {json.dumps(value)}.")
    return value
