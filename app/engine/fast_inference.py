"""Live models run through onnxruntime on a CPU: the same answers, two to three times sooner.

On this project's reference CPU (2 cores, one thread for the live view) onnxruntime ran kp-cnn4 on one
64-px crop in about a third of eager PyTorch's time and kp-resnet18 (96 px) in about half
(``python bench/webcam_fps.py`` reports both, interleaved in one process). A live frame has one or two
faces, so the model call is the part that matters.

``onnx_predictor(predictor, threads)`` (a keypoint model) and ``onnx_classifier(classifier, threads)`` (an
image classifier, for live Try it) export the model once to ONNX (cached under the user's data folder,
keyed by the weights' content, so the next start reuses it), open an onnxruntime session with ``threads``
intra-op threads, check on a fixed batch that it gives PyTorch's answers (points within ``TOLERANCE_PX``,
probabilities within ``TOLERANCE_P``), and return an object with the same interface. When anything on the
way fails (onnxruntime missing, an exporter that cannot handle the model, a damaged cache file, different
answers) they return the PyTorch object and a plain sentence saying why; the live views work either way.
"""
from __future__ import annotations

import hashlib
import io
import os
import weakref
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from app.core.paths import home_dir
from app.engine.keypoints import KeypointPredictor
from app.engine.predict import Classifier
from app.models.layers import class_probabilities, output_kind

#: the largest difference (pixels of the model's crop) allowed between onnxruntime's and PyTorch's points
TOLERANCE_PX = 0.01
#: the largest difference allowed between onnxruntime's and PyTorch's class probabilities
TOLERANCE_P = 1e-3
#: the crops of the check batch (fixed: a cached file is checked the same way every start)
_CHECK_BATCH = 4


def cache_dir() -> Path:
    """Where exported live models are kept (one small .onnx file per set of weights)."""
    return home_dir() / "cache" / "live-models"


#: fingerprints already worked out, per loaded model (a model is hashed once, not at every live start)
_KEYS: "weakref.WeakKeyDictionary[torch.nn.Module, dict[str, str]]" = weakref.WeakKeyDictionary()


def weights_key(model: torch.nn.Module, describe: str) -> str:
    """A short fingerprint of a model's weights, what it is (``describe``) and the torch version exporting it.
    Worked out once per loaded model (live models are loaded from files and never trained in place)."""
    known = _KEYS.setdefault(model, {})
    if describe not in known:
        known[describe] = _fingerprint(model, describe)
    return known[describe]


def _fingerprint(model: torch.nn.Module, describe: str) -> str:
    h = hashlib.sha256()
    h.update(f"{describe}|{torch.__version__}".encode())
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


class _OnnxRun:
    """What both onnxruntime wrappers hold: the session and the name of its one input."""

    runtime = "onnxruntime"

    def _attach(self, session) -> None:
        self.session = session
        self._input = session.get_inputs()[0].name


class OnnxKeypointPredictor(_OnnxRun, KeypointPredictor):
    """A ``KeypointPredictor`` whose model call runs in an onnxruntime session (CPU)."""

    def __init__(self, base: KeypointPredictor, session):
        super().__init__(base.model, base.meta, base.device)
        self._attach(session)
        self._scale = np.float32(1 / (255 * self._std))
        self._shift = np.float32(self._mean / self._std)

    def predict(self, crops) -> np.ndarray:
        x = self._as_tensor(crops)
        if len(x) == 0:
            return np.zeros((0, self.num_points, 2), np.float32)
        arr = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        feed = arr.astype(np.float32) * self._scale - self._shift
        u = self.session.run(None, {self._input: feed})[0].reshape(len(arr), self.num_points, 2)
        return (u * np.float32(self._h) + np.float32(self._c)).astype(np.float32, copy=False)


def _export(model: torch.nn.Module, shape: tuple[int, ...], path: Path) -> None:
    """Write ``model`` for inputs (N, *shape) as ONNX (dynamic batch) to ``path`` atomically (the legacy
    exporter: quick, and enough for these plain convolutional models)."""
    import copy
    import warnings

    from app.core.files import atomic_write_bytes

    net = copy.deepcopy(model).cpu().eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(net, (torch.zeros(1, *shape),), buf, dynamo=False,
                              input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def _session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _same_points(fast: KeypointPredictor, slow: KeypointPredictor) -> float:
    s = slow.input_size
    g = torch.Generator().manual_seed(0)
    crops = torch.randint(0, 256, (_CHECK_BATCH, 1, s, s), generator=g, dtype=torch.uint8)
    return float(np.abs(fast.predict(crops) - slow.predict(crops)).max())


def _convert(model: torch.nn.Module, device: torch.device, shape: tuple[int, ...], name: str, folder: Optional[Path],
             make_fast, differs, tolerance: float, unit: str) -> tuple[Any, str]:
    """The common path of ``onnx_predictor`` and ``onnx_classifier``: (fast object, "") or (None, why not)."""
    if device.type != "cpu":
        return None, ""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None, "The quicker live engine (onnxruntime) is not installed, so the model runs in PyTorch."
    folder = Path(folder) if folder is not None else cache_dir()
    path = folder / f"{name}-{weights_key(model, f'{name}|{shape}')}.onnx"
    for attempt in ("cached", "fresh"):
        try:
            if attempt == "fresh" or not path.is_file():
                _export(model, shape, path)
            fast = make_fast(path)
            diff = differs(fast)
            if diff <= tolerance:
                return fast, ""
            reason = f"its answers differ from PyTorch's by {diff:.3g}{unit}"
        except Exception as exc:  # noqa: BLE001 — any failure means: keep the PyTorch model, say so
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        if attempt == "cached":
            try:
                os.unlink(path)          # a damaged or stale cached file: export again once
            except OSError:
                pass
    return None, f"The quicker live engine could not run this model ({reason}), so it runs in PyTorch."


def onnx_predictor(predictor: KeypointPredictor, threads: int = 1, folder: Optional[Path] = None
                   ) -> tuple[KeypointPredictor, str]:
    """(predictor, note): the onnxruntime version of ``predictor`` and "" — or ``predictor`` itself and a
    plain sentence saying why it runs in PyTorch. Only CPU models are converted (a GPU runs PyTorch)."""
    s = predictor.input_size
    fast, note = _convert(predictor.model, predictor.device, (1, s, s), str(predictor.meta.get("model", "model")),
                          folder, lambda path: OnnxKeypointPredictor(predictor, _session(path, threads)),
                          lambda fast: _same_points(fast, predictor), TOLERANCE_PX, " px")
    return (fast, note) if fast is not None else (predictor, note)


class OnnxClassifier(_OnnxRun, Classifier):
    """A ``Classifier`` whose model call runs in an onnxruntime session (CPU): ``probabilities`` as PyTorch's."""

    def __init__(self, base: Classifier, session):
        super().__init__(base.model, base.meta, base.device)
        self._attach(session)
        self._kind = output_kind(base.model)

    def probabilities(self, images_uint8: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        out = []
        for i in range(0, len(images_uint8), batch_size):
            x = self.normalise(images_uint8[i:i + batch_size]).numpy()
            out.append(class_probabilities(torch.from_numpy(self.session.run(None, {self._input: x})[0]), self._kind))
        return torch.cat(out) if out else torch.empty(0, len(self.classes))


def _same_probabilities(fast: Classifier, slow: Classifier) -> float:
    c, h, w = slow.input_shape
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (_CHECK_BATCH, c, h, w), generator=g, dtype=torch.uint8)
    return float((fast.probabilities(images) - slow.probabilities(images)).abs().max())


def onnx_classifier(classifier: Classifier, threads: int = 1, folder: Optional[Path] = None
                    ) -> tuple[Classifier, str]:
    """(classifier, note): the onnxruntime version of an image classifier (live Try it) and "" — or
    ``classifier`` itself and a plain sentence saying why it runs in PyTorch."""
    fast, note = _convert(classifier.model, classifier.device, classifier.input_shape,
                          str(classifier.meta.get("model", "model")), folder,
                          lambda path: OnnxClassifier(classifier, _session(path, threads)),
                          lambda fast: _same_probabilities(fast, classifier), TOLERANCE_P, "")
    return (fast, note) if fast is not None else (classifier, note)


__all__ = ["onnx_predictor", "onnx_classifier", "OnnxKeypointPredictor", "OnnxClassifier", "TOLERANCE_PX",
           "TOLERANCE_P", "cache_dir", "weights_key"]
