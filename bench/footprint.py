"""How close app.engine.footprint's estimate of a training step's memory is to the real peak.

Each case runs in its own process (the peak resident size is per process): the model, one Adam step
twice, the growth of ``ru_maxrss`` over the step against ``training_step_bytes``. Prints JSON lines and
a summary; the check in the Trainer refuses a batch only when the estimate is above the free memory,
so a ratio above 1 errs on the side of refusing a little early.

    python bench/footprint.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = [("cnn4", 1, 28, 128), ("cnn4", 3, 128, 16), ("cnn4", 3, 256, 8), ("classic-cnn", 1, 28, 256),
         ("tv-resnet18", 3, 128, 16)]

CHILD = r"""
import gc, json, resource, sys, torch
torch.set_num_threads(1)
from app.engine.footprint import training_step_bytes
from app.models import build_model
m, c, s, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
net = build_model(m, c, (s, s), 10)
est = training_step_bytes(net, (c, s, s), b, torch.device("cpu"))
opt = torch.optim.Adam(net.parameters())
x, y = torch.randn(b, c, s, s), torch.randint(0, 10, (b,))
gc.collect()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
for _ in range(2):
    loss = torch.nn.functional.cross_entropy(net(x), y); opt.zero_grad(); loss.backward(); opt.step()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
print(json.dumps({"model": m, "size": s, "batch": b, "estimate_mib": round(est / 2**20, 1),
                  "peak_growth_mib": round(peak / 2**20, 1), "ratio": round(est / max(peak, 1), 2)}))
"""


def main() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    ratios = []
    for case in CASES:
        out = subprocess.run([sys.executable, "-c", CHILD, *map(str, case)], capture_output=True, text=True,
                             env=env, cwd=ROOT, check=True).stdout.strip().splitlines()[-1]
        print(out)
        ratios.append(json.loads(out)["ratio"])
    ratios.sort()
    print(json.dumps({"summary": "estimate / measured peak", "median": ratios[len(ratios) // 2],
                      "min": ratios[0], "max": ratios[-1]}))


if __name__ == "__main__":
    main()
