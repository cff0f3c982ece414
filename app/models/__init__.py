"""The model layer: a registry of buildable models, layer summaries and export (torch only, no Qt).

Usage::

    from app.models import build_model, list_models
    model = build_model("cnn4", in_channels=1, image_size=28, num_classes=10)

Model modules register themselves when imported; they are imported at the end of this file, in the
order the zoo lists them (classifiers live in ``zoo``). A new family adds its import there.
"""
from __future__ import annotations

from app.models.registry import (
    DEFAULT_HYPERPARAMETERS,
    ModelInfo,
    build_model,
    default_classifier,
    get_model_info,
    input_normalization,
    list_models,
    register,
)

# each family registers its models on import, in this order
from app.models import zoo  # noqa: E402,F401,I001
from app.models import efficientnet  # noqa: E402,F401
from app.models import keypoints  # noqa: E402,F401
from app.models import gan  # noqa: E402,F401

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
    "default_classifier",
    "download_pretrained",
    "export_onnx",
    "export_torchscript",
    "get_model_info",
    "input_normalization",
    "list_models",
    "pretrained_available",
    "pretrained_weights_path",
    "register",
    "summarize",
]
