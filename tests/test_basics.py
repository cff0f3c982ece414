"""The Basics experiments (app.engine.basics): convergence, divergence, repeatability, plumbing."""
from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
import torch

from app.engine.basics import (GRID, LINE_POINTS, SINE_POINTS, TOO_LARGE, BasicsSettings, Diverged, LineTask,
                               line_data, make_basics_trainer, one_intra_op_thread, polynomial_formula, run_basics,
                               spiral_data)
from app.engine.build import build_task
from app.engine.config import TrainConfig
from app.engine.events import BatchEnd, EpochEnd, Failed, Finished
from app.engine.trainer import Control
from app.core.errors import UserError


def last_epoch(events) -> EpochEnd:
    return [e for e in events if isinstance(e, EpochEnd)][-1]


def batch_losses(events) -> list[float]:
    return [e.metrics["loss"] for e in events if isinstance(e, BatchEnd)]


# ---------------------------------------------------------------------------------------------- data
def test_data_sets_have_the_documented_shape():
    x, y = line_data(noise=0.0)
    assert x.shape == (LINE_POINTS,) and x[0] == 0 and abs(float(x[-1]) - 99.99) < 1e-4
    assert torch.allclose(y, 10 * x + 4)
    xs, ys = spiral_data(arms=3, points_per_arm=50, seed=1)
    assert xs.shape == (150, 2) and ys.bincount().tolist() == [50, 50, 50]
    assert float(xs.norm(dim=1).max()) <= 1.0 + 1e-6
    assert torch.equal(spiral_data(seed=4)[0], spiral_data(seed=4)[0])
    assert not torch.equal(spiral_data(seed=4)[0], spiral_data(seed=5)[0])


# ---------------------------------------------------------------------------------------------- line
@pytest.mark.parametrize("method", ["hand", "autograd", "nn"])
def test_line_converges_with_standardised_x(method):
    task, events = run_basics(BasicsSettings(experiment="line", method=method, standardise=True, lr=0.1, steps=150))
    m = last_epoch(events).metrics
    assert abs(m["w"] - 10) < 0.05 and abs(m["b"] - 4) < 0.3, m
    assert m["loss"] < 30                         # noise 5 -> the best possible mean squared error is about 25
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed"
    if method == "hand":
        assert not task.w.requires_grad           # really no autograd
    steps = [e for e in events if isinstance(e, BatchEnd)]
    assert len(steps) == 150 and steps[-1].step == 150
    assert {"loss", "w", "b"} <= set(steps[-1].metrics)


def test_three_line_methods_take_the_same_steps():
    finals = []
    for method in ("hand", "autograd", "nn"):
        _, events = run_basics(BasicsSettings(experiment="line", method=method, standardise=True, lr=0.1, steps=20))
        finals.append(np.array([[e.metrics["w"], e.metrics["b"]] for e in events if isinstance(e, BatchEnd)]))
    np.testing.assert_allclose(finals[0], finals[1], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(finals[0], finals[2], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("optimizer,lr", [("momentum", 0.05), ("adam", 5.0)])
def test_line_with_other_optimizers(optimizer, lr):
    _, events = run_basics(BasicsSettings(experiment="line", method="nn", optimizer=optimizer, standardise=True,
                                          lr=lr, steps=300))
    m = last_epoch(events).metrics
    assert abs(m["w"] - 10) < 0.05 and abs(m["b"] - 4) < 0.3, m


def test_raw_x_diverges_with_a_plain_message():
    events: list = []
    settings = BasicsSettings(experiment="line", method="hand", standardise=False, lr=1e-3, steps=300)
    with pytest.raises(Diverged) as info:
        make_basics_trainer(settings, callbacks=[events.append]).fit()
    msg = str(info.value)
    assert TOO_LARGE in msg and "standardise x" in msg
    failed = [e for e in events if isinstance(e, Failed)]
    assert failed and failed[0].user_error and TOO_LARGE in failed[0].message
    # it stopped early instead of running all 300 steps
    assert len([e for e in events if isinstance(e, BatchEnd)]) < 300


def test_raw_x_with_a_tiny_learning_rate_is_stable_but_slow():
    _, events = run_basics(BasicsSettings(experiment="line", standardise=False, lr=1e-8, steps=50))
    losses = batch_losses(events)
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert abs(last_epoch(events).metrics["b"] - 4) > 3          # b has hardly moved


def test_course_line_preset_reproduces_the_lesson():
    from app.engine.basics import PRESETS, preset

    s = preset("line-lesson")
    assert (s.loss, s.lr, s.steps, s.method, s.standardise) == ("sum", 1e-8, 50_000, "hand", False)
    assert "1e-6" in PRESETS["line-lesson"][0]
    x, y = line_data(s.noise, s.seed, s.noise_kind)
    assert x.shape == (10_000,) and float(x[1] - x[0]) == pytest.approx(0.01) and float(x[-1]) == pytest.approx(99.99)
    assert 0 <= float((y - 10 * x - 4).min()) and float((y - 10 * x - 4).max()) < 1     # noise between 0 and 1
    task, events = run_basics(s)
    m = last_epoch(events).metrics
    assert abs(m["w"] - 10) < 0.01 and 4.1 <= m["b"] <= 4.2
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.reason == "completed" and task.settings.loss == "sum"
    # the summed error of 10,000 points: 10,000 times the mean squared error
    assert float(task._loss()) == pytest.approx(10_000 * float(((m["w"] * x + m["b"] - y) ** 2).mean()), rel=1e-3)


def test_course_line_preset_at_1e_6_becomes_nan_and_says_why():
    from app.engine.basics import preset

    s = preset("line-lesson").replace(lr=1e-6)
    events = []
    with pytest.raises(Diverged) as err:
        run_basics(s, callbacks=[events.append])
    text = str(err.value)
    assert "NaN" in text and "not a number" in text and "summed squared error of 10,000 points" in text
    assert "3e-08" in text and "1e-8" in text
    assert any(isinstance(e, BatchEnd) and not math.isfinite(e.metrics["loss"]) for e in events)


# ---------------------------------------------------------------------------------------------- sine
def test_sine_degree_5_fits_within_0_05():
    task, events = run_basics(BasicsSettings(experiment="sine", degree=5, optimizer="adam", lr=0.05, steps=1000))
    details = last_epoch(events).details
    assert details["max_error"] < 0.05
    # the written coefficients are for the original x: evaluate them and compare with sin(x)
    x = np.linspace(-math.pi, math.pi, SINE_POINTS)
    poly = sum(c * x ** k for k, c in enumerate(details["coefficients"]))
    assert np.abs(poly - np.sin(x)).max() < 0.05
    assert len(details["coefficients"]) == 6
    assert abs(details["coefficients"][1] - 1) < 0.1            # close to the Taylor series: x - x³/6 ...
    assert details["formula"].startswith("y = ") and "x⁵" in details["formula"]
    assert details["x"].shape == details["y"].shape


def test_polynomial_formula_reads_like_maths():
    assert polynomial_formula([0.0012, 0.8541, -0.0003, -0.0928]) == "y = 0.0012 + 0.8541 x - 0.0003 x² - 0.0928 x³"
    assert polynomial_formula([-1.5, 2.0, -0.00001]) == "y = -1.5000 + 2.0000 x + 0.0000 x²"


# ---------------------------------------------------------------------------------------------- spiral
def test_spiral_needs_a_hidden_layer():
    common = dict(experiment="spiral", arms=3, optimizer="adam", lr=0.02, steps=400, width=64)
    _, with_hidden = run_basics(BasicsSettings(hidden_layers=1, **common))
    _, without = run_basics(BasicsSettings(hidden_layers=0, **common))
    assert last_epoch(with_hidden).metrics["acc"] > 0.95
    assert last_epoch(without).metrics["acc"] < 0.70
    regions = last_epoch(with_hidden).details["regions"]
    assert regions.shape == (GRID, GRID, 3)
    np.testing.assert_allclose(regions.sum(axis=2), 1.0, atol=1e-4)


# ---------------------------------------------------------------------------------------------- runs
def test_same_seed_same_run_and_different_seed_differs():
    s = BasicsSettings(experiment="spiral", arms=2, hidden_layers=1, width=16, optimizer="momentum", lr=0.1,
                       steps=40, seed=3)
    t1, e1 = run_basics(s)
    t2, e2 = run_basics(s)
    assert batch_losses(e1) == batch_losses(e2)
    for k, v in t1.net.state_dict().items():
        assert torch.equal(v, t2.net.state_dict()[k])
    _, e3 = run_basics(s.replace(seed=4))
    assert batch_losses(e3) != batch_losses(e1)


def test_stop_mid_run():
    control = Control()
    seen: list = []

    def on_event(ev):
        seen.append(ev)
        if isinstance(ev, BatchEnd) and ev.step >= 5:
            control.stop()

    fin = make_basics_trainer(BasicsSettings(experiment="line", standardise=True, steps=5000),
                              callbacks=[on_event], control=control).fit()
    assert fin.reason == "stopped"
    assert len([e for e in seen if isinstance(e, BatchEnd)]) < 5000


def test_pace_spreads_the_run_out():
    t0 = time.perf_counter()
    run_basics(BasicsSettings(experiment="line", standardise=True, steps=20, seconds=0.4))
    assert time.perf_counter() - t0 >= 0.3


def test_settings_are_checked_and_round_trip_through_a_config():
    with pytest.raises(UserError, match="learning rate"):
        BasicsSettings(lr=-1).validate()
    with pytest.raises(UserError, match="nn.Linear"):
        BasicsSettings(method="hand", optimizer="adam").validate()
    with pytest.raises(UserError, match="degree"):
        BasicsSettings(experiment="sine", degree=9).validate()
    s = BasicsSettings(experiment="line", method="autograd", standardise=True, steps=70, noise=2.0, seed=9)
    cfg = TrainConfig.from_dict(s.to_config().to_dict())
    assert BasicsSettings.from_config(cfg) == s
    task = build_task(cfg)                        # registered with the shared task registry
    assert isinstance(task, LineTask) and task.name == "basics-line"
    assert cfg.epochs * task.num_batches() >= 70


def test_one_intra_op_thread_only_affects_this_thread():
    before = torch.get_num_threads()
    if before < 2:
        pytest.skip("needs a multi-threaded torch")
    seen = {}
    with one_intra_op_thread():
        seen["inside"] = torch.get_num_threads()
        t = threading.Thread(target=lambda: seen.__setitem__("other", torch.get_num_threads()))
        t.start()
        t.join()
    assert seen == {"inside": 1, "other": before}
    assert torch.get_num_threads() == before


def test_intra_op_threads_sets_only_this_thread():
    from app.engine.threads import intra_op_threads

    before = torch.get_num_threads()
    want = 1 if before > 1 else 2
    seen = {}

    def worker():
        with intra_op_threads(want):
            seen["inside"] = torch.get_num_threads()
            t = threading.Thread(target=lambda: seen.__setitem__("started meanwhile", torch.get_num_threads()))
            t.start()
            t.join()
        seen["after"] = torch.get_num_threads()

    w = threading.Thread(target=worker)
    w.start()
    w.join()
    assert seen == {"inside": want, "started meanwhile": before, "after": before}
    assert torch.get_num_threads() == before
