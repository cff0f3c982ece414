"""The pictures of a classification run, written into its folder when it ends (and when it is stopped).

``RunReport(run_dir)`` is a callback on the Trainer's events: it keeps the last epoch's confusion
matrix and, on ``Finished`` (completed or stopped), writes

* ``curves.png``: loss and accuracy per epoch, train and test (read from the folder's metrics.csv, so
  a resumed run shows all its epochs);
* ``confusion.png``: the last evaluated epoch's confusion matrix, true class down, predicted across.

Drawn with Pillow only (no Qt, no plotting library), written atomically. ``draw_curves`` and
``draw_confusion`` return the pictures for other uses (the GUI's export, a report of a past run).
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Sequence

from PIL import Image, ImageDraw, ImageFont

from app.core.files import atomic_write_bytes
from app.engine.events import EpochEnd, Event, Finished
from app.engine.runs import read_metrics

CURVES = "curves.png"
CONFUSION = "confusion.png"
TRAIN_COLOUR = (31, 119, 180)
TEST_COLOUR = (255, 127, 14)
GRID_COLOUR = (225, 225, 225)
TEXT = (30, 30, 30)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:           # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 0.5 and len(ticks) < 12:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _label(v: float) -> str:
    return f"{v:.4g}"


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], title: str,
           series: list[tuple[str, tuple[int, int, int], list[tuple[float, float]]]], ylabel: str) -> None:
    x0, y0, x1, y1 = box
    font, small = _font(15), _font(12)
    draw.text((x0 + 70, y0 + 4), title, fill=TEXT, font=font, anchor="lt")
    left, top, right, bottom = x0 + 62, y0 + 30, x1 - 12, y1 - 46
    points = [p for _, _, pts in series for p in pts if math.isfinite(p[1])]
    xs = [p[0] for p in points] or [1.0]
    ys = [p[1] for p in points] or [0.0, 1.0]
    xmin, xmax = min(xs), max(xs)
    if xmax - xmin < 1:
        xmin, xmax = xmin - 0.5, xmax + 0.5
    yticks = _nice_ticks(min(ys), max(ys))
    ymin, ymax = yticks[0], yticks[-1]
    if ymax - ymin < 1e-12:
        ymax = ymin + 1

    def px(x: float, y: float) -> tuple[float, float]:
        return (left + (x - xmin) / (xmax - xmin) * (right - left),
                bottom - (y - ymin) / (ymax - ymin) * (bottom - top))

    for t in yticks:
        _, y = px(xmin, t)
        draw.line([(left, y), (right, y)], fill=GRID_COLOUR)
        draw.text((left - 6, y), _label(t), fill=TEXT, font=small, anchor="rm")
    span = max(1, int(xmax) - int(math.ceil(xmin)))
    step = max(1, math.ceil(span / 10))
    for e in range(int(math.ceil(xmin)), int(xmax) + 1, step):
        x, _ = px(e, ymin)
        draw.line([(x, bottom), (x, bottom + 4)], fill=TEXT)
        draw.text((x, bottom + 6), str(e), fill=TEXT, font=small, anchor="mt")
    draw.rectangle([left, top, right, bottom], outline=TEXT)
    draw.text(((left + right) // 2, y1 - 18), "epoch", fill=TEXT, font=small, anchor="mt")
    draw.text((x0 + 4, top - 18), ylabel, fill=TEXT, font=small)
    for i, (name, colour, pts) in enumerate(series):
        pts = [px(x, y) for x, y in pts if math.isfinite(y)]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        for x, y in pts:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        lx, ly = right - 150 + 75 * i, y0 + 6           # legend in the title row, clear of the lines
        draw.line([(lx, ly + 7), (lx + 22, ly + 7)], fill=colour, width=3)
        draw.text((lx + 28, ly), name, fill=TEXT, font=small)


def draw_curves(rows: Sequence[dict[str, Any]], title: str = "") -> Image.Image:
    """Loss (left) and accuracy in % (right) per epoch, train and test, from metrics.csv rows."""
    img = Image.new("RGB", (1100, 460), "white")
    draw = ImageDraw.Draw(img)

    def pts(key: str, scale: float = 1.0) -> list[tuple[float, float]]:
        out = []
        for r in rows:
            e, v = r.get("epoch"), r.get(key)
            if isinstance(e, (int, float)) and isinstance(v, (int, float)):
                out.append((float(e), float(v) * scale))
        return out

    if title:
        draw.text((550, 6), title, fill=TEXT, font=_font(13), anchor="mt")
    _panel(draw, (0, 24, 550, 460), "Loss", [("train", TRAIN_COLOUR, pts("train_loss")),
                                             ("test", TEST_COLOUR, pts("test_loss"))], "loss")
    _panel(draw, (550, 24, 1100, 460), "Accuracy", [("train", TRAIN_COLOUR, pts("train_acc", 100)),
                                                    ("test", TEST_COLOUR, pts("test_acc", 100))], "%")
    if not rows:
        draw.text((550, 240), "No epoch finished yet", fill=(160, 0, 0), font=_font(18), anchor="mm")
    return img


def draw_confusion(confusion: Sequence[Sequence[int]], classes: Sequence[str], title: str = "") -> Image.Image:
    """The confusion matrix as a grid of counts, shaded by the share of each true class."""
    k = len(confusion)
    names = [str(c) for c in (classes or range(k))][:k] + [str(i) for i in range(len(classes or []), k)]
    cell = max(26, min(70, 640 // max(k, 1)))
    font, small = _font(15), _font(max(9, min(13, cell // 3)))
    label_w = min(160, 14 + 8 * max((len(n) for n in names), default=1))
    left, top = label_w + 30, 70
    width, height = left + cell * k + 30, top + cell * k + label_w + 30
    img = Image.new("RGB", (max(width, 360), height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((img.width // 2, 8), title or "Confusion matrix", fill=TEXT, font=font, anchor="mt")
    draw.text((left + cell * k // 2, top - 24), "predicted class", fill=TEXT, font=small, anchor="mt")
    total = sum(sum(r) for r in confusion)
    correct = sum(confusion[i][i] for i in range(k))
    if total:
        draw.text((img.width // 2, 30), f"accuracy {100 * correct / total:.2f}% of {total}", fill=TEXT,
                  font=small, anchor="mt")
    for i, row in enumerate(confusion):
        n = max(1, sum(row))
        for j, v in enumerate(row):
            share = v / n
            shade = (int(255 - 200 * share), int(255 - 130 * share), 255) if i == j else \
                (255, int(255 - 170 * share), int(255 - 170 * share))
            x, y = left + j * cell, top + i * cell
            draw.rectangle([x, y, x + cell, y + cell], fill=shade, outline=(200, 200, 200))
            draw.text((x + cell / 2, y + cell / 2), str(int(v)), fill=TEXT, font=small, anchor="mm")
        draw.text((left - 6, top + i * cell + cell / 2), names[i][:20], fill=TEXT, font=small, anchor="rm")
    for j in range(k):
        label = Image.new("RGBA", (label_w, cell), (255, 255, 255, 0))
        ImageDraw.Draw(label).text((label_w - 4, cell / 2), names[j][:20], fill=TEXT, font=small, anchor="rm")
        rotated = label.rotate(90, expand=True)
        img.paste(rotated, (left + j * cell, top + k * cell + 6), rotated)
    draw.text((8, top + k * cell // 2), "true", fill=TEXT, font=small, anchor="lm")
    return img


def _save(img: Image.Image, path: Path) -> None:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    atomic_write_bytes(path, buf.getvalue())


def write_report(run_dir: str | Path, confusion: Sequence[Sequence[int]] | None = None,
                 classes: Sequence[str] = ()) -> list[Path]:
    """Write curves.png (from metrics.csv) and, when given, confusion.png into ``run_dir``."""
    run_dir = Path(run_dir)
    written = []
    title = run_dir.name
    _save(draw_curves(read_metrics(run_dir), title), run_dir / CURVES)
    written.append(run_dir / CURVES)
    if confusion:
        _save(draw_confusion(confusion, classes, f"Confusion matrix: {title}"), run_dir / CONFUSION)
        written.append(run_dir / CONFUSION)
    return written


class RunReport:
    """Callback: the run's pictures on ``Finished`` (completed or stopped); see the module note."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.confusion: list[list[int]] | None = None
        self.classes: list[str] = []
        self.written: list[Path] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, EpochEnd) and isinstance(event.details, dict) and "confusion" in event.details:
            self.confusion = event.details["confusion"]
            self.classes = list(event.details.get("classes") or [])
        elif isinstance(event, Finished) and self.run_dir.is_dir():
            self.written = write_report(self.run_dir, self.confusion, self.classes)
