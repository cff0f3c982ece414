"""Layer-by-layer summary of a model: output shapes and parameter counts (like Keras' ``summary``).

``summarize(model, (C, H, W))`` runs one dummy image through the model with forward hooks on every
leaf module (a module without children) and records one ``LayerRow`` per call, in call order. The
model is put in eval mode for that pass and every module's own mode is restored afterwards; no
gradients are computed. The dummy batch is made on the device of the model's parameters (CPU for a
model that has not been moved).

Totals come from ``model.parameters()`` directly (shared parameters counted once), so they are
exact even when a layer is used twice or a parameter sits outside any leaf module.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from app.core.errors import ModelError


@dataclass
class LayerRow:
    name: str                 # dotted module path, e.g. "body.conv1"
    type: str                 # class name, e.g. "Conv2d"
    output_shape: tuple       # e.g. (1, 32, 28, 28); a tuple of shapes for several outputs
    params: int               # parameters of this layer (0 on a repeated call of the same layer)
    trainable: bool           # the layer has parameters and they all require gradients


@dataclass
class Summary:
    input_shape: tuple
    output_shape: tuple
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    size_mb: float = 0.0      # parameters + buffers, in MiB (bytes / 2**20)

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["output_shape"] = _listify(self.output_shape)
        d["rows"] = [dict(asdict(r), output_shape=_listify(r.output_shape)) for r in self.rows]
        d["non_trainable_params"] = self.non_trainable_params
        return d

    def format_table(self) -> str:
        header = ("Layer", "Type", "Output shape", "Params", "Trainable")
        body = [
            (r.name, r.type, _shape_text(r.output_shape), f"{r.params:,}",
             ("yes" if r.trainable else "no") if r.params else "-")
            for r in self.rows
        ]
        widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
        right = {3}  # numbers right-aligned

        def line(cells: tuple) -> str:
            out = [str(c).rjust(widths[i]) if i in right else str(c).ljust(widths[i])
                   for i, c in enumerate(cells)]
            return "  ".join(out).rstrip()

        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        lines = [line(header), rule, *(line(row) for row in body), rule]
        lines += [
            f"Input shape:          {_shape_text(self.input_shape)}",
            f"Output shape:         {_shape_text(self.output_shape)}",
            f"Total params:         {self.total_params:,}",
            f"Trainable params:     {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"Size (params+buffers): {self.size_mb:.2f} MB",
        ]
        return "\n".join(lines)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (each shared tensor once); only those requiring grad if asked."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _listify(shape: Any) -> Any:
    if isinstance(shape, tuple):
        return [_listify(s) for s in shape]
    return shape


def _shape_text(shape: tuple) -> str:
    if shape and isinstance(shape[0], tuple):
        return ", ".join(_shape_text(s) for s in shape)
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _shape_of(output: Any) -> tuple:
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        shapes = tuple(_shape_of(o) for o in output)
        return shapes[0] if len(shapes) == 1 else shapes
    if isinstance(output, dict):
        return tuple(_shape_of(v) for v in output.values())
    return ()


def summarize(model: nn.Module, input_shape: tuple[int, ...]) -> Summary:
    """Run one dummy image of ``input_shape`` (C, H, W) through ``model`` and tabulate its layers."""
    input_shape = tuple(int(s) for s in input_shape)
    if not input_shape or min(input_shape) < 1:
        raise ModelError(f"Cannot summarise a model for input shape {input_shape}.")
    first = next(model.parameters(), None)
    if first is None:
        first = next(model.buffers(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32

    names = {m: n for n, m in model.named_modules()}
    rows: list[LayerRow] = []
    seen: set[int] = set()

    def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        params = list(module.parameters(recurse=False))
        first_call = id(module) not in seen
        seen.add(id(module))
        rows.append(LayerRow(
            name=names.get(module, "") or type(module).__name__,
            type=type(module).__name__,
            output_shape=_shape_of(output),
            params=sum(p.numel() for p in params) if first_call else 0,
            trainable=bool(params) and all(p.requires_grad for p in params),
        ))

    modes = {m: m.training for m in model.modules()}
    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        model.eval()
        with torch.no_grad():
            out = model(torch.zeros((1, *input_shape), device=device, dtype=dtype))
    except RuntimeError as exc:
        raise ModelError(
            f"The model cannot process images of shape {input_shape}: {str(exc).splitlines()[0]}"
        ) from None
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode

    tensors = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    size_bytes = sum(t.numel() * t.element_size() for t in tensors.values())
    return Summary(
        input_shape=input_shape,
        output_shape=_shape_of(out),
        rows=rows,
        total_params=count_parameters(model),
        trainable_params=count_parameters(model, trainable_only=True),
        size_mb=size_bytes / 2**20,
    )
