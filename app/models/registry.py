"""The model registry: every model VisionDesk can build, by name.

A model module registers its builders with the ``register`` decorator::

    @register("cnn4", "Four convolutions and two dense layers; ...",
              options={"dropout": 0.5}, defaults={"lr": 0.05}, min_size=8)
    def build_cnn4(in_channels, image_size, num_classes, dropout):
        ...

The builder is always called as ``builder(in_channels, (height, width), num_classes, **options)``
with every option filled in (the registered defaults, overridden by what the caller passed). For a
keypoint model ``num_classes`` is the number of outputs (2 x keypoints); a GAN module documents
its own meaning.

``build_model`` checks the request against what the model registered (channels, smallest and
largest image side, option names and types) and raises ``app.core.errors.ModelError`` with a message a
person can act on; the builder itself may raise ``ModelError`` for model-specific limits.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from app.core.errors import ModelError

# Suggested training settings; a model's ``defaults`` override single keys of this.
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "batch_size": 128,
    "epochs": 10,
    "schedule": "onecycle",
}


@dataclass
class ModelInfo:
    """What the app needs to know about a model before building it."""

    name: str
    description: str                       # one line, for a person who does not program
    task: str                              # "classify" | "keypoints" | "gan" | ...
    builder: Callable[..., nn.Module]
    options: dict[str, Any] = field(default_factory=dict)    # option name -> default value
    defaults: dict[str, Any] = field(default_factory=dict)   # suggested hyperparameters
    min_size: int = 1                      # smallest image side (pixels) the model accepts
    max_size: int | None = None            # largest image side, None = no limit
    channels: tuple[int, ...] = (1, 3)     # image channel counts the model accepts
    # the model's own input scaling (RGB mean, std on the 0..1 scale), used instead of the data set's;
    # ``input_norm_when``: the boolean option that must be on for it (e.g. "pretrained"), "" = always
    input_norm: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    input_norm_when: str = ""
    # ``cached_features(options) -> bool``: the options (all present, typed) with which the model trains only
    # its last layer on image features computed once (a frozen pretrained backbone); None = never
    cached_features: Callable[[dict[str, Any]], bool] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Everything but the builder, as plain JSON-friendly values."""
        return {
            "name": self.name,
            "description": self.description,
            "task": self.task,
            "options": dict(self.options),
            "defaults": dict(self.defaults),
            "min_size": self.min_size,
            "max_size": self.max_size,
            "channels": list(self.channels),
            "input_norm": None if self.input_norm is None else [list(v) for v in self.input_norm],
        }


_REGISTRY: dict[str, ModelInfo] = {}


def register(
    name: str,
    description: str,
    task: str = "classify",
    options: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    min_size: int = 1,
    max_size: int | None = None,
    channels: tuple[int, ...] = (1, 3),
    input_norm: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
    input_norm_when: str = "",
    cached_features: Callable[[dict[str, Any]], bool] | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator that registers ``builder`` under ``name``; returns the builder unchanged.

    ``defaults`` is merged over ``DEFAULT_HYPERPARAMETERS`` (classify models) so every classify
    model suggests a complete set of settings. Registering a name twice is a programming error.
    """
    if min_size < 1:
        raise ValueError(f"min_size must be >= 1, got {min_size}")
    if max_size is not None and max_size < min_size:
        raise ValueError(f"max_size {max_size} is smaller than min_size {min_size}")

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _check_builder_accepts(name, builder, options or {})
        merged = dict(DEFAULT_HYPERPARAMETERS) if task == "classify" else {}
        merged.update(defaults or {})
        _REGISTRY[name] = ModelInfo(
            name=name,
            description=description,
            task=task,
            builder=builder,
            options=dict(options or {}),
            defaults=merged,
            min_size=int(min_size),
            max_size=None if max_size is None else int(max_size),
            channels=tuple(int(c) for c in channels),
            input_norm=input_norm,
            input_norm_when=input_norm_when,
            cached_features=cached_features,
        )
        return builder

    return decorator


def _check_builder_accepts(name: str, builder: Callable[..., nn.Module], options: dict[str, Any]) -> None:
    """Catch a mismatch between the registered options and the builder's keywords at import time."""
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    missing = [key for key in options if key not in params]
    if missing:
        raise ValueError(f"model {name!r}: the builder takes no keyword(s) {missing}")


def _known_names(task: str | None = None) -> str:
    names = [info.name for info in list_models(task)]
    return ", ".join(names) if names else "(none)"


def get_model_info(name: str) -> ModelInfo:
    """The registered ``ModelInfo`` for ``name``; ``ModelError`` listing the known names if absent."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(
            f"There is no model called {name!r}. Known models: {_known_names()}."
        ) from None


def list_models(task: str | None = None) -> list[ModelInfo]:
    """Registered models in registration order, optionally only those of one ``task``."""
    return [info for info in _REGISTRY.values() if task is None or info.task == task]


def _normalize_size(image_size: tuple[int, int] | list[int] | int) -> tuple[int, int]:
    if isinstance(image_size, bool):
        raise ModelError(f"The image size must be a number of pixels, not {image_size!r}.")
    if isinstance(image_size, int):
        size = (image_size, image_size)
    else:
        try:
            size = tuple(int(s) for s in image_size)
        except (TypeError, ValueError):
            raise ModelError(
                f"The image size must be a number of pixels or (height, width), not {image_size!r}."
            ) from None
        if len(size) != 2:
            raise ModelError(f"The image size must be (height, width), not {image_size!r}.")
    if min(size) < 1:
        raise ModelError(f"The image size must be positive, not {size[0]}x{size[1]}.")
    return size  # type: ignore[return-value]


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _coerce_option(model: str, key: str, value: Any, default: Any) -> Any:
    """Bring ``value`` to the type of the option's default (the CLI passes strings)."""
    if default is None or value is None:
        return value
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ModelError(f"Option {key!r} of {model} must be yes or no (true/false), not {value!r}.")
    if kind in (int, float):
        if isinstance(value, bool):
            raise ModelError(f"Option {key!r} of {model} must be a number, not {value!r}.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ModelError(f"Option {key!r} of {model} must be a number, not {value!r}.") from None
        if kind is int:
            if number != int(number):
                raise ModelError(f"Option {key!r} of {model} must be a whole number, not {value!r}.")
            return int(number)
        return number
    if kind is str:
        return str(value)
    return value


def build_model(
    name: str,
    in_channels: int,
    image_size: tuple[int, int] | int,
    num_classes: int,
    **options: Any,
) -> nn.Module:
    """Build model ``name`` for images of ``in_channels`` x ``image_size`` and ``num_classes`` outputs.

    ``options`` override the model's registered option defaults; unknown option names, channel
    counts the model does not take and images that are too small or too large raise ``ModelError``.
    """
    info = get_model_info(name)
    height, width = _normalize_size(image_size)
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise ModelError(f"The number of image channels must be a positive whole number, not {in_channels!r}.")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ModelError(f"The number of classes must be a positive whole number, not {num_classes!r}.")
    problem = fit_problem(info, in_channels, (height, width))
    if problem:
        raise ModelError(problem)
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        known = ", ".join(sorted(info.options)) if info.options else "none"
        raise ModelError(
            f"{name} has no option {', '.join(repr(u) for u in unknown)}. Its options are: {known}."
        )
    merged = dict(info.options)
    for key, value in options.items():
        merged[key] = _coerce_option(name, key, value, info.options[key])
    return info.builder(in_channels, (height, width), num_classes, **merged)


#: the model a classification run starts with when the person chose none (the lessons' classic net)
CLASSIC_DEFAULT = "cnn4"


def default_classifier(data: str = "folder") -> str:
    """The model to train when none was chosen, for data set ``data`` ("folder", "mnist", ...).

    Image folders (a person's own photos, a set made with the webcam) get the shipped pretrained
    EfficientNet-Lite0, which learns a good model in minutes; the built-in lesson data sets keep the
    classic from-scratch default. Without the pretrained weights installed, the classic one."""
    if str(data).strip().lower() in ("folder", "image-folder"):
        from app.models import efficientnet

        if efficientnet.available():
            return "efficientnet-lite0"
    return CLASSIC_DEFAULT


def uses_cached_features(name: str, options: dict[str, Any] | None) -> bool:
    """True when model ``name`` with ``options`` trains only its last layer on image features computed
    once (the model's registered ``cached_features`` rule): its runs do not use augmentation."""
    info = _REGISTRY.get(name)
    if info is None or info.cached_features is None:
        return False
    try:
        opts = {k: _coerce_option(name, k, (options or {}).get(k, v), v) for k, v in info.options.items()}
        return bool(info.cached_features(opts))
    except (ModelError, TypeError, ValueError):       # an option the build will refuse in plain words
        return False


def input_normalization(name: str, options: dict[str, Any] | None, channels: int
                        ) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """(mean, std) per channel on the 0..1 scale that model ``name`` built with ``options`` expects, or
    None when it uses the data set's own statistics. A pretrained model keeps the scaling it was
    trained with; for grey images (1 channel, which it sees repeated in R, G and B) the RGB values
    are averaged."""
    info = get_model_info(name)
    if info.input_norm is None:
        return None
    if info.input_norm_when:
        on = (options or {}).get(info.input_norm_when, info.options.get(info.input_norm_when))
        if not _coerce_option(name, info.input_norm_when, on, True):
            return None
    mean, std = (tuple(float(v) for v in part) for part in info.input_norm)
    if channels == 1:
        return (sum(mean) / len(mean),), (sum(std) / len(std),)
    return mean, std


def fit_problem(info: ModelInfo, channels: int, size: tuple[int, int] | int) -> str | None:
    """Why ``info``'s model cannot take images of ``channels`` x ``size``, or None when it can (the
    checks ``build_model`` makes, without building anything: the Model tab marks unusable models)."""
    height, width = _normalize_size(size)
    name = info.name
    if info.channels and channels not in info.channels:
        allowed = " or ".join(_describe_channels(c) for c in info.channels)
        return f"{name} works with {allowed} images; these images have {channels} channels."
    if min(height, width) < info.min_size:
        return (f"{name} needs images of at least {info.min_size}x{info.min_size} pixels; "
                f"these are {height}x{width}. Choose a larger image size or another model.")
    if info.max_size is not None and max(height, width) > info.max_size:
        return (f"{name} works with images of at most {info.max_size}x{info.max_size} pixels; "
                f"these are {height}x{width}. Choose a smaller image size or another model.")
    return None


def _describe_channels(channels: int) -> str:
    if channels == 1:
        return "grey (1 channel)"
    if channels == 3:
        return "colour (3 channels)"
    return f"{channels}-channel"
