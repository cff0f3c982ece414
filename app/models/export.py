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
                path: str | os.PathLike, opset_version: int | None = None,
                metadata: dict[str, str] | None = None) -> ExportResult:
    """Export ``model`` for (C, H, W) images to an ONNX file at ``path`` (dynamic batch); verified.

    ``metadata``: text key/value pairs stored in the model's ``metadata_props`` (what onnxruntime's
    ``get_modelmeta().custom_metadata_map`` returns), e.g. the class names and the preprocessing."""
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
        if metadata:
            import onnx

            proto = onnx.load(str(tmp))
            del proto.metadata_props[:]
            for key, value in metadata.items():
                entry = proto.metadata_props.add()
                entry.key, entry.value = str(key), str(value)
            onnx.save(proto, str(tmp))

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



# ---------------------------------------------------------------------------------------------- a folder to share
#: the files ``export_folder`` writes (the TorchScript file only when asked for)
ONNX_NAME, LABELS_NAME, README_NAME, EXAMPLE_NAME, TORCHSCRIPT_NAME = (
    "model.onnx", "labels.txt", "README.md", "predict.py", "model.torchscript.pt")
_README_TITLE = "# Image classifier exported by VisionDesk"      # how an earlier export's folder is recognised


@dataclass
class ExportFolder:
    folder: Path
    files: list[Path]
    onnx: ExportResult
    torchscript: ExportResult | None
    metadata: dict[str, str]


def model_metadata(meta: dict, output_kind: str = "logits") -> dict[str, str]:
    """What a program needs to use an exported classifier without VisionDesk, as ONNX metadata (text values;
    lists as JSON): class names, input size, channel order, scaling, normalisation, resize rule, output."""
    import json

    c, h, w = (int(v) for v in meta["input_shape"])
    return {
        "classes": json.dumps([str(k) for k in meta["classes"]]),
        "input_shape": json.dumps([c, h, w]),
        "input_layout": "NCHW float32, input name 'images'",
        "input_size": f"{w}x{h}",
        "channel_order": "RGB" if c == 3 else "L (grey)",
        "resize": f"stretch the whole picture to {w}x{h} pixels, bilinear (Pillow Image.BILINEAR)",
        "scale": "pixel values / 255",
        "mean": json.dumps([float(v) for v in meta["mean"]]),
        "std": json.dumps([float(v) for v in meta["std"]]),
        "normalisation": "(pixel / 255 - mean) / std, per channel",
        "output": output_kind,
        "model": str(meta.get("model", "")),
        "producer": "VisionDesk",
    }


def _example_code(output_kind: str) -> str:
    if output_kind == "binary-prob":
        probs = "p = float(np.clip(out.reshape(-1)[0], 0, 1))\nprobs = np.array([1 - p, p])"
    else:  # logits or log-probabilities: a softmax gives the probabilities either way
        probs = "probs = np.exp(out - out.max())\nprobs /= probs.sum()"
    return f"""import json
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
classes = json.loads(meta["classes"])
c, h, w = json.loads(meta["input_shape"])
mean = np.array(json.loads(meta["mean"]), np.float32).reshape(c, 1, 1)
std = np.array(json.loads(meta["std"]), np.float32).reshape(c, 1, 1)

picture = Image.open(sys.argv[1]).convert("RGB" if c == 3 else "L")
picture = picture.resize((w, h), Image.BILINEAR)
x = np.asarray(picture, np.float32).reshape(h, w, c).transpose(2, 0, 1) / 255
x = ((x - mean) / std)[None].astype(np.float32)

out = session.run(None, {{"images": x}})[0][0]
{probs}
best = int(probs.argmax())
print(f"{{classes[best]}} {{probs[best]:.1%}}")
"""


def _readme(meta: dict, metadata: dict[str, str], code: str, torchscript: bool, source: str) -> str:
    classes = [str(k) for k in meta["classes"]]
    c, h, w = (int(v) for v in meta["input_shape"])
    shown = ", ".join(classes[:20]) + (f", … ({len(classes)} in all)" if len(classes) > 20 else "")
    ts = (f"- `{TORCHSCRIPT_NAME}`: the same model as TorchScript (`torch.jit.load`), same input and output.\n"
          if torchscript else "")
    origin = f" from `{source}`" if source else ""
    return f"""{_README_TITLE}

A `{metadata['model'] or 'VisionDesk'}` model{origin} that sorts pictures into {len(classes)} classes: {shown}.

## Files

- `{ONNX_NAME}`: the model (ONNX). Its metadata holds the class names and the preprocessing, so it is
  usable on its own (`session.get_modelmeta().custom_metadata_map` in onnxruntime).
- `{LABELS_NAME}`: the class names, one per line, in the order of the model's outputs.
- `{EXAMPLE_NAME}`: the example below, ready to run.
{ts}
## Input

- {metadata['input_layout']}: a batch of {c}x{h}x{w} pictures ({metadata['channel_order']}).
- Preprocessing: {metadata["resize"]}; then {metadata["normalisation"]} with
  mean = {metadata['mean']} and std = {metadata['std']}.
- Output: one row per picture, one {"value" if metadata['output'] == "binary-prob" else "score"} per class
  ({metadata['output']}; the example turns it into probabilities).

## Example

Needs `pip install onnxruntime pillow numpy`. In this folder, run `python {EXAMPLE_NAME} picture.jpg`; it prints
the most likely class and how sure the model is:

```python
{code}```
"""


def _refuse_foreign_files(target: Path, torchscript: bool) -> None:
    """A folder that already holds files of our names is only written over when it is an earlier export (its
    README is ours): exporting into a project folder must not replace that project's README.md."""
    names = [ONNX_NAME, LABELS_NAME, README_NAME, EXAMPLE_NAME] + ([TORCHSCRIPT_NAME] if torchscript else [])
    present = [n for n in names if (target / n).exists()]
    if not present:
        return
    try:
        ours = (target / README_NAME).read_text(encoding="utf-8", errors="replace").startswith(_README_TITLE)
    except OSError:
        ours = False
    if not ours:
        raise ModelError(f"{target} already holds {', '.join(present)}, not from an earlier VisionDesk export; "
                         f"choose a new or empty folder so that nothing of yours is replaced.")


def export_folder(model: nn.Module, meta: dict, folder: str | os.PathLike, *, torchscript: bool = False,
                  source: str = "") -> ExportFolder:
    """Write a folder another program can use without VisionDesk: ``model.onnx`` (class names and
    preprocessing in its metadata), ``labels.txt``, ``README.md`` with a runnable example, the example as
    ``predict.py`` and, if asked, ``model.torchscript.pt``. ``meta``: the checkpoint's description of the
    model (classes, input_shape, mean, std). Every file is written atomically and checked; a ``ModelError``
    in plain words when the folder cannot be written."""
    from app.core.files import atomic_write_text
    from app.models.layers import output_kind

    target = Path(folder).expanduser()
    if target.exists() and not target.is_dir():
        raise ModelError(f"{target} is a file; choose a folder (a new or empty one) to export the model to.")
    _refuse_foreign_files(target, torchscript)
    try:
        metadata = model_metadata(meta, output_kind(model))
        shape = tuple(int(v) for v in meta["input_shape"])
    except (KeyError, TypeError, ValueError):
        raise ModelError("This model file does not describe its classes and input fully, so it cannot be "
                         "exported with its labels; train it again with this version of VisionDesk.") from None
    onnx_result = export_onnx(model, shape, target / ONNX_NAME, metadata=metadata)
    ts_result = export_torchscript(model, shape, target / TORCHSCRIPT_NAME) if torchscript else None
    code = _example_code(metadata["output"])
    texts = {LABELS_NAME: "".join(f"{k}\n" for k in meta["classes"]),
             EXAMPLE_NAME: code,
             README_NAME: _readme(meta, metadata, code, torchscript, source)}
    try:
        for name, text in texts.items():
            atomic_write_text(target / name, text)
    except UserError:
        raise
    except OSError as exc:
        raise ModelError(f"Cannot write to {target}: {exc.strerror or _first_line(exc)}.") from None
    files = [target / ONNX_NAME, *([target / TORCHSCRIPT_NAME] if ts_result else []), *(target / n for n in texts)]
    return ExportFolder(target, files, onnx_result, ts_result, metadata)
