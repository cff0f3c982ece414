"""Tables: any CSV file -> standardised float features and class labels (the logistic-regression lessons).

``load_csv(path, target)`` reads a CSV (plain or gzip, UTF-8, with or without a header row), turns
every column into numbers and splits the rows into a seeded, stratified train/test split:

* numeric columns are standardised ((x - mean) / std) with the mean and std of the **train** split;
* text columns with few different values (at most ``MAX_CATEGORIES``) become one 0/1 column per value
  ("one-hot");
* free text (names, tickets: many different values), columns that are the same in every row and
  numbered-row columns (1, 2, 3, ...) are dropped, and the notes say which and why;
* blank cells are filled (numbers: the train median; text: the most common train value) and counted
  in the notes; rows without a target value are left out and counted.

The result is a ``TableDataset``: float32 features ``(N, F)``, int64 labels, the class names, one
``ColumnSummary`` per column (for a table preview), and the ``TableEncoder`` that turns one typed
row into the model's input (``encode_row``) so a trained model can be tried on a new row.
``suggest_target`` proposes the column to predict. No Qt here.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from app.core.errors import DataError

from .batches import TensorBatches

MAX_CATEGORIES = 20          # a text column with more different values is free text
MAX_CLASSES = 50             # a target with more different values is not a category
MAX_FEATURES = 1024          # encoded columns at most
MAX_BYTES = 256 << 20        # a bigger CSV is not a table for this app (it would not fit a form anyway)
PREVIEW_ROWS = 20
_BLANKS = {"", "na", "n/a", "nan", "null", "none", "?", "-"}
_TARGET_NAMES = ("target", "label", "class", "survived", "outcome", "y", "diagnosis", "species")


# ============================================================================================ structures
@dataclass
class ColumnSummary:
    """One column as the Data tab's preview shows it."""
    name: str
    kind: str                  # "number" | "category" | "target" | "dropped"
    blanks: int                # empty cells in the whole file
    distinct: int              # different non-blank values
    note: str = ""             # e.g. "free text (891 different values), dropped"
    minimum: Optional[float] = None
    mean: Optional[float] = None
    maximum: Optional[float] = None
    top: list[tuple[str, int]] = field(default_factory=list)   # most common values and their counts

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "blanks": self.blanks, "distinct": self.distinct,
                "note": self.note, "min": self.minimum, "mean": self.mean, "max": self.maximum,
                "top": [list(t) for t in self.top]}


@dataclass
class TableSplit:
    features: torch.Tensor    # float32 (N, F), already standardised / one-hot
    labels: torch.Tensor      # int64 (N,)

    def __len__(self) -> int:
        return int(self.features.shape[0])


@dataclass
class TableEncoder:
    """How one raw row becomes the model's input; plain JSON-able values (stored in best.pt)."""
    columns: list[dict]       # {"name", "kind": "number", "fill", "mean", "std"} | {"name", "kind": "category", "values", "fill"}
    target: str
    classes: list[str]

    @property
    def feature_names(self) -> list[str]:
        names: list[str] = []
        for c in self.columns:
            if c["kind"] == "number":
                names.append(c["name"])
            else:
                names += [f"{c['name']}={v}" for v in c["values"]]
        return names

    @property
    def inputs(self) -> list[str]:
        """The columns a person types for one prediction (in file order)."""
        return [c["name"] for c in self.columns]

    def to_dict(self) -> dict:
        return {"columns": self.columns, "target": self.target, "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, d: dict) -> "TableEncoder":
        try:
            return cls(columns=list(d["columns"]), target=str(d["target"]), classes=[str(c) for c in d["classes"]])
        except (KeyError, TypeError) as exc:
            raise DataError("The saved description of the table columns is incomplete; train the model again.") from exc

    def encode(self, cells: list[list[str]]) -> torch.Tensor:
        """Raw text cells (rows x columns, in ``self.columns`` order) -> float32 (N, F)."""
        n = len(cells)
        parts = []
        for j, c in enumerate(self.columns):
            raw = [row[j] for row in cells]
            if c["kind"] == "number":
                v = torch.tensor([_number(s, c["fill"]) for s in raw], dtype=torch.float64)
                parts.append(((v - c["mean"]) / c["std"]).float().view(n, 1))
            else:
                index = {val: i for i, val in enumerate(c["values"])}
                hot = torch.zeros(n, len(c["values"]))
                for i, s in enumerate(raw):
                    s = s.strip()
                    k = index.get(c["fill"] if _blank(s) else s)
                    if k is not None:          # a value never seen in training: all zeros
                        hot[i, k] = 1.0
                parts.append(hot)
        return torch.cat(parts, 1) if parts else torch.zeros(n, 0)

    def encode_row(self, row: dict[str, Any]) -> torch.Tensor:
        """One typed row ``{column: text or number}`` -> float32 (1, F). Missing or blank cells are
        filled as in training; a number column given text raises a plain ``DataError``."""
        cells = []
        for c in self.columns:
            value = row.get(c["name"], "")
            text = "" if value is None else str(value).strip()
            if c["kind"] == "number" and not _blank(text) and _to_float(text) is None:
                raise DataError(f"{c['name']} must be a number, not {text!r}.")
            cells.append(text)
        return self.encode([cells])


@dataclass
class TableDataset:
    """A CSV as features and labels; the table counterpart of ``ImageDataset``."""
    name: str                  # "csv"
    train: TableSplit
    test: TableSplit
    classes: list[str]
    encoder: TableEncoder
    columns: list[ColumnSummary]
    header: list[str]
    preview: list[list[str]]   # the first PREVIEW_ROWS rows, as read
    source: str = ""
    has_header: bool = True
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    suggested_target: str = ""  # the column ``suggest_target`` proposes (the Data tab marks it)

    @property
    def target(self) -> str:
        return self.encoder.target

    @property
    def num_features(self) -> int:
        return int(self.train.features.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    # the image-shaped view the model registry understands: one row is a 1 x 1 x F "image"
    @property
    def channels(self) -> int:
        return 1

    @property
    def size(self) -> tuple[int, int]:
        return 1, self.num_features

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return 1, 1, self.num_features

    @property
    def mean(self) -> tuple[float, ...]:
        return (0.0,)

    @property
    def std(self) -> tuple[float, ...]:
        return (1.0,)


# ============================================================================================ reading
def _blank(s: str) -> bool:
    return s.strip().lower() in _BLANKS


def _to_float(s: str) -> Optional[float]:
    try:
        v = float(s.strip())
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _number(s: str, fill: float) -> float:
    if _blank(s):
        return fill
    v = _to_float(s)
    return fill if v is None else v


def read_csv(path) -> tuple[list[str], list[list[str]], bool]:
    """(header, rows, has_header) of a CSV file (plain or gzip), every row as long as the header.

    Raises ``DataError`` in plain words for a missing file, binary data, text that is not UTF-8,
    an empty file, a single column and rows with a different number of cells.
    """
    from app.core.files import ensure_ordinary_file

    path = Path(path)
    ensure_ordinary_file(path, ".csv file")
    try:
        raw = path.read_bytes() if path.stat().st_size <= MAX_BYTES else None
    except FileNotFoundError:
        raise DataError(f"There is no file {path}.") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder; choose a .csv file.") from None
    except PermissionError:
        raise DataError(f"No permission to read {path}.") from None
    if raw is None:
        raise DataError(f"{path.name} is larger than {MAX_BYTES >> 20} MB; VisionDesk reads tables up to that size.")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            raise DataError(f"{path.name} is a damaged gzip file (it cannot be unpacked).") from None
    if b"\x00" in raw[:65536]:
        raise DataError(f"{path.name} is not a text table: it holds binary data (is it a spreadsheet or a "
                        f"picture renamed to .csv?). Export the sheet as CSV (comma separated).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError(f"{path.name} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}). "
                        f"Save it again as \"CSV UTF-8\" and reload it.") from None
    lines = text.splitlines()
    delimiter = ","
    first = next((ln for ln in lines if ln.strip()), "")
    if "," not in first:
        delimiter = ";" if first.count(";") else "\t" if first.count("\t") else ","
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
                if any(cell.strip() for cell in r)]
    except csv.Error as exc:
        raise DataError(f"{path.name} is not a well-formed CSV file ({exc}).") from None
    if not rows:
        raise DataError(f"{path.name} is empty: there are no rows to learn from.")
    width = len(rows[0])
    if width < 2:
        raise DataError(f"{path.name} has only one column; a table needs at least one column to learn from "
                        f"and one to predict (columns separated by commas).")
    has_header = not all(_to_float(c) is not None for c in rows[0])
    header = [c.strip() or f"column {i + 1}" for i, c in enumerate(rows[0])] if has_header else \
        [f"column {i + 1}" for i in range(width)]
    body = rows[1:] if has_header else rows
    for i, r in enumerate(body):
        if len(r) != width:
            line = i + (2 if has_header else 1)
            raise DataError(f"{path.name}: row {line} has {len(r)} cells but the {'header' if has_header else 'first row'} "
                            f"has {width}. Every row needs the same number of cells (is a comma inside a "
                            f"value missing its quotes?).")
    if not body:
        raise DataError(f"{path.name} has a header but no rows of data.")
    if len(set(header)) != len(header):
        seen: dict[str, int] = {}
        for i, h in enumerate(header):
            seen[h] = seen.get(h, 0) + 1
            if seen[h] > 1:
                header[i] = f"{h} ({seen[h]})"
    return header, body, has_header


def _counts(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        if not _blank(v):
            v = v.strip()
            out[v] = out.get(v, 0) + 1
    return out


def suggest_target(header: list[str], rows: list[list[str]]) -> str:
    """The column most likely to be the one to predict: a column named like a label (survived, target,
    class, outcome, ...) with 2..MAX_CLASSES values, else the last such column (the usual layout)."""
    def usable(j: int) -> bool:
        return 2 <= len(_counts([r[j] for r in rows])) <= MAX_CLASSES

    for name in _TARGET_NAMES:
        for j, h in enumerate(header):
            if h.strip().lower() == name and usable(j):
                return h
    for j in range(len(header) - 1, -1, -1):
        if usable(j):
            return header[j]
    return header[-1]


def _row_numbers(values: list[str]) -> bool:
    """1, 2, 3, ... (a passenger id, a row number): tells nothing about the target."""
    nums = [_to_float(v) for v in values]
    if any(v is None or v != int(v) for v in nums) or len(nums) < 3:
        return False
    s = sorted(nums)
    return all(b - a == 1 for a, b in zip(s, s[1:]))


def _sort_classes(values: list[str]) -> list[str]:
    nums = [_to_float(v) for v in values]
    if all(n is not None for n in nums):
        return [v for _, v in sorted(zip(nums, values))]
    return sorted(values)


def _stratified_split(labels: torch.Tensor, test_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(int(seed))
    train, test = [], []
    for k in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == k).squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_test = int(round(len(idx) * test_fraction))
        if len(idx) >= 2:
            n_test = min(max(n_test, 1), len(idx) - 1)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    train_i, test_i = torch.cat(train), torch.cat(test)
    return train_i[torch.randperm(len(train_i), generator=g)], test_i.sort().values


def load_csv(path, target: Optional[str] = None, *, test_fraction: float = 0.2, seed: int = 0) -> TableDataset:
    """Read, encode and split a CSV (see the module note). ``target``: the column to predict (a name, or
    a 1-based column number for a file without header); None takes ``suggest_target``."""
    path = Path(path)
    header, rows, has_header = read_csv(path)
    if not 0 < test_fraction < 1:
        raise DataError(f"The test share must be between 0 and 1, not {test_fraction}.")
    suggested = suggest_target(header, rows)
    if target is None or str(target).strip() == "":
        target = suggested
    t = _find_column(header, str(target).strip(), path.name)
    tname = header[t]

    notes: list[str] = []
    keep = [i for i, r in enumerate(rows) if not _blank(r[t])]
    if len(keep) < len(rows):
        notes.append(f"Left out {len(rows) - len(keep)} row(s) with no value in the target column {tname}.")
    target_counts = _counts([rows[i][t] for i in keep])
    if len(target_counts) < 2:
        only = next(iter(target_counts), "(blank)")
        raise DataError(f"The target column {tname} has only one value ({only!r}); a model needs at least two "
                        f"classes to tell apart. Choose another target column.")
    if len(target_counts) > MAX_CLASSES:
        raise DataError(f"The target column {tname} has {len(target_counts)} different values; VisionDesk "
                        f"classifies into 2 to {MAX_CLASSES} classes. Is it a measurement rather than a "
                        f"category? Choose a column with a few values (like yes/no or a type).")
    classes = _sort_classes(list(target_counts))
    class_index = {c: i for i, c in enumerate(classes)}
    labels = torch.tensor([class_index[rows[i][t].strip()] for i in keep], dtype=torch.int64)
    if len(keep) < 4:
        raise DataError(f"{path.name} has only {len(keep)} rows with a target value; at least 4 are needed "
                        f"to train on some and test on others.")
    train_i, test_i = _stratified_split(labels, test_fraction, seed)
    train_set = set(train_i.tolist())

    summaries: list[ColumnSummary] = []
    enc_columns: list[dict] = []
    dropped: dict[str, list[str]] = {"free": [], "constant": [], "rownumber": []}
    filled: list[str] = []
    for j, name in enumerate(header):
        values = [rows[i][j] for i in keep]
        all_values = [r[j] for r in rows]
        counts = _counts(all_values)
        blanks = sum(1 for v in all_values if _blank(v))
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
        summary = ColumnSummary(name, "number", blanks, len(counts), top=top)
        summaries.append(summary)
        if j == t:
            summary.kind, summary.note = "target", f"to predict: {len(classes)} classes"
            continue
        nums = {v: _to_float(v) for v in counts}
        numeric = bool(counts) and all(x is not None for x in nums.values())
        train_values = [v for i, v in zip(keep, values) if i in train_set]
        train_ok = [v.strip() for v in train_values if not _blank(v)]
        if numeric:
            xs = [nums[v] for v in counts for _ in range(counts[v])]
            summary.minimum, summary.maximum = min(xs), max(xs)
            summary.mean = sum(xs) / len(xs)
        if len(counts) <= 1:
            summary.kind, summary.note = "dropped", "the same in every row (tells nothing), dropped"
            dropped["constant"].append(name)
            continue
        if numeric and len(counts) == len(all_values) and _row_numbers(list(counts)):
            summary.kind, summary.note = "dropped", "numbers the rows 1, 2, 3, ... (an id), dropped"
            dropped["rownumber"].append(name)
            continue
        n_blank_kept = sum(1 for v in values if _blank(v))
        if numeric:
            tv = sorted(_to_float(v) for v in train_ok) or [0.0]
            median = tv[len(tv) // 2] if len(tv) % 2 else (tv[len(tv) // 2 - 1] + tv[len(tv) // 2]) / 2
            filled_train = [_number(v, median) for v in train_values]
            mean = sum(filled_train) / len(filled_train)
            std = math.sqrt(sum((x - mean) ** 2 for x in filled_train) / len(filled_train)) or 1.0
            enc_columns.append({"name": name, "kind": "number", "fill": median, "mean": mean, "std": std})
            summary.note = f"standardised (train mean {mean:.4g}, std {std:.4g})"
            if n_blank_kept:
                filled.append(f"{n_blank_kept} in {name} (median {median:.4g})")
        elif len(counts) <= MAX_CATEGORIES and len(counts) <= max(2, len(all_values) // 2):
            train_counts = _counts(train_ok)
            cats = sorted(counts)
            fill = max(train_counts.items(), key=lambda kv: kv[1])[0] if train_counts else cats[0]
            enc_columns.append({"name": name, "kind": "category", "values": cats, "fill": fill})
            summary.kind, summary.note = "category", f"one-hot: {len(cats)} columns ({', '.join(cats[:6])}{', ...' if len(cats) > 6 else ''})"
            if n_blank_kept:
                filled.append(f"{n_blank_kept} in {name} (most common: {fill})")
        else:
            summary.kind, summary.note = "dropped", f"free text ({len(counts)} different values), dropped"
            dropped["free"].append(name)
    if dropped["free"]:
        notes.append(f"Dropped free-text column(s) {', '.join(dropped['free'])}: too many different values "
                     f"(over {MAX_CATEGORIES}, like names or ticket numbers) to learn from.")
    if dropped["constant"]:
        notes.append(f"Dropped column(s) {', '.join(dropped['constant'])}: the same value in every row.")
    if dropped["rownumber"]:
        notes.append(f"Dropped column(s) {', '.join(dropped['rownumber'])}: they only number the rows.")
    if filled:
        total = sum(int(re.match(r"\d+", f).group()) for f in filled)
        notes.append(f"Filled {total} blank cell(s): " + "; ".join(filled) + ".")
    if not enc_columns:
        raise DataError(f"{path.name} has no column left to learn from once the target {tname} and the "
                        f"dropped columns are set aside.")
    encoder = TableEncoder(enc_columns, tname, classes)
    col_index = {name: j for j, name in enumerate(header)}
    cells = [[rows[i][col_index[c["name"]]] for c in enc_columns] for i in keep]
    features = encoder.encode(cells)
    if features.shape[1] > MAX_FEATURES:
        raise DataError(f"{path.name} gives {features.shape[1]} input columns once encoded; at most "
                        f"{MAX_FEATURES} are supported.")
    notes.insert(0, f"{len(keep)} rows, {features.shape[1]} input column(s) from {len(enc_columns)} of "
                    f"{len(header) - 1} column(s); target {tname} with classes {', '.join(classes)}; "
                    f"{len(train_i)} train / {len(test_i)} test rows (seed {seed}).")
    return TableDataset(
        name="csv", train=TableSplit(features[train_i], labels[train_i]),
        test=TableSplit(features[test_i], labels[test_i]), classes=classes, encoder=encoder,
        columns=summaries, header=header, preview=[list(r) for r in rows[:PREVIEW_ROWS]],
        source=str(path), has_header=has_header, notes=notes, suggested_target=suggested)


def _find_column(header: list[str], target: str, filename: str) -> int:
    for j, h in enumerate(header):
        if h == target:
            return j
    lowered = [h.lower() for h in header]
    if target.lower() in lowered:
        return lowered.index(target.lower())
    if target.isdigit() and 1 <= int(target) <= len(header):
        return int(target) - 1
    shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
    raise DataError(f"{filename} has no column {target!r}; its columns are: {shown}.")


# ============================================================================================ batches
class TableLoader(TensorBatches):
    """Float batches ``(x, y)`` of a table split held on ``device``; shuffled with the trainer's generator.
    ``x`` is (B, 1, 1, F): a row as a one-pixel-high image, the shape the model registry builds for."""

    def __init__(self, split: TableSplit, batch_size: int, device, *, shuffle: bool = True,
                 drop_last: bool = False) -> None:
        f = split.features.shape[1]
        super().__init__(split.features.reshape(-1, 1, 1, f), split.labels, batch_size, device, shuffle=shuffle,
                         drop_last=drop_last)


# --------------------------------------------------------------------------------------------- for the GUI
class TargetProblem(DataError):
    """The file reads as a table but the chosen target column cannot be used: the message, and the
    header and first rows so the person can choose another column."""

    def __init__(self, message: str, header: list[str], rows: list[list[str]], suggestion: str):
        super().__init__(message)
        self.header, self.rows, self.suggestion = header, rows, suggestion


def load_table(path, target: str | None = None, *, seed: int = 0) -> TableDataset:
    """``load_csv``; when the file is a readable table but the target is not usable (one value, 500 values),
    a ``TargetProblem`` carrying the columns (the Data tab then lets the person pick another target)."""
    try:
        return load_csv(path, target, seed=seed)
    except DataError as exc:
        try:
            header, rows, _ = read_csv(path)
        except DataError:
            raise exc from None
        raise TargetProblem(str(exc), header, rows[:PREVIEW_ROWS], suggest_target(header, rows)) from None
