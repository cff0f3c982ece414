"""Which keypoint model the live view opens with: accurate enough AND quick enough on this computer.

The most accurate shipped model is not the best live model on every machine: on a 2-core laptop CPU
kp-resnet18 takes several times longer per face than kp-cnn4. So each shipped model is timed once on
this computer (the way the live view runs it: onnxruntime or PyTorch, the live view's thread count, one
face crop), the figures are kept next to the exported live models, and ``choose_live_model`` picks the
most accurate model whose time per face fits ``MODEL_BUDGET_MS``; when none fits, the quickest.

Why 12 ms: the live view promises 30 frames per second (33 ms a frame); capture, face detection and
drawing take about 12 ms of that on the reference CPU (``bench/webcam_fps.py``), and one more face or a
busy moment must not drop the frame rate below 30.
"""
from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

#: the most a model may take per face (milliseconds) to be the live view's default
MODEL_BUDGET_MS = 12.0
_TIMINGS_FILE = "timings.json"
_FORMAT = 1


@dataclass
class Timed:
    """A model's accuracy and its measured time per face here."""

    key: str
    nme: Optional[float]       # NME as a fraction (lower is better); None when unknown
    ms: Optional[float]        # milliseconds per face on this computer; None when not timed
    new_faces: bool = False    # ``nme`` was measured on people the model never saw (else on its test faces)


def accuracy_rank(nme: Optional[float], new_faces: bool) -> tuple:
    """Sort key, most accurate first: a figure measured on people the model never saw (what the live view
    meets: the person in front of the camera is new to it) before a figure on test faces of people it
    trained on, which flatters it; lower error first; no figure last."""
    return (nme is None, not new_faces, nme if nme is not None else 0.0)


def choose_live_model(models: Iterable[Timed], budget_ms: float = MODEL_BUDGET_MS) -> Optional[str]:
    """The key of the model the live view should open with (see the module notes); None for no models.

    Untimed models count as fitting (nothing says they are slow); models are compared by
    ``accuracy_rank``."""
    models = list(models)
    if not models:
        return None
    fits = [m for m in models if m.ms is None or m.ms <= budget_ms]
    if fits:
        return min(fits, key=lambda m: (*accuracy_rank(m.nme, m.new_faces), m.ms or 0.0)).key
    return min(models, key=lambda m: m.ms).key


def machine_key() -> str:
    """Timings belong to one computer: its processor, core count and Python/onnxruntime build."""
    return f"{platform.machine()}|{platform.processor()}|{os.cpu_count()}"


def _timings_path() -> Path:
    from app.engine.fast_inference import cache_dir

    return cache_dir() / _TIMINGS_FILE


def saved_timings() -> dict[str, float]:
    """{model key: ms per face} measured earlier on this computer ({} when none or unreadable)."""
    try:
        data = json.loads(_timings_path().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("machine") != machine_key():
        return {}
    ms = data.get("ms_per_face")
    if not isinstance(ms, dict):
        return {}
    return {str(k): float(v) for k, v in ms.items() if isinstance(v, (int, float)) and np.isfinite(v) and v > 0}


def save_timings(ms_per_face: dict[str, float]) -> None:
    from app.core.files import atomic_write_text

    merged = {**saved_timings(), **ms_per_face}
    path = _timings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"format": _FORMAT, "machine": machine_key(), "ms_per_face": merged},
                                       indent=1))


def time_per_face(predictor, calls: int = 30) -> float:
    """Milliseconds of ``predictor.predict`` on one face crop (after two warm-up calls): the 20th
    percentile of ``calls`` calls, so that another program busy for a moment does not make a model
    look slow for good (the figure is kept)."""
    s = int(predictor.input_size)
    crop = np.random.default_rng(0).integers(0, 256, (1, s, s), dtype=np.uint8)
    for _ in range(2):
        predictor.predict(crop)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        predictor.predict(crop)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 20))


def measure_shipped(keys: Iterable[str], load: Optional[Callable[[str], object]] = None,
                    should_stop: Callable[[], bool] = lambda: False) -> dict[str, float]:
    """Time each shipped model the way the live view runs it, save and return {key: ms per face}.
    ``load(key)`` gives the predictor to time (default: the live view's: onnxruntime when possible)."""
    from app.engine.threads import intra_op_threads
    from app.vision.pipeline import live_torch_threads

    threads = live_torch_threads()
    if load is None:
        def load(key: str):
            from app.engine.fast_inference import onnx_predictor
            from app.engine.keypoints import load_keypoint_model

            return onnx_predictor(load_keypoint_model(key, device="cpu"), threads)[0]
    out: dict[str, float] = {}
    with intra_op_threads(threads):
        for key in keys:
            if should_stop():
                break
            out[key] = time_per_face(load(key))
    if out:
        save_timings(out)
    return out


def speed_words(ms: Optional[float]) -> str:
    """'about 4 ms per face on this computer' (what the picker shows under the model)."""
    if ms is None:
        return ""
    return f"about {ms:.0f} ms per face on this computer" if ms >= 1 else "under 1 ms per face on this computer"


__all__ = ["MODEL_BUDGET_MS", "Timed", "choose_live_model", "measure_shipped", "saved_timings", "save_timings",
           "speed_words", "time_per_face", "machine_key"]
