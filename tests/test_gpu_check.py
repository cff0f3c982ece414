"""bench/gpu_check.py, the prepared GPU check, keeps working between GPU sessions: its CPU run
(``--device cpu --quick``) in a subprocess, with no shared data folder (as on a fresh clone)."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "gpu_check.py"
CHECKS = {"mnist_99", "engine_vs_bare", "amp", "gui_worker", "keypoints_gan", "out_of_memory", "torchrun"}


def _run(*args, tmp_path, timeout=900):
    # a folder that does not exist stands for a clone without ../shared/data
    p = subprocess.run([sys.executable, str(SCRIPT), *args, "--data", str(tmp_path / "no-data")], cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout, check=False)
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"gpu_check did not print one JSON document (status {p.returncode}):\n"
                    f"{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return p, doc


def _pos(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


@pytest.mark.slow
def test_quick_cpu_run_passes_every_check_with_plausible_figures(tmp_path):
    p, doc = _run("--device", "cpu", "--quick", tmp_path=tmp_path)
    checks = doc["checks"]
    assert set(checks) == CHECKS
    failed = {k: (v.get("error"), v.get("traceback") or v.get("stderr_tail")) for k, v in checks.items()
              if v["status"] != "pass"}
    assert not failed, json.dumps(failed, indent=1)[:6000]
    assert p.returncode == 0
    assert doc["summary"] == {"pass": 7, "fail": 0, "skipped": 0}
    # what the GPU run needs in its report: the device and versions, and the wall seconds of every check
    assert doc["device"] == "cpu" and doc["torch"] and "cuda" in doc and doc["device_name"]
    assert doc["data_present"] is False
    for name, c in checks.items():
        assert 0 < c["seconds"] <= doc["limits_s"][name], name
    assert doc["total_seconds"] >= sum(c["seconds"] for c in checks.values()) * 0.99

    m = checks["mnist_99"]                       # through `visiondesk train`, on generated digits
    assert m["exit_status"] == 0 and m["data"].startswith("generated")
    assert m["best_test_acc"] >= 0.99 and _pos(m["train_seconds_to_99"]) and 1 <= m["epochs_to_99"] <= m["epochs"]
    assert m["command"].startswith("visiondesk train ")

    e = checks["engine_vs_bare"]
    assert _pos(e["images_per_sec"]["bare"]) and _pos(e["images_per_sec"]["engine"])
    assert 0.05 < e["engine_over_bare"] < 20 and isinstance(e["meets_target"], bool)

    a = checks["amp"]                            # fp32 trained; bf16/fp16 say why they cannot run here
    assert a["fp32"]["steps"] == 50 and not a["fp32"]["nan"] and a["fp32"]["last10_loss"] < a["fp32"]["first_loss"]
    for part in ("bf16", "fp16"):
        assert a[part]["status"] == "skipped" and "CUDA" in a[part]["reason"]

    g = checks["gui_worker"]
    assert g["paused_ok"] and g["resumed_ok"] and g["stopped_ok"] and g["trainer_freed_after_stop"]
    assert g["steps_run"] >= 5 and g["batch_events_received"] > 0 and g["probes"] > 10
    assert 0 <= g["p99_delay_ms"] <= g["max_delay_ms"]
    assert g["qt_platform"] == "offscreen" and g["memory_allocated"]["status"] == "skipped"

    k = checks["keypoints_gan"]
    assert k["keypoints"]["on_device"] and k["keypoints"]["points_finite"] and _pos(k["keypoints"]["model_alone_fps"])
    assert k["keypoints"]["video"]["status"] == "skipped" and k["keypoints"]["video"]["reason"].startswith("no data")
    assert k["gan"]["exit_status"] == 0 and k["gan"]["epochs"] == 1 and k["gan"]["grid_written"]
    assert math.isfinite(k["gan"]["d_loss"]) and math.isfinite(k["gan"]["g_loss"])

    o = checks["out_of_memory"]                 # one plain line, status 2, and the next run completes
    assert o["exit_status"] == 2 and "\n" not in o["message"] and "smaller batch size" in o["message"]
    assert "Traceback" not in o["message"] and o["keeps_working"] and o["next_run_exit_status"] == 0

    t = checks["torchrun"]
    assert t["exit_status"] == 0 and t["backend"] == "gloo" and t["world_size"] == 1 and t["epochs"] == 1
    assert 0 <= t["test_acc"] <= 1


def test_a_failing_check_is_recorded_and_the_rest_still_run(tmp_path):
    # a GPU that is not there: every check fails on its own, each with the plain reason, and the
    # document still comes out whole, with exit status 1
    p, doc = _run("--device", "cuda:99", "--quick", "--only", "amp,torchrun", tmp_path=tmp_path, timeout=300)
    assert p.returncode == 1
    assert list(doc["checks"]) == ["amp", "torchrun"]
    for c in doc["checks"].values():
        assert c["status"] == "fail" and "GPU" in c["error"] and c["seconds"] > 0
    assert doc["summary"] == {"pass": 0, "fail": 2, "skipped": 0} and doc["all_passed"] is False


def test_unknown_check_name_is_one_plain_line(tmp_path):
    p = subprocess.run([sys.executable, str(SCRIPT), "--only", "mnist_99,warp_drive"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and "warp_drive" in p.stderr and "mnist_99" in p.stderr
