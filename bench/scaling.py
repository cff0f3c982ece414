"""Data-parallel scaling: images/s of the same training with 1 and 2 (or --procs) processes under torchrun.

On a 2-core CPU machine this is only a smoke figure (the processes share the cores); on a machine with
several GPUs it is the scaling efficiency: images/s with N processes / (N x images/s with 1).

    python bench/scaling.py [--procs 1 2] [--model classic-cnn] [--batch-size 128] [--device auto]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--model", default="classic-cnn")
    ap.add_argument("--batch-size", type=int, default=128, help="global batch size")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--n-train", type=int, default=12800, help="generated data size when ../shared is absent")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vd-scaling-"))
    if (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
        root, source = SHARED_MNIST, str(SHARED_MNIST)
    else:
        sys.path.insert(0, str(ROOT / "tests"))
        from helpers import write_mnist_root

        root, source = tmp / "mnist", "generated"
        write_mnist_root(root, n_train=args.n_train, n_test=1000)
    results = {}
    for n in args.procs:
        out = tmp / f"run{n}"
        env = dict(os.environ, VISIONDESK_HOME=str(tmp / "home"), PYTHONUNBUFFERED="1")
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // n)))
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={n}", "--master_addr=127.0.0.1",
               f"--master_port={free_port()}", "-m", "app", "train", "--data", "mnist", "--data-root", str(root),
               "--model", args.model, "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
               "--device", args.device, "--no-augment", "--quiet", "--out", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"the {n}-process run failed")
        from app.engine.runs import read_metrics

        rows = read_metrics(out)
        results[n] = {"images_per_sec": rows[-1]["images_per_sec"], "test_acc": rows[-1]["test_acc"]}
    base = results[args.procs[0]]["images_per_sec"] / args.procs[0]
    print(json.dumps({
        "benchmark": "scaling", "model": args.model, "global_batch_size": args.batch_size, "data": source,
        "device": args.device, "cpu_count": os.cpu_count(),
        "results": {str(n): r for n, r in results.items()},
        "efficiency": {str(n): round(r["images_per_sec"] / (n * base), 3) for n, r in results.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
