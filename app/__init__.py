"""VisionDesk: vision deep learning by clicking, on one shared training engine."""

__version__ = "0.1.0"
