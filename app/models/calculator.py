"""A layer calculator: a layer type, its arguments and an input shape -> the output shape, the number of
parameters and the formula spelled out (the arithmetic the lessons do by hand).

    >>> r = calculate("Conv2d", (1, 32, 5), {"padding": 2}, (1, 28, 28))
    >>> r.output_shape, r.params
    ((32, 28, 28), 832)
    >>> calculate_text("Conv2d(1, 32, 5, padding=2)", (1, 28, 28)).formula   # the words, line by line

Shapes leave out the batch dimension: ``(C, H, W)`` for images, ``(F,)`` for vectors. The numbers
come from the formulas of PyTorch's documentation (no model is built); the tests check them against
PyTorch. Bad arguments raise ``ModelError`` with a plain message. No Qt here.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from app.core.errors import ModelError

# layer type -> its arguments in PyTorch's order, with defaults (None: required)
LAYER_TYPES: dict[str, dict[str, Any]] = {
    "Conv2d": {"in_channels": None, "out_channels": None, "kernel_size": None, "stride": 1, "padding": 0,
               "dilation": 1, "groups": 1, "bias": True},
    "ConvTranspose2d": {"in_channels": None, "out_channels": None, "kernel_size": None, "stride": 1,
                        "padding": 0, "output_padding": 0, "groups": 1, "bias": True, "dilation": 1},
    "MaxPool2d": {"kernel_size": None, "stride": None, "padding": 0, "dilation": 1, "ceil_mode": False},
    "AvgPool2d": {"kernel_size": None, "stride": None, "padding": 0, "ceil_mode": False,
                  "count_include_pad": True},
    "Linear": {"in_features": None, "out_features": None, "bias": True},
    "Flatten": {"start_dim": 1, "end_dim": -1},
    "BatchNorm2d": {"num_features": None, "eps": 1e-5, "momentum": 0.1, "affine": True,
                    "track_running_stats": True},
}
_LOWER = {k.lower(): k for k in LAYER_TYPES}


@dataclass
class LayerCalc:
    layer: str                         # e.g. "Conv2d(1, 32, kernel_size=5, padding=2)"
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    formula: list[str] = field(default_factory=list)   # the working, one line per step

    @property
    def text(self) -> str:
        shape = lambda s: "x".join(str(v) for v in s)  # noqa: E731
        return (f"{self.layer} on {shape(self.input_shape)} -> {shape(self.output_shape)}, "
                f"{self.params:,} parameters\n" + "\n".join(self.formula))


def _pair(name: str, v: Any) -> tuple[int, int]:
    if isinstance(v, bool):
        raise ModelError(f"{name} must be a whole number or a pair of whole numbers, not {v!r}.")
    if isinstance(v, int):
        return v, v
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return int(v[0]), int(v[1])
    raise ModelError(f"{name} must be a whole number or a pair of whole numbers, not {v!r}.")


def _int(name: str, v: Any, minimum: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ModelError(f"{name} must be a whole number of at least {minimum}, not {v!r}.")
    return v


def _bind(layer: str, args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kind = _LOWER.get(str(layer).strip().lower())
    if kind is None:
        raise ModelError(f"The calculator knows {', '.join(LAYER_TYPES)}; not {layer!r}.")
    spec = LAYER_TYPES[kind]
    names = list(spec)
    if len(args) > len(names):
        raise ModelError(f"{kind} takes at most {len(names)} arguments ({', '.join(names)}).")
    values = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in spec:
            raise ModelError(f"{kind} has no argument {k!r}; its arguments are {', '.join(names)}.")
        if k in values:
            raise ModelError(f"{kind}: {k} is given twice.")
        values[k] = v
    for k, default in spec.items():
        if k not in values:
            if default is None and not (k == "stride" and kind.endswith("Pool2d")):
                raise ModelError(f"{kind} needs {k}.")
            values[k] = default
    return kind, values


def _call_text(kind: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{kind}({', '.join(parts)})"


def _image(kind: str, shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ModelError(f"{kind} works on images: give the input shape as channels x height x width, "
                         f"e.g. 1x28x28 (not {'x'.join(map(str, shape)) or 'nothing'}).")
    return shape  # type: ignore[return-value]


def _check_channels(kind: str, got: int, expected: int, what: str) -> None:
    if got != expected:
        raise ModelError(f"{kind} expects {expected} input channels ({what}) but the input has {got}.")


def _spatial(kind: str, h: int, w: int, oh: int, ow: int) -> None:
    if oh < 1 or ow < 1:
        raise ModelError(f"{kind}: the output would be {oh}x{ow}, which is empty: the input ({h}x{w}) is too "
                         f"small for this kernel, stride and padding.")


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> tuple[int, str]:
    top = size + 2 * p - d * (k - 1) - 1
    out = (math.ceil if ceil_mode else math.floor)(top / s) + 1
    note = ""
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1                 # the last window would start in the right padding: PyTorch drops it
        note = " (minus 1: the last window would start entirely in the padding)"
    return out, note


def calculate(layer: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
              input_shape: Sequence[int] = (1, 28, 28)) -> LayerCalc:
    """Output shape, parameter count and the formula in words of ``layer(*args, **kwargs)`` applied
    to one input of ``input_shape`` (no batch dimension)."""
    kwargs = dict(kwargs or {})
    kind, a = _bind(layer, tuple(args), kwargs)
    try:
        shape = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ModelError(f"The input shape must be whole numbers, e.g. 1x28x28 (not {input_shape!r}).") from None
    if not shape or min(shape) < 1:
        raise ModelError(f"Every size of the input shape must be at least 1 (not {input_shape!r}).")
    call = _call_text(kind, args, kwargs)
    lines: list[str] = []

    if kind in ("Conv2d", "ConvTranspose2d"):
        c, h, w = _image(kind, shape)
        cin, cout = _int("in_channels", a["in_channels"], 1), _int("out_channels", a["out_channels"], 1)
        (kh, kw), (sh, sw) = _pair("kernel_size", a["kernel_size"]), _pair("stride", a["stride"])
        (ph, pw), (dh, dw) = _pair("padding", a["padding"]), _pair("dilation", a["dilation"])
        groups = _int("groups", a["groups"], 1)
        if min(kh, kw, sh, sw, dh, dw) < 1 or min(ph, pw) < 0:
            raise ModelError(f"{kind}: kernel size, stride and dilation must be at least 1 and padding at least 0.")
        if cin % groups or cout % groups:
            raise ModelError(f"{kind}: in_channels ({cin}) and out_channels ({cout}) must both be divisible by "
                             f"groups ({groups}).")
        _check_channels(kind, c, cin, "in_channels")
        bias = bool(a["bias"])
        if kind == "Conv2d":
            oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
            ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
            _spatial(kind, h, w, oh, ow)
            lines.append(f"Output height = floor((height + 2 x padding - dilation x (kernel - 1) - 1) / stride) + 1 "
                         f"= floor(({h} + 2 x {ph} - {dh} x ({kh} - 1) - 1) / {sh}) + 1 = {oh}.")
            lines.append(f"Output width = floor(({w} + 2 x {pw} - {dw} x ({kw} - 1) - 1) / {sw}) + 1 = {ow}.")
            weights = cout * (cin // groups) * kh * kw
            lines.append(f"Output channels = out_channels = {cout}.")
            lines.append(f"Weights = out_channels x (in_channels / groups) x kernel height x kernel width = "
                         f"{cout} x {cin // groups} x {kh} x {kw} = {weights:,}.")
        else:
            (oph, opw) = _pair("output_padding", a["output_padding"])
            if oph >= max(sh, dh) or opw >= max(sw, dw) or min(oph, opw) < 0:
                raise ModelError(f"{kind}: output_padding must be smaller than the stride or the dilation.")
            oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
            ow = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
            _spatial(kind, h, w, oh, ow)
            lines.append(f"Output height = (height - 1) x stride - 2 x padding + dilation x (kernel - 1) + "
                         f"output_padding + 1 = ({h} - 1) x {sh} - 2 x {ph} + {dh} x ({kh} - 1) + {oph} + 1 = {oh}.")
            lines.append(f"Output width = ({w} - 1) x {sw} - 2 x {pw} + {dw} x ({kw} - 1) + {opw} + 1 = {ow}.")
            weights = cin * (cout // groups) * kh * kw
            lines.append(f"Output channels = out_channels = {cout}.")
            lines.append(f"Weights = in_channels x (out_channels / groups) x kernel height x kernel width = "
                         f"{cin} x {cout // groups} x {kh} x {kw} = {weights:,}.")
        params = weights + (cout if bias else 0)
        lines.append(f"Parameters = {weights:,} weights + {cout if bias else 0} biases = {params:,}."
                     if bias else f"Parameters = {weights:,} weights (no bias) = {params:,}.")
        out = (cout, oh, ow)

    elif kind in ("MaxPool2d", "AvgPool2d"):
        c, h, w = _image(kind, shape)
        kh, kw = _pair("kernel_size", a["kernel_size"])
        sh, sw = _pair("stride", a["stride"]) if a["stride"] is not None else (kh, kw)
        ph, pw = _pair("padding", a["padding"])
        dh, dw = _pair("dilation", a["dilation"]) if kind == "MaxPool2d" else (1, 1)
        if min(kh, kw, sh, sw, dh, dw) < 1 or min(ph, pw) < 0:
            raise ModelError(f"{kind}: kernel size, stride and dilation must be at least 1 and padding at least 0.")
        if ph > kh // 2 or pw > kw // 2:
            raise ModelError(f"{kind}: the padding ({ph}, {pw}) may be at most half the kernel size ({kh}, {kw}).")
        ceil_mode = bool(a["ceil_mode"])
        oh, nh = _pool_out(h, kh, sh, ph, dh, ceil_mode)
        ow, nw = _pool_out(w, kw, sw, pw, dw, ceil_mode)
        _spatial(kind, h, w, oh, ow)
        rnd = "ceil" if ceil_mode else "floor"
        stride_note = "" if a["stride"] is not None else " (stride defaults to the kernel size)"
        if kind == "MaxPool2d":
            lines.append(f"Output height = {rnd}((height + 2 x padding - dilation x (kernel - 1) - 1) / stride) + 1 "
                         f"= {rnd}(({h} + 2 x {ph} - {dh} x ({kh} - 1) - 1) / {sh}) + 1 = {oh}{nh}{stride_note}.")
            lines.append(f"Output width = {rnd}(({w} + 2 x {pw} - {dw} x ({kw} - 1) - 1) / {sw}) + 1 = {ow}{nw}.")
        else:
            lines.append(f"Output height = {rnd}((height + 2 x padding - kernel) / stride) + 1 "
                         f"= {rnd}(({h} + 2 x {ph} - {kh}) / {sh}) + 1 = {oh}{nh}{stride_note}.")
            lines.append(f"Output width = {rnd}(({w} + 2 x {pw} - {kw}) / {sw}) + 1 = {ow}{nw}.")
        lines.append(f"Channels stay {c}: pooling works on each channel separately.")
        lines.append(f"Parameters = 0: {'the maximum' if kind == 'MaxPool2d' else 'the average'} of each window "
                     f"is computed, nothing is learned.")
        params, out = 0, (c, oh, ow)

    elif kind == "Linear":
        fin, fout = _int("in_features", a["in_features"], 1), _int("out_features", a["out_features"], 1)
        if shape[-1] != fin:
            hint = " (flatten the maps first)" if len(shape) > 1 else ""
            raise ModelError(f"Linear expects {fin} input features but the input's last size is {shape[-1]}{hint}.")
        bias = bool(a["bias"])
        weights = fin * fout
        params = weights + (fout if bias else 0)
        out = (*shape[:-1], fout)
        lines.append(f"Output features = out_features = {fout} (each is a weighted sum of the {fin} inputs"
                     f"{' plus a bias' if bias else ''}).")
        lines.append(f"Weights = in_features x out_features = {fin} x {fout} = {weights:,}.")
        lines.append(f"Parameters = {weights:,} weights + {fout if bias else 0} biases = {params:,}.")

    elif kind == "Flatten":
        start, end = a["start_dim"], a["end_dim"]
        if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
            raise ModelError("Flatten: start_dim and end_dim must be whole numbers.")
        full = (1, *shape)                 # with the batch dimension, as PyTorch counts
        n = len(full)
        s, e = start % n if start < 0 else start, end % n if end < 0 else end
        if not (0 <= s < n and 0 <= e < n) or s > e:
            raise ModelError(f"Flatten: start_dim {start} and end_dim {end} do not fit an input of {n} dimensions "
                             f"(batch included).")
        merged = math.prod(full[s:e + 1])
        out_full = (*full[:s], merged, *full[e + 1:])
        if s == 0:
            raise ModelError("Flatten with start_dim=0 would merge the batch dimension; use start_dim=1.")
        out = out_full[1:]
        lines.append(f"Output = the sizes from dimension {s} to {e} multiplied together: "
                     f"{' x '.join(str(v) for v in full[s:e + 1])} = {merged:,} values per image.")
        lines.append("Parameters = 0: flattening only reshapes.")
        params = 0

    else:  # BatchNorm2d
        c, h, w = _image(kind, shape)
        nf = _int("num_features", a["num_features"], 1)
        _check_channels(kind, c, nf, "num_features")
        affine = bool(a["affine"])
        params = 2 * nf if affine else 0
        out = shape
        lines.append(f"Output shape = input shape {c}x{h}x{w}: each channel is normalised by its mean and "
                     f"standard deviation over the batch.")
        lines.append(f"Parameters = 2 x num_features = 2 x {nf} = {params} (a scale and a shift per channel)"
                     if affine else "Parameters = 0 (affine=False: no learned scale and shift).")
        if a["track_running_stats"]:
            lines.append(f"Plus 2 x {nf} running statistics (mean and variance) that are stored but not learned.")
    return LayerCalc(call, shape, tuple(out), int(params), lines)


def parse_layer(text: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """``"Conv2d(1, 32, 5, padding=2)"`` (``nn.`` prefix allowed) -> ("Conv2d", (1, 32, 5), {"padding": 2}).
    Only numbers, True/False/None and tuples are accepted as values (nothing is executed)."""
    src = str(text).strip()
    if src.startswith("nn."):
        src = src[3:]
    try:
        node = ast.parse(src, mode="eval").body
    except SyntaxError:
        raise ModelError(f"{text!r} is not a layer like Conv2d(1, 32, 5, padding=2).") from None
    if not isinstance(node, ast.Call):
        if isinstance(node, ast.Name):         # "Flatten" without brackets
            return node.id, (), {}
        raise ModelError(f"{text!r} is not a layer like Conv2d(1, 32, 5, padding=2).")
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name is None:
        raise ModelError(f"{text!r} is not a layer like Conv2d(1, 32, 5, padding=2).")
    try:
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    except ValueError:
        raise ModelError(f"The arguments of {text!r} must be plain numbers, True/False or pairs like (3, 3).") from None
    return name, args, kwargs


def calculate_text(text: str, input_shape: Sequence[int]) -> LayerCalc:
    """``calculate`` for a layer written as in PyTorch code, e.g. ``"nn.MaxPool2d(2)"``."""
    name, args, kwargs = parse_layer(text)
    return calculate(name, args, kwargs, input_shape)


def parse_shape(text: str | Sequence[int]) -> tuple[int, ...]:
    """``"1x28x28"`` (or ``1 × 28 × 28``, ``(1, 28, 28)``, ``784``) -> (1, 28, 28); a plain ``ModelError`` otherwise."""
    if not isinstance(text, str):
        return tuple(int(v) for v in text)
    parts = [p for p in re.split(r"[x×X*,\s()\[\]]+", text.strip()) if p]
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ModelError(f"Write the input shape as channels x height x width, e.g. 1x28x28, or one number of "
                         f"features, e.g. 784 (not {text.strip()!r}).")
    shape = tuple(int(p) for p in parts)
    if min(shape) < 1:
        raise ModelError(f"Every size of the input shape must be at least 1 (not {text.strip()!r}).")
    return shape


def _literal(name: str, text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ModelError(f"{name} must be a number, True/False or a pair like (3, 3); not {text!r}.") from None


def calculate_fields(layer: str, fields: dict[str, str], input_shape: str | Sequence[int]) -> LayerCalc:
    """``calculate`` from a form: ``fields`` maps argument names to the text typed for them (blank: the
    default). Required arguments are passed by position while none is missing before them, the others by
    name, so the layer reads as the lessons write it: ``Conv2d(1, 32, 5, padding=2)``."""
    kind = _LOWER.get(str(layer).strip().lower())
    if kind is None:
        raise ModelError(f"The calculator knows {', '.join(LAYER_TYPES)}; not {layer!r}.")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    gap = False
    for name, default in LAYER_TYPES[kind].items():
        text = str(fields.get(name, "") or "").strip()
        if not text:
            gap = gap or default is None
            continue
        value = _literal(name, text)
        if default is None and not gap and not kwargs:
            args.append(value)
        else:
            kwargs[name] = value
    return calculate(kind, args, kwargs, parse_shape(input_shape))
