"""Run folders on disk.

Every training run is a folder (by default under the user's data dir) holding ``config.json``,
``metrics.csv`` (one row per epoch), ``batches.csv`` (the per-batch training metrics), ``best.pt``,
``last.pt``, sample images and ``run.log``.
"""
from __future__ import annotations

import csv
import errno
import io
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from app.core.errors import UserError
from app.core.files import atomic_write_text, inside, os_reason


def app_home() -> Path:
    """VisionDesk's data folder: $VISIONDESK_HOME, else the platform's user data dir."""
    from app.core.paths import home_dir

    return home_dir()


def runs_root() -> Path:
    return app_home() / "runs"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:40] or "run"


def new_run_dir(data: str, model: str, root: str | Path | None = None, task: str = "classify") -> Path:
    """A new, empty run folder under ``root`` (the runs folder by default), created here: the name is
    claimed by creating the folder, so two trainings started in the same second get two folders."""
    root = Path(root) if root else runs_root()
    _make_folder(root, "the runs folder")
    stamp = datetime.now().strftime("%Y-%m-%dT%H-%M-%S")
    prefix = "" if task == "classify" else f"{_slug(task)}_"
    base = root / f"{stamp}_{prefix}{_slug(data)}_{_slug(model)}"
    path, n = base, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        except OSError as exc:
            raise UserError(f"Cannot create a run folder in {root}: {os_reason(exc)}.") from None


#: files a run writes that a new run replacing an old one (``overwrite``) removes first; run.log is kept
RUN_OUTPUTS = ("last.pt", "best.pt", "curves.png", "confusion.png", "samples/epoch_*.png", "samples/score_*.json")


def _make_folder(path: Path, what: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        hint = ""
        home = os.environ.get("VISIONDESK_HOME", "").strip()
        if home and not Path(home).expanduser().is_dir() and inside(os.path.abspath(path),
                                                                     os.path.abspath(Path(home).expanduser())):
            hint = f" (VISIONDESK_HOME is set to {home}, which is not a folder)"
        raise UserError(f"Cannot create {what} {path}: {os_reason(exc)}{hint}.") from None
    if not path.is_dir():
        raise UserError(f"Cannot use {what} {path}: it is not a folder.")
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"Cannot write in {what} {path}: permission denied (the folder is read-only).")


#: what an empty folder may still hold: a failed start's run.log, and files the file browser adds
_NOTHING = {"run.log", ".DS_Store", "Thumbs.db", "desktop.ini", ".directory"}


def run_folder_state(path: str | Path) -> str:
    """What is at ``path``: "missing", "file" (anything that is not a folder), "empty" (a folder with
    nothing but a run.log or temporary files, e.g. left by a start that failed), "run" (a VisionDesk run:
    its config.json names a task and a model) or "other" (a folder holding someone's files)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return "missing"
    if not path.is_dir():
        return "file"
    try:
        names = [p.name for p in path.iterdir()]
    except OSError:
        return "other"
    if all(n in _NOTHING or (n.startswith(".") and n.endswith(".tmp")) for n in names):
        return "empty"
    try:
        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return "other"
    if isinstance(cfg, dict) and isinstance(cfg.get("task"), str) and isinstance(cfg.get("model"), str):
        return "run"
    return "other"


def prepare_run_dir(out: str | Path) -> Path:
    """The one check of a run folder given by the person (``--out``) before anything is written: it may be
    new, empty or a VisionDesk run (the Trainer then refuses to start a new run over an old one unless told
    to replace it); a file, a device or a folder of other files is refused. The folder is created."""
    given = Path(out).expanduser()
    state = run_folder_state(given)
    if state == "file":
        raise UserError(f"{given} is a file, not a folder; give the run a folder name (a new or empty folder).")
    if state == "other":
        raise UserError(f"{given} already holds files that are not a VisionDesk run; VisionDesk will not write "
                        f"a run among them. Choose a new or empty folder.")
    _make_folder(given, "the run folder")
    return given


def remove_stale_temp_files(folder: str | Path) -> list[str]:
    """Delete the temporary files (``.<name>.*.tmp``) that a process killed in the middle of an atomic
    write (SIGKILL, power cut) leaves behind; the files they were meant to replace are intact."""
    removed = []
    for stale in Path(folder).glob(".*.tmp"):
        try:
            stale.unlink()
            removed.append(stale.name)
        except OSError:
            pass
    return removed


class RunFolder:
    """Writes one run's files. Only the main process (rank 0) creates one."""

    def __init__(self, path: str | Path, *, clean: bool = True):
        """``clean``: remove stale temporary files now; the Trainer passes False and removes them once the
        run really starts (its first step succeeded), so a start that fails leaves the folder as it was."""
        self.path = Path(path)
        #: what the folder held before this process came: "run" when it is an earlier run (see run_folder_state)
        self.state = run_folder_state(self.path)
        _make_folder(self.path, "the run folder")
        if clean:
            remove_stale_temp_files(self.path)
        self.rows: list[dict] = read_metrics(self.path)
        self._batch_rows: list[dict] = []
        self._batch_header: list[str] | None = None
        self._lock_fd: int | None = None
        # a logger of its own that is not registered with logging.getLogger: registered loggers live
        # for the whole process, so every run would leave one behind in a long GUI session
        self.logger = logging.Logger(f"visiondesk.run.{self.path.name}", logging.INFO)
        self.logger.propagate = False
        try:
            self._handler = logging.FileHandler(self.path / "run.log", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"Cannot write the run's log in {self.path}: {os_reason(exc)}.") from None
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        self.logger.addHandler(self._handler)

    # -- the lock
    def lock(self) -> None:
        """Hold the folder for this process while it trains (an advisory lock on run.log that the system
        drops when the process ends, however it ends, so a dead process's lock is simply taken over).
        Raises ``RunInUse`` when another training holds it."""
        if self._lock_fd is not None:
            return
        fd = os.open(self.path / "run.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            import fcntl
        except ImportError:                       # Windows: no advisory locks here
            self._lock_fd = fd
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunInUse(f"{self.path} is in use: another VisionDesk training is writing to it. Wait for it "
                               f"to finish (or stop it), or choose another run folder.") from None
            raise UserError(f"Cannot lock the run folder {self.path}: {os_reason(exc)}.") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            os.close(fd)

    def clear_outputs(self) -> list[str]:
        """Remove an earlier run's checkpoints and pictures (``RUN_OUTPUTS``) before a new run replaces it;
        metrics.csv and batches.csv are rewritten by the new run, run.log goes on. Returns the names."""
        removed = []
        for pattern in RUN_OUTPUTS:
            for p in self.path.glob(pattern):
                if p.is_file() or p.is_symlink():
                    p.unlink()
                    removed.append(str(p.relative_to(self.path)))
        return removed

    # -- files
    @property
    def last(self) -> Path:
        return self.path / "last.pt"

    @property
    def best(self) -> Path:
        return self.path / "best.pt"

    def write_config(self, config: dict) -> None:
        atomic_write_text(self.path / "config.json", json.dumps(config, indent=2, sort_keys=True))

    def truncate_after(self, epoch: int, batches_into_next: int = 0) -> int:
        """On resume: forget rows of epochs that the checkpoint did not reach. A checkpoint saved by a
        stop in the middle of epoch ``epoch + 1`` also covers that epoch's first ``batches_into_next``
        batches, whose rows are kept (the resumed run skips them). Rows of batches.csv that cannot be
        read (a damaged file) are dropped; returns how many."""
        self.rows = [r for r in self.rows if (_whole(r.get("epoch")) or 0) <= epoch]
        self._write_metrics()
        bpath = self.path / "batches.csv"
        if not bpath.exists():
            return 0
        header, rows, dropped = _read_batches(bpath)
        keep = []
        for r in rows:
            e, b = _whole(r.get("epoch")), _whole(r.get("batch"))
            if e is None or b is None:
                dropped += 1
            elif e <= epoch or (e == epoch + 1 and b <= batches_into_next):
                keep.append(r)
        buf = io.StringIO()
        if header:
            w = csv.DictWriter(buf, fieldnames=header, extrasaction="ignore")
            w.writeheader()
            w.writerows(keep)
        atomic_write_text(bpath, buf.getvalue())
        self._batch_header = list(header) if header else None
        return dropped

    def add_epoch(self, row: dict) -> None:
        self.rows = [r for r in self.rows if _whole(r.get("epoch")) != int(row["epoch"])] + [row]
        self._write_metrics()

    def _write_metrics(self) -> None:
        header: list[str] = []
        for r in self.rows:
            header += [k for k in r if k not in header]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=header or ["epoch"])
        w.writeheader()
        for r in self.rows:
            w.writerow({k: _fmt(v) for k, v in r.items()})
        atomic_write_text(self.path / "metrics.csv", buf.getvalue())

    def add_batch(self, row: dict) -> None:
        self._batch_rows.append(row)

    def flush_batches(self) -> None:
        if not self._batch_rows:
            return
        bpath = self.path / "batches.csv"
        if self._batch_header is None:
            if bpath.exists() and bpath.stat().st_size:
                with open(bpath, newline="", encoding="utf-8") as f:
                    self._batch_header = next(csv.reader(f), None)
            if not self._batch_header:
                self._batch_header = list(self._batch_rows[0])
                with open(bpath, "w", newline="", encoding="utf-8") as f:
                    csv.writer(f).writerow(self._batch_header)
        with open(bpath, "a", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=self._batch_header, extrasaction="ignore")
            for r in self._batch_rows:
                w.writerow({k: _fmt(v) for k, v in r.items()})
        self._batch_rows.clear()

    def log(self, message: str, level: int = logging.INFO) -> None:
        self.logger.log(level, message)
        self._handler.flush()

    def close(self) -> None:
        try:
            self.flush_batches()
        except OSError as exc:
            # e.g. the disk is full: closing must not hide the error that stopped the run
            self._batch_rows.clear()
            self.log(f"Could not write batches.csv: {exc}", level=logging.WARNING)
        finally:
            self.logger.removeHandler(self._handler)
            self._handler.close()
            self.unlock()


class RunInUse(UserError):
    """Another process trains in this run folder."""


def _whole(v) -> int | None:
    """An epoch or batch number from a csv cell, None when the cell is damaged."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if math.isfinite(f) else None


def _read_batches(path: Path) -> tuple[list[str], list[dict], int]:
    """(header, readable rows, number of damaged rows) of a batches.csv, whatever state it is in."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace").replace("\x00", "")
    except OSError:
        return [], [], 0
    lines = text.splitlines()
    if not lines:
        return [], [], 0
    try:
        header = next(csv.reader([lines[0]]))
    except csv.Error:
        header = []
    if "epoch" not in header or "batch" not in header or len(set(header)) != len(header):
        # the header itself is damaged: nothing below it can be placed in a column
        return [], [], max(0, len(lines) - 1)
    rows, dropped = [], 0
    for line in lines[1:]:
        if not line.strip():
            continue
        try:
            cells = next(csv.reader([line]))
        except (csv.Error, StopIteration):
            dropped += 1
            continue
        if len(cells) != len(header):
            dropped += 1
            continue
        rows.append(dict(zip(header, cells)))
    return header, rows, dropped


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def read_metrics(path: str | Path, name: str = "metrics.csv") -> list[dict]:
    """Rows of a run's metrics.csv (or batches.csv) with numbers converted to float."""
    f = Path(path) / name
    if not f.exists():
        return []
    rows = []
    try:
        with open(f, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                rows.append({k: _num(v) for k, v in r.items() if k is not None})
    except (OSError, csv.Error, UnicodeDecodeError):
        return rows
    return rows


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


@dataclass
class RunInfo:
    path: Path
    name: str
    task: str
    data: str
    model: str
    epochs_done: int
    epochs: int
    best: dict
    started: str
    has_best: bool
    has_last: bool
    config: dict = field(default_factory=dict, repr=False)      # config.json as read


def list_runs(root: str | Path | None = None) -> list[RunInfo]:
    """Past runs, newest first. Folders that are not runs (or are damaged) are skipped."""
    root = Path(root) if root else runs_root()
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir(), reverse=True):
        cfg_path = d / "config.json"
        if not d.is_dir() or not cfg_path.is_file():
            continue
        try:
            cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(cfg, dict):
            continue
        rows = read_metrics(d)
        best = best_row(rows)
        out.append(RunInfo(path=d, name=d.name, task=str(cfg.get("task", "classify")), data=data_display_name(cfg),
                           model=str(cfg.get("model", "?")), epochs_done=len(rows), epochs=max(int(cfg.get("epochs", 0) or 0), len(rows)),
                           best=best or (rows[-1] if rows else {}), started=d.name[:19],
                           has_best=(d / "best.pt").is_file(), has_last=(d / "last.pt").is_file(), config=cfg))
    return out


def data_display_name(config: dict) -> str:
    """The data set as a person knows it: an image folder's own name (not 'folder'), else the data set key."""
    data = str(config.get("data", "?"))
    root = config.get("data_root")
    if data == "folder" and root:
        return Path(str(root)).name or str(root)
    return data


def best_row(rows: list[dict], key: str = "test_acc") -> dict:
    """The metrics row with the highest ``key`` (the last such row on ties); {} when none has it."""
    best: dict = {}
    for r in rows:
        v = r.get(key)
        if isinstance(v, float) and v >= best.get(key, -1.0):
            best = r
    return best


@dataclass
class RunSummary:
    """Everything a window shows about one run folder, read once (see ``open_run``)."""

    path: Path
    config: "Any"                 # TrainConfig
    rows: list[dict]              # metrics.csv, one row per finished epoch
    batch_rows: list[dict]        # batches.csv
    best_checkpoint: Path | None  # best.pt when present
    last_checkpoint: Path | None  # last.pt when present
    epochs_done: int
    epochs_planned: int           # never fewer than the epochs done
    data_name: str                # the data set as a person knows it (a folder's own name)
    best: dict                    # the best epoch's row ({} when no epoch finished)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model_checkpoint(self) -> Path | None:
        """The model Try it, results and export use: best.pt (last.pt holds the training state to
        continue from, not a description of the model on its own)."""
        return self.best_checkpoint

    def no_model_reason(self) -> str:
        """Why the run has no model to show or try, in plain words ('' when it has one)."""
        if self.best_checkpoint is not None:
            return ""
        if self.last_checkpoint is not None and self.epochs_done == 0:
            return (f"{self.name} was stopped during its first epoch, before a model was finished and tested, so "
                    f"there is no model to show results for or to try yet. Continue it for at least one epoch "
                    f"(Past runs, 'Continue training') and its model appears here.")
        if self.last_checkpoint is not None:
            return (f"{self.name} has no saved best model (best.pt is missing), so only its curves are shown. "
                    f"Continue it for one more epoch to save one.")
        return f"{self.name} has no saved model, so only its curves are shown."

    def batches_per_epoch(self, train_images: int | None = None) -> int | None:
        """Batches in one epoch: from a finished epoch in batches.csv, else from the number of training
        images (the loader's rule: full batches only when there is more than one), else None."""
        done = {int(float(r.get("epoch", 0))) for r in self.rows if isinstance(r.get("epoch"), float)}
        counts: dict[int, int] = {}
        for r in self.batch_rows:
            e, b = r.get("epoch"), r.get("batch")
            if isinstance(e, float) and isinstance(b, float):
                counts[int(e)] = max(counts.get(int(e), 0), int(b))
        full = [counts[e] for e in done if e in counts]
        if full:
            return max(full)
        if train_images:
            bs = max(1, int(self.config.batch_size))
            return train_images // bs if train_images > bs else 1
        return None

    def batch_points(self, train_images: int | None = None,
                     batches_per_epoch: int | None = None) -> tuple[list[float], list[float]]:
        """(x, loss) of every logged batch, x in epochs (epoch - 1 + batch / batches per epoch): a run
        stopped early in an epoch keeps its batches where they were, not stretched over the epoch.
        ``batches_per_epoch`` (e.g. from ``RunStarted``) wins over what the files say; when the epoch length
        cannot be known, each epoch's batches span the batches logged for it."""
        nb = batches_per_epoch or self.batches_per_epoch(train_images)
        seen: dict[int, int] = {}
        for r in self.batch_rows:
            e, b = r.get("epoch"), r.get("batch")
            if isinstance(e, float) and isinstance(b, float):
                seen[int(e)] = max(seen.get(int(e), 0), int(b))
        xs, losses = [], []
        for r in self.batch_rows:
            e, b = r.get("epoch"), r.get("batch")
            if not (isinstance(e, float) and isinstance(b, float)):
                continue
            n = nb or seen.get(int(e), 1)
            xs.append(e - 1 + b / max(n, 1))
            loss = r.get("loss")
            losses.append(loss if isinstance(loss, float) else float("nan"))
        return xs, losses


def open_run(run_dir: str | Path) -> RunSummary:
    """One summary of any run folder: its config, metrics rows, checkpoints, planned and finished epochs.
    A folder that is not a run raises a ``UserError`` in plain words."""
    from app.core.errors import UserError
    from app.engine.config import TrainConfig

    path = Path(run_dir)
    if not (path / "config.json").is_file():
        raise UserError(f"{path} is not a VisionDesk run folder (it has no config.json).")
    try:
        cfg = TrainConfig.load(path / "config.json")
    except UserError as exc:
        raise UserError(f"{path} is not a VisionDesk run folder that can be opened: {exc}") from None
    rows = read_metrics(path)
    best = path / "best.pt"
    last = path / "last.pt"
    return RunSummary(path=path, config=cfg, rows=rows, batch_rows=read_metrics(path, "batches.csv"),
                      best_checkpoint=best if best.is_file() else None, last_checkpoint=last if last.is_file() else None,
                      epochs_done=len(rows), epochs_planned=max(int(cfg.epochs), len(rows)),
                      data_name=data_display_name(cfg.to_dict()), best=best_row(rows))


def runs_trained_on(folder: str | Path, root: str | Path | None = None) -> list[RunInfo]:
    """The past classification runs whose data was the image folder ``folder`` (newest first): renaming or
    deleting one of its classes means those models need training again."""
    want = Path(folder).expanduser().resolve()
    out = []
    for info in list_runs(root):           # config.json is read once, by list_runs
        cfg = info.config
        try:
            same = cfg.get("data") == "folder" and cfg.get("data_root") and \
                Path(str(cfg["data_root"])).expanduser().resolve() == want
        except (OSError, ValueError, TypeError):
            continue
        if same and info.task == "classify":
            out.append(info)
    return out
