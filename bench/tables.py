"""Tables benchmark: seconds to train a table model two ways, in one process, interleaved.

(a) a bare hand-written PyTorch loop over the encoded feature tensors (same model, optimizer,
    schedule, batch size, epochs and one intra-op thread), evaluating the test split once per epoch;
(b) VisionDesk's ``make_trainer`` for ``--data csv`` (TableTask on the TableTrainer), as the CLI runs it:
    run folder with metrics, per-batch log, best.pt / last.pt every epoch, and curves.png / confusion.png.

Data: ``../shared/data/tabular/titanic.csv`` (mlp) and ``diabetes.csv.gz`` (logistic) when present,
otherwise a generated table. Prints JSON: median seconds and spread of each, the ratio bare/engine
(1.0 = no overhead) and the final test accuracy of each (they train the same model the same way).

    python bench/tables.py [--repeats 5] [--epochs 30]

``--seeds 0-4`` measures accuracy instead of time: for each seed (it seeds both the train/test split
and the training) the test accuracy of the default recipe of ``logistic`` on diabetes and ``mlp`` on
Titanic, as ``visiondesk train --data csv --model M --seed S`` trains them, next to the best a logistic
regression can do on that split (the exact minimum of its convex loss, found by L-BFGS in float64):
the ceiling no training recipe can pass, so a seed below a target says whether the split or the
recipe is to blame.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.data.table import TableLoader, load_csv  # noqa: E402
from app.engine.build import make_trainer  # noqa: E402
from app.engine.config import TrainConfig  # noqa: E402
from app.engine.optim import build_optimizer, build_scheduler  # noqa: E402
from app.engine.threads import one_intra_op_thread  # noqa: E402
from app.models import build_model, get_model_info  # noqa: E402
from app.models.layers import class_probabilities, classification_loss, output_kind  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "tabular"


def generated(path: Path) -> Path:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(900, 6, generator=g)
    y = (x[:, 0] * x[:, 1] + x[:, 2] > 0).long()
    path.write_text("a,b,c,d,e,f,label\n" + "".join(",".join(f"{v:.4f}" for v in r) + f",{int(t)}\n"
                                                      for r, t in zip(x.tolist(), y.tolist())))
    return path


def config(path: Path, model: str, epochs: int) -> TrainConfig:
    d = TrainConfig().to_dict()
    d.update({k: v for k, v in get_model_info(model).defaults.items() if k in d})
    d.update(data="csv", data_root=str(path), model=model, device="cpu", epochs=epochs)
    return TrainConfig.from_dict(d)


def bare(cfg: TrainConfig, ds) -> tuple[float, float]:
    t0 = time.perf_counter()
    with one_intra_op_thread():
        torch.manual_seed(cfg.seed)
        net = build_model(cfg.model, 1, (1, ds.num_features), ds.num_classes)
        kind = output_kind(net)
        loader = TableLoader(ds.train, cfg.batch_size, "cpu", drop_last=len(ds.train) > cfg.batch_size)
        opt = build_optimizer(net.parameters(), cfg.optimizer, cfg.lr, momentum=cfg.momentum,
                              nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)
        sched = build_scheduler(opt, cfg.schedule, epochs=cfg.epochs, steps_per_epoch=len(loader))
        acc = 0.0
        for epoch in range(1, cfg.epochs + 1):
            loader.set_generator(torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch))
            net.train()
            for x, y in loader:
                loss = classification_loss(net(x), y, kind)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            net.eval()
            with torch.no_grad():
                x = ds.test.features.view(len(ds.test), 1, 1, -1)
                acc = float((class_probabilities(net(x), kind).argmax(1) == ds.test.labels).float().mean())
    return time.perf_counter() - t0, acc


def engine(cfg: TrainConfig, ds, out: Path) -> tuple[float, float]:
    t0 = time.perf_counter()
    fin = make_trainer(cfg, out=out, dataset=ds).fit()
    return time.perf_counter() - t0, float(fin.metrics["test_acc"])


def logistic_ceiling(ds, weight_decay: float = 0.0) -> float:
    """Test accuracy of the exact minimiser of the (L2-regularised) logistic loss on the train split."""
    x, y = ds.train.features.double(), ds.train.labels
    k = ds.num_classes
    w = torch.zeros(x.shape[1], 1 if k == 2 else k, dtype=torch.double, requires_grad=True)
    b = torch.zeros(w.shape[1], dtype=torch.double, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=1000, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def loss_fn():
        opt.zero_grad()
        out = x @ w + b
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0], y.double()) if k == 2
                else torch.nn.functional.cross_entropy(out, y)) + 0.5 * weight_decay * (w * w).sum()
        loss.backward()
        return loss

    opt.step(loss_fn)
    with torch.no_grad():
        out = ds.test.features.double() @ w + b
        pred = (out[:, 0] > 0).long() if k == 2 else out.argmax(1)
    return float((pred == ds.test.labels).float().mean())


def seeds_report(seeds: list[int], tmp: Path) -> dict:
    cases = [("diabetes logistic", SHARED / "diabetes.csv.gz", "logistic", None, 0.76),
             ("titanic mlp", SHARED / "titanic.csv", "mlp", "Survived", 0.78)]
    out: dict = {"seeds": seeds, "cases": {}}
    for name, path, model, target, goal in cases:
        if not path.is_file():
            continue
        rows = []
        for seed in seeds:
            ds = load_csv(path, target, seed=seed)
            info = get_model_info(model).defaults
            cfg = config(path, model, int(info.get("epochs", TrainConfig().epochs)))
            cfg = cfg.replace(seed=seed, extra={"target": ds.target})
            seconds, acc = engine(cfg, ds, tmp / f"{model}-seed{seed}")
            row = {"seed": seed, "test_acc": round(acc, 4), "seconds": round(seconds, 2)}
            if model == "logistic":
                row["ceiling_test_acc"] = round(logistic_ceiling(ds, cfg.weight_decay), 4)
                # would more L2 regularisation help? the optimum for a few weight decays
                row["ceiling_by_weight_decay"] = {str(wd): round(logistic_ceiling(ds, wd), 4)
                                                  for wd in (0.001, 0.01, 0.03, 0.1, 0.3)}
            rows.append(row)
        accs = [r["test_acc"] for r in rows]
        out["cases"][name] = {
            "recipe": {k: v for k, v in config(path, model, 1).to_dict().items()
                       if k in ("batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule")}
                      | {"epochs": int(get_model_info(model).defaults.get("epochs", TrainConfig().epochs))},
            "test_rows": len(load_csv(path, target, seed=seeds[0]).test), "goal": goal, "per_seed": rows,
            "mean_test_acc": round(statistics.mean(accs), 4),
            "seeds_at_goal": sum(a >= goal for a in accs)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seeds", default="", help="e.g. 0-4: accuracy per seed instead of time")
    args = ap.parse_args()
    if args.seeds:
        a, _, b = args.seeds.partition("-")
        seeds = list(range(int(a), int(b or a) + 1))
        print(json.dumps(seeds_report(seeds, Path(tempfile.mkdtemp(prefix="vd-bench-tables-"))), indent=2))
        return
    tmp = Path(tempfile.mkdtemp(prefix="vd-bench-tables-"))
    cases = []
    if (SHARED / "titanic.csv").is_file():
        cases.append(("titanic mlp", SHARED / "titanic.csv", "mlp", "Survived"))
        cases.append(("diabetes logistic", SHARED / "diabetes.csv.gz", "logistic", None))
    else:
        p = generated(tmp / "generated.csv")
        cases.append(("generated mlp", p, "mlp", "label"))
        cases.append(("generated logistic", p, "logistic", "label"))
    result = {"device": "cpu", "repeats": args.repeats, "cases": {}}
    for name, path, model, target in cases:
        ds = load_csv(path, target)
        cfg = config(path, model, args.epochs)
        cfg = cfg.replace(extra={"target": ds.target})
        times = {"bare": [], "engine": []}
        accs = {}
        for r in range(args.repeats):         # interleaved: a and b alternate in each repeat
            t, accs["bare"] = bare(cfg, ds)
            times["bare"].append(t)
            t, accs["engine"] = engine(cfg, ds, tmp / f"{model}-{r}")
            times["engine"].append(t)
        med = {k: statistics.median(v) for k, v in times.items()}
        result["cases"][name] = {
            "rows": len(ds.train), "epochs": cfg.epochs, "batch_size": cfg.batch_size,
            "seconds_median": {k: round(v, 3) for k, v in med.items()},
            "seconds_spread": {k: [round(min(v), 3), round(max(v), 3)] for k, v in times.items()},
            "ratio_bare_over_engine": round(med["bare"] / med["engine"], 3),
            "test_acc": {k: round(v, 4) for k, v in accs.items()},
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
