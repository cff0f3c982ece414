"""Keypoint models run through onnxruntime for the live view: the same points, two to three times sooner.

On this project's reference CPU (2 cores, one thread for the live view) onnxruntime ran kp-cnn4 on one
64-px crop in about a third of eager PyTorch's time and kp-resnet18 (96 px) in about half
(``python bench/webcam_fps.py`` reports both, interleaved in one process). A live frame has one or two
faces, so the model call is the part that matters.

``onnx_predictor(predictor, threads)`` exports the model once to ONNX (cached under the user's data
folder, keyed by the weights' content, so the next start reuses it), opens an onnxruntime session with
``threads`` intra-op threads, checks on a fixed batch that it gives the same points as PyTorch (within
``TOLERANCE_PX``), and returns a predictor with the same interface. When anything on the way fails
(onnxruntime missing, an exporter that cannot handle the model, a damaged cache file, different points)
it returns the PyTorch predictor and a plain sentence saying why; the live view keeps working either way.
"""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from app.core.paths import home_dir
from app.engine.keypoints import KeypointPredictor

#: the largest difference (pixels of the model's crop) allowed between onnxruntime's and PyTorch's points
TOLERANCE_PX = 0.01
#: the crops of the check batch (fixed: a cached file is checked the same way every start)
_CHECK_BATCH = 4


def cache_dir() -> Path:
    """Where exported live models are kept (one small .onnx file per set of weights)."""
    return home_dir() / "cache" / "live-models"


def weights_key(predictor: KeypointPredictor) -> str:
    """A short fingerprint of the model's weights, input size and the torch version that exports them."""
    h = hashlib.sha256()
    h.update(f"{predictor.meta.get('model')}|{predictor.input_size}|{predictor.num_points}|{torch.__version__}".encode())
    for name, t in sorted(predictor.model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


class OnnxKeypointPredictor(KeypointPredictor):
    """A ``KeypointPredictor`` whose model call runs in an onnxruntime session (CPU)."""

    runtime = "onnxruntime"

    def __init__(self, base: KeypointPredictor, session, path: Path):
        super().__init__(base.model, base.meta, base.device)
        self.session = session
        self.path = path
        self._input = session.get_inputs()[0].name
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


def _export(predictor: KeypointPredictor, path: Path) -> None:
    """Write the model as ONNX (dynamic batch) to ``path`` atomically (the legacy exporter: quick, and
    enough for these plain convolutional models)."""
    import warnings

    from app.core.files import atomic_write_bytes

    net = predictor.model
    s = predictor.input_size
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(net.cpu().eval(), (torch.zeros(1, 1, s, s),), buf, dynamo=False,
                              input_names=["crops"], output_names=["points"],
                              dynamic_axes={"crops": {0: "batch"}, "points": {0: "batch"}})
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


def onnx_predictor(predictor: KeypointPredictor, threads: int = 1, folder: Optional[Path] = None
                   ) -> tuple[KeypointPredictor, str]:
    """(predictor, note): the onnxruntime version of ``predictor`` and "" — or ``predictor`` itself and a
    plain sentence saying why it runs in PyTorch. Only CPU models are converted (a GPU runs PyTorch)."""
    if predictor.device.type != "cpu":
        return predictor, ""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return predictor, "The quicker live engine (onnxruntime) is not installed, so the model runs in PyTorch."
    folder = Path(folder) if folder is not None else cache_dir()
    path = folder / f"{predictor.meta.get('model', 'model')}-{weights_key(predictor)}.onnx"
    for attempt in ("cached", "fresh"):
        try:
            if attempt == "fresh" or not path.is_file():
                _export(predictor, path)
            fast = OnnxKeypointPredictor(predictor, _session(path, threads), path)
            diff = _same_points(fast, predictor)
            if diff <= TOLERANCE_PX:
                return fast, ""
            reason = f"its points differ from PyTorch's by {diff:.3f} px"
        except Exception as exc:  # noqa: BLE001 — any failure means: keep the PyTorch model, say so
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        if attempt == "cached":
            try:
                os.unlink(path)          # a damaged or stale cached file: export again once
            except OSError:
                pass
    return predictor, f"The quicker live engine could not run this model ({reason}), so it runs in PyTorch."


__all__ = ["onnx_predictor", "OnnxKeypointPredictor", "TOLERANCE_PX", "cache_dir", "weights_key"]
