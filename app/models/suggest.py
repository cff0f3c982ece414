"""The model VisionDesk suggests for a person's own pictures (a data set made in the app, an image folder).

One function, so that the pretrained transfer-learning default (issue 17) replaces today's choice in one place:
the live benchmark (``bench/live_classify.py``) and the make-use-share path call this, never a model name.
"""
from __future__ import annotations


def model_for_own_pictures() -> tuple[str, dict, int]:
    """(registered model name, model options, square image side) for a small set of the person's own photos.
    Today: ``cnn4`` trained from scratch at 64x64, the strongest small classifier in the registry that trains in
    a minute on a CPU."""
    return "cnn4", {}, 64
