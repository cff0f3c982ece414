"""The Keypoints tab, in parts: ``tab`` (the tab and its live view control), ``source_picker``,
``model_picker``, ``train_panel`` ("Train your own model") and ``widgets`` (frame view, speed box)."""
from app.ui.tabs.keypoints.tab import KeypointsTab

__all__ = ["KeypointsTab"]
