"""curves.png and confusion.png in a classification run folder, after a full run and after Stop."""
import pytest
from PIL import Image

from app.cli import main
from app.engine.build import make_trainer
from app.engine.config import TrainConfig
from app.engine.events import EpochEnd
from app.engine.report import TEST_COLOUR, TRAIN_COLOUR, draw_confusion, draw_curves

from helpers import write_mnist_root


@pytest.fixture
def mnist_root(tmp_path):
    root = tmp_path / "mnist"
    write_mnist_root(root, n_train=96, n_test=40)
    return root


def _picture(path):
    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as im:
        im.load()
        rgb = im.convert("RGB")
    colours = rgb.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 3          # not a blank canvas
    return rgb


def _count(img, colour):
    return sum(n for n, c in img.getcolors(maxcolors=1 << 20) if c == colour)


def test_report_after_a_cli_run(tmp_path, mnist_root, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", "mnist", "--data-root", str(mnist_root), "--model", "softmax", "--epochs", "3",
                 "--batch-size", "32", "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    curves = _picture(out / "curves.png")
    assert _count(curves, TRAIN_COLOUR) > 200 and _count(curves, TEST_COLOUR) > 200   # both lines drawn
    confusion = _picture(out / "confusion.png")
    assert min(confusion.size) > 300                       # ten classes: a 10 x 10 grid


def test_report_after_stop(tmp_path, mnist_root):
    cfg = TrainConfig(data="mnist", data_root=str(mnist_root), model="softmax", epochs=5, batch_size=32,
                      device="cpu")
    out = tmp_path / "stopped"
    holder = {}

    def stop_after_first_epoch(ev):
        if isinstance(ev, EpochEnd) and ev.epoch == 1:
            holder["trainer"].stop()

    trainer = make_trainer(cfg, out=out, callbacks=[stop_after_first_epoch])
    holder["trainer"] = trainer
    fin = trainer.fit()
    assert fin.reason == "stopped" and fin.epoch == 1
    _picture(out / "curves.png")
    _picture(out / "confusion.png")


def test_pictures_draw_without_data_and_with_many_classes():
    empty = draw_curves([])
    assert empty.size == (1100, 460) and len(empty.getcolors(1 << 20)) > 3      # says no epoch finished yet
    rows = [{"epoch": e, "train_loss": 1 / e, "test_loss": 1.2 / e, "train_acc": 0.5 + e / 20,
             "test_acc": 0.45 + e / 20} for e in range(1, 8)]
    assert _count(draw_curves(rows), TEST_COLOUR) > 200
    k = 20
    big = draw_confusion([[5 if i == j else 1 for j in range(k)] for i in range(k)], [f"class {i}" for i in range(k)])
    small = draw_confusion([[3, 1], [0, 4]], ["no", "yes"])
    assert big.size[0] > small.size[0]
