"""The model layer: a registry of buildable models, layer summaries and export (torch only, no Qt).

Usage::

    from app.models import build_model, list_models
    model = build_model("cnn4", in_channels=1, image_size=28, num_classes=10)

Model modules register themselves when imported. Each module named in ``_MODULES`` is imported
here in order; a new model family adds its module name to the list (classifiers live in ``zoo``).
A listed module that does not exist is skipped, so the list may name a family still being written.
"""
from __future__ import annotations

import importlib

from app.models.registry import (
    DEFAULT_HYPERPARAMETERS,
    ModelInfo,
    build_model,
    get_model_info,
    list_models,
    register,
)

_MODULES = ["zoo", "keypoints", "gan"]

for _name in _MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:
        # A listed family whose module is not in this checkout (yet) is left out; an import
        # error inside a module that exists is a bug and is raised.
        if _exc.name != f"{__name__}.{_name}":
            raise

from app.models.export import ExportResult, export_onnx, export_torchscript  # noqa: E402
from app.models.summary import LayerRow, Summary, count_parameters, summarize  # noqa: E402
from app.models.zoo import (  # noqa: E402
    Classifier,
    download_pretrained,
    pretrained_available,
    pretrained_weights_path,
)

__all__ = [
    "DEFAULT_HYPERPARAMETERS",
    "Classifier",
    "ExportResult",
    "LayerRow",
    "ModelInfo",
    "Summary",
    "build_model",
    "count_parameters",
    "download_pretrained",
    "export_onnx",
    "export_torchscript",
    "get_model_info",
    "list_models",
    "pretrained_available",
    "pretrained_weights_path",
    "register",
    "summarize",
]
