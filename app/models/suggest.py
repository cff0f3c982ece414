"""The model VisionDesk suggests for a person's own pictures (a data set made in the app, an image folder).

One function for the make-use-share path and the live benchmark (``bench/live_classify.py``): the model is
``registry.default_classifier("folder")`` — the shipped pretrained EfficientNet-Lite0, or ``cnn4`` when its
weights are not installed — and the square side the pictures are decoded at suits that model.
"""
from __future__ import annotations

#: the picture side for each model a person's own pictures may get: EfficientNet-Lite0 sees 192-px pictures
#: (its automatic input size for mid-sized photos; camera frames are far larger), cnn4 trains at 64 px
SIDES = {"efficientnet-lite0": 192}
FROM_SCRATCH_SIDE = 64


def model_for_own_pictures() -> tuple[str, dict, int]:
    """(registered model name, model options, square image side) for a small set of the person's own photos."""
    from app.models.registry import default_classifier

    name = default_classifier("folder")
    return name, {}, SIDES.get(name, FROM_SCRATCH_SIDE)


def own_pictures_side() -> int:
    """The square side pictures of mixed (or large) sizes are decoded at when the person keeps "original
    size": the side that suits the suggested model, the same in the app and the command line so a run
    reopened or continued sees the pictures it was trained on."""
    return model_for_own_pictures()[2]
