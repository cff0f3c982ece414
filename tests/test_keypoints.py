"""Facial keypoints: loaders, augmentation, metrics, the task on the Trainer, predictor, CLI."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch

from app.data.keypoints import (IBUG68_FLIP, KAGGLE15_NAMES, KeypointAugment, flip_permutation_from_names,
                                from_unit, load_keypoints, to_unit)
from app.engine.checkpoint import save_checkpoint
from app.engine.keypoints import (face_box_to_crop, keypoint_metrics, load_keypoint_model, masked_loss)
from app.errors import CheckpointError, DataError, UserError


def _face_points(n: int, size: int, p: int = 68, seed: int = 0) -> np.ndarray:
    """Plausible point clouds: a ring of points around the crop centre, jittered per face."""
    rng = np.random.default_rng(seed)
    ang = np.linspace(0, 2 * np.pi, p, endpoint=False)
    base = np.stack([np.cos(ang), np.sin(ang)], 1) * size * 0.25 + (size - 1) / 2
    return (base[None] + rng.normal(0, size * 0.03, (n, p, 2))).astype(np.float32)


def _write_npz(path, n: int = 24, size: int = 32, p: int = 68, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, (n, size, size), dtype=np.uint8)
    pts = _face_points(n, size, p, seed)
    np.savez(path, images=images, keypoints=pts, names=np.array([f"face_{i:02d}.jpg" for i in range(n)]))
    return images, pts


# ---------------------------------------------------------------------------------------------- predictor API
def _untrained_weights(tmp_path, model="kp-cnn4", size=32, p=68):
    from app.models import build_model

    net = build_model(model, 1, size, 2 * p)
    meta = {"task": "keypoints", "model": model, "model_options": {}, "input_size": size, "num_points": p,
            "mean": [0.4], "std": [0.25], "flip_permutation": list(IBUG68_FLIP), "eye_corners": [36, 45]}
    path = tmp_path / "kp.pt"
    save_checkpoint({"model": {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()},
                     "meta": meta}, path)
    return path, net


def test_predictor_api_on_untrained_weights(tmp_path):
    path, net = _untrained_weights(tmp_path)
    kp = load_keypoint_model(path)
    assert kp.input_size == 32 and kp.num_points == 68 and kp.meta["model"] == "kp-cnn4"
    crops = np.random.default_rng(0).integers(0, 255, (3, 32, 32), dtype=np.uint8)
    pts = kp.predict(crops)
    assert pts.shape == (3, 68, 2) and pts.dtype == np.float32 and np.isfinite(pts).all()
    # the same crops as a uint8 tensor (N, 1, S, S) give the same points; equal to the net by hand
    pts_t = kp.predict(torch.from_numpy(crops).unsqueeze(1))
    np.testing.assert_allclose(pts, pts_t, atol=1e-5)
    net.eval()
    with torch.no_grad():
        x = (torch.from_numpy(crops).float().unsqueeze(1) / 255 - 0.4) / 0.25
        u = net.half().float()(x).view(3, 68, 2)
    np.testing.assert_allclose(pts, (u * 16 + 15.5).numpy(), atol=1e-3)
    with pytest.raises(UserError):
        kp.predict(np.zeros((1, 48, 48), np.uint8))
    with pytest.raises(CheckpointError):
        load_keypoint_model("no-such-weights")


def test_face_box_to_crop_is_square_and_centred():
    x0, y0, side = face_box_to_crop((100, 50, 80, 80), {"face_crop": {"scale": 2.0, "dx": 0.0, "dy": 0.1}})
    assert side == pytest.approx(160)
    assert x0 + side / 2 == pytest.approx(140) and y0 + side / 2 == pytest.approx(98)
