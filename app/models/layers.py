"""Layer choices of the classic models and what a classifier's output means.

* ``norm_layer(kind, channels, maps)``: none, batch, layer, instance or group normalisation, for
  feature maps (after a convolution, ``maps=True``) or for vectors (after a dense layer).
* ``activation_layer(name)``: ReLU, LeakyReLU, ELU, GELU, tanh or sigmoid.
* The loss as the lessons write it: ``cross-entropy`` on raw scores (logits), or ``nll``: a
  ``LogSoftmax`` layer at the end of the model and the negative log-likelihood loss. Both give the same
  numbers; the second is how many lessons spell it out.
* What a classifier returns (``output_kind``): ``"logits"`` (raw scores, the default),
  ``"log-probs"`` (after LogSoftmax) or ``"binary-prob"`` (one sigmoid probability of class 1, for
  two-class logistic regression). ``classification_loss`` and ``class_probabilities`` turn any of them
  into the loss and the class probabilities, so the engine and prediction never guess.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from app.core.errors import ModelError

NORMS = ("none", "batch", "layer", "instance", "group")
ACTIVATIONS = {
    "relu": ("ReLU", nn.ReLU),
    "leaky-relu": ("LeakyReLU", lambda: nn.LeakyReLU(0.01)),
    "elu": ("ELU", nn.ELU),
    "gelu": ("GELU", nn.GELU),
    "tanh": ("tanh", nn.Tanh),
    "sigmoid": ("sigmoid", nn.Sigmoid),
}
LOSSES = {"cross-entropy": "cross-entropy on raw scores", "nll": "log-softmax + negative log-likelihood (NLL)"}
OUTPUT_KINDS = ("logits", "log-probs", "binary-prob")
# the choices of each layer option, for a drop-down list (the first is the usual default; cnn4's norm is "batch")
OPTION_CHOICES: dict[str, tuple[str, ...]] = {"norm": NORMS, "activation": tuple(ACTIVATIONS), "loss": tuple(LOSSES)}
NORM_PREFIX = {"batch": "bn", "layer": "ln", "instance": "in", "group": "gn"}

_ACT_ALIASES = {"leakyrelu": "leaky-relu", "leaky_relu": "leaky-relu", "lrelu": "leaky-relu"}
_LOSS_ALIASES = {"ce": "cross-entropy", "crossentropy": "cross-entropy", "cross_entropy": "cross-entropy",
                 "log-softmax+nll": "nll", "logsoftmax+nll": "nll", "log-softmax": "nll", "nllloss": "nll"}


class LayerNorm2d(nn.GroupNorm):
    """Layer normalisation of feature maps: each image's C x H x W values together (GroupNorm with one
    group), so it works at any image size."""

    def __init__(self, channels: int) -> None:
        super().__init__(1, channels)


def group_count(channels: int) -> int:
    """Groups for group normalisation: 8 where it divides the channels (and leaves 2+ per group), else fewer."""
    for g in (8, 4, 2):
        if channels % g == 0 and channels // g >= 2:
            return g
    return 1


def check_norm(model: str, norm: str) -> str:
    key = str(norm).strip().lower()
    if key not in NORMS:
        raise ModelError(f"{model}: unknown normalisation {norm!r}; choose one of {', '.join(NORMS)}.")
    return key


def check_activation(model: str, name: str) -> str:
    key = str(name).strip().lower()
    key = _ACT_ALIASES.get(key, key)
    if key not in ACTIVATIONS:
        raise ModelError(f"{model}: unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}.")
    return key


def check_loss(model: str, loss: str) -> str:
    key = str(loss).strip().lower().replace(" ", "")
    key = _LOSS_ALIASES.get(key, key)
    if key not in LOSSES:
        raise ModelError(f"{model}: unknown loss {loss!r}; choose cross-entropy or nll (log-softmax + NLL).")
    return key


def norm_layer(kind: str, channels: int, maps: bool) -> nn.Module | None:
    """The normalisation layer for ``channels`` feature maps (``maps``) or a vector of ``channels``
    values; None for "none" (and for "instance" on a vector, which has no maps to normalise)."""
    if kind == "none":
        return None
    if kind == "batch":
        return nn.BatchNorm2d(channels) if maps else nn.BatchNorm1d(channels)
    if kind == "layer":
        return LayerNorm2d(channels) if maps else nn.LayerNorm(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True) if maps else None
    if kind == "group":
        return nn.GroupNorm(group_count(channels), channels)
    raise ModelError(f"Unknown normalisation {kind!r}; choose one of {', '.join(NORMS)}.")


def activation_layer(name: str) -> nn.Module:
    return ACTIVATIONS[name][1]()


def output_layer(loss: str) -> tuple[nn.Module | None, str]:
    """(layer appended after the last dense layer, output kind) for a classification ``loss``."""
    if loss == "nll":
        return nn.LogSoftmax(dim=1), "log-probs"
    return None, "logits"


# ------------------------------------------------------------------------------------------ outputs
def output_kind(model: nn.Module) -> str:
    """What ``model(x)`` returns: "logits" unless the model says otherwise (DDP wrappers looked through)."""
    inner = getattr(model, "module", model)
    return getattr(inner, "output_kind", "logits")


def classification_loss(out: torch.Tensor, y: torch.Tensor, kind: str = "logits", *,
                        label_smoothing: float = 0.0, reduction: str = "mean") -> torch.Tensor:
    """The training loss for a classifier's output of the given kind."""
    if kind == "binary-prob":
        p = out.float().reshape(-1).clamp(1e-7, 1 - 1e-7)
        t = y.float()
        if label_smoothing:
            t = t * (1 - label_smoothing) + 0.5 * label_smoothing
        # binary cross-entropy written out (autocast refuses F.binary_cross_entropy)
        losses = -(t * p.log() + (1 - t) * (1 - p).log())
        return losses.mean() if reduction == "mean" else losses.sum() if reduction == "sum" else losses
    if kind == "log-probs":
        losses = F.nll_loss(out, y, reduction="none")
        if label_smoothing:
            losses = (1 - label_smoothing) * losses - label_smoothing * out.mean(1)
        return losses.mean() if reduction == "mean" else losses.sum() if reduction == "sum" else losses
    return F.cross_entropy(out, y, label_smoothing=label_smoothing, reduction=reduction)


def class_probabilities(out: torch.Tensor, kind: str = "logits") -> torch.Tensor:
    """(N, K) class probabilities from a classifier's output of the given kind."""
    out = out.float()
    if kind == "binary-prob":
        p = out.reshape(-1, 1).clamp(0, 1)
        return torch.cat([1 - p, p], 1)
    return out.softmax(1)     # softmax of log-probabilities gives the probabilities back
