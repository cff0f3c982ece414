"""Export a trained model to TorchScript or ONNX, verified before it is handed over.

Both exporters work on a CPU copy of the model in eval mode (the caller's model is not touched),
write to a temporary file next to the target, load that file back, run it on a fresh random batch
and compare with the eager model (``rtol=atol=1e-4``). Only a file that passed replaces ``path``
(atomic rename), so a failed export never leaves a broken or half-written file behind.

* TorchScript: ``torch.jit.trace`` (deprecated in recent PyTorch but still the way to get a file
  that ``torch.jit.load`` runs without the Python code), checked with ``torch.jit.load``.
* ONNX: the ``torch.export``-based exporter (needs the ``onnx`` and ``onnxscript`` packages; the
  older TorchScript-based exporter is used when ``onnxscript`` is missing), with a dynamic batch
  axis; input ``images`` (B, C, H, W) float32, output ``logits``. Checked with ``onnxruntime`` when
  it is installed, otherwise only structurally with ``onnx.checker``.
"""
from __future__ import annotations

import copy
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from app.core.errors import ModelError, UserError

RTOL = 1e-4
ATOL = 1e-4
_EXPORT_BATCH = 2   # batch size used to trace / export (not 1: the exporter would fix it)
_VERIFY_BATCH = 3   # a different batch size, so a wrongly fixed batch axis is caught


@dataclass
class ExportResult:
    path: Path
    format: str              # "torchscript" | "onnx"
    verified_with: str       # "torch.jit.load" | "onnxruntime" | "onnx.checker (no onnxruntime)"
    max_abs_diff: float | None   # largest |exported - eager| on the check batch (None: not run)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _check_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ModelError(f"The input shape must be (channels, height, width), not {input_shape!r}.") from None
    if not shape or min(shape) < 1:
        raise ModelError(f"The input shape must be (channels, height, width), not {input_shape!r}.")
    return shape


def _cpu_eval_copy(model: nn.Module) -> nn.Module:
    try:
        clone = copy.deepcopy(model)
    except Exception as exc:
        raise ModelError(f"The model cannot be copied for export: {_first_line(exc)}") from None
    return clone.cpu().eval()


def _temp_path(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def _compare(expected: torch.Tensor, got: Any, what: str) -> float:
    got = torch.as_tensor(got).to(expected.dtype)
    if got.shape != expected.shape:
        raise ModelError(f"The exported {what} model gives outputs of shape {tuple(got.shape)}, "
                         f"the model gives {tuple(expected.shape)}; the export cannot be trusted.")
    diff = float((got - expected).abs().max()) if expected.numel() else 0.0
    if not torch.allclose(got, expected, rtol=RTOL, atol=ATOL):
        raise ModelError(f"The exported {what} model does not compute the same results as the model "
                         f"(largest difference {diff:.3g}); the export cannot be trusted.")
    return diff


def _write_verified(path: str | os.PathLike, fmt: str,
                    write: Callable[[Path], None], verify: Callable[[Path], tuple[str, float | None]]
                    ) -> ExportResult:
    from app.core.files import file_mode, output_path

    target = output_path(path, what=f"the {fmt} file")
    try:
        tmp = _temp_path(target)
    except OSError as exc:
        raise ModelError(f"Cannot write to {target.parent}: {exc.strerror or exc}.") from None
    try:
        write(tmp)
        verified_with, diff = verify(tmp)
        os.chmod(tmp, file_mode(target))
        os.replace(tmp, target)
    except ModelError:
        raise
    except OSError as exc:
        raise ModelError(f"Cannot write {target}: {exc.strerror or _first_line(exc)}.") from None
    except Exception as exc:
        raise ModelError(f"Could not export the model to {fmt}: {_first_line(exc)}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(target, fmt.lower(), verified_with, diff)


def export_torchscript(model: nn.Module, input_shape: tuple[int, int, int],
                       path: str | os.PathLike) -> ExportResult:
    """Trace ``model`` for (C, H, W) images into a TorchScript file at ``path``; verified."""
    shape = _check_shape(input_shape)
    net = _cpu_eval_copy(model)
    example = torch.randn(_EXPORT_BATCH, *shape)
    check = torch.randn(_VERIFY_BATCH, *shape)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation notice and tracer chatter
            with torch.no_grad():
                traced = torch.jit.trace(net, example, check_trace=False)
            torch.jit.save(traced, str(tmp))

    def verify(tmp: Path) -> tuple[str, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = torch.jit.load(str(tmp), map_location="cpu")
        with torch.no_grad():
            return "torch.jit.load", _compare(net(check), loaded(check), "TorchScript")

    return _write_verified(path, "TorchScript", write, verify)


def export_onnx(model: nn.Module, input_shape: tuple[int, int, int],
                path: str | os.PathLike, opset_version: int | None = None) -> ExportResult:
    """Export ``model`` for (C, H, W) images to an ONNX file at ``path`` (dynamic batch); verified."""
    shape = _check_shape(input_shape)
    try:
        import onnx  # noqa: F401  (both exporters write through it)
    except ImportError:
        raise ModelError("ONNX export needs the 'onnx' package, which is not installed.") from None
    net = _cpu_eval_copy(model)
    example = torch.randn(_EXPORT_BATCH, *shape)
    check = torch.randn(_VERIFY_BATCH, *shape)

    def write(tmp: Path) -> None:
        try:
            import onnxscript  # noqa: F401
            dynamo = True
        except ImportError:
            dynamo = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamo:
                torch.onnx.export(
                    net, (example,), str(tmp), dynamo=True, verbose=False, external_data=False,
                    input_names=["images"], output_names=["logits"], opset_version=opset_version,
                    dynamic_shapes=({0: torch.export.Dim("batch")},),
                )
            else:
                torch.onnx.export(
                    net, (example,), str(tmp), dynamo=False, verbose=False,
                    input_names=["images"], output_names=["logits"], opset_version=opset_version,
                    dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
                )

    def verify(tmp: Path) -> tuple[str, float | None]:
        try:
            import onnxruntime
        except ImportError:
            import onnx
            onnx.checker.check_model(str(tmp))
            return "onnx.checker (no onnxruntime)", None
        session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: check.numpy()}
        got = session.run(None, feed)[0]
        with torch.no_grad():
            return "onnxruntime", _compare(net(check), torch.from_numpy(got), "ONNX")

    return _write_verified(path, "ONNX", write, verify)


def export_checkpoint(checkpoint: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Save a copy of a model file (a run's best.pt or last.pt) at ``path`` (``.pt`` added when it has
    no such suffix), written atomically; a plain ``ModelError`` when it cannot be written."""
    from app.core.files import atomic_copy

    target = Path(path)
    if target.suffix.lower() != ".pt":
        target = target.with_suffix(".pt")
    try:
        return atomic_copy(checkpoint, target)
    except UserError:
        raise
    except OSError as exc:
        raise ModelError(f"Could not save {target}: {exc.strerror or _first_line(exc)}.") from None
