"""What the Train tab asks of the engine, with no display: one summary of a run folder, the results of a
model on the test images, the command line of a configuration and a saved copy of a model."""
import shlex

import numpy as np
import pytest

from app.cli import build_parser, config_from_args
from app.core.errors import UserError
from app.engine.build import make_trainer
from app.engine.classification import evaluation_details
from app.engine.config import TrainConfig
from app.engine.predict import load_classifier
from app.engine.runs import list_runs, open_run
from app.engine.trainer import Control
from app.models.export import export_checkpoint

from helpers import tiny_dataset

CFG = TrainConfig(data="tiny", model="softmax", epochs=2, batch_size=32, schedule="none", augment=False, device="cpu")


def test_open_run_summarises_a_finished_run(tmp_path):
    ds = tiny_dataset()
    run = tmp_path / "run"
    make_trainer(CFG, out=run, dataset=ds).fit()
    s = open_run(run)
    assert s.config.to_dict() == CFG.to_dict() and s.name == "run"
    assert [r["epoch"] for r in s.rows] == [1.0, 2.0] and len(s.batch_rows) == 16
    assert s.best_checkpoint == run / "best.pt" and s.last_checkpoint == run / "last.pt"
    assert s.model_checkpoint == run / "best.pt"
    assert (s.epochs_done, s.epochs_planned) == (2, 2)
    assert s.best["test_acc"] == max(r["test_acc"] for r in s.rows) and s.data_name == "tiny"
    assert s.batches_per_epoch() == 8
    xs, losses = s.batch_points()
    assert xs[0] == pytest.approx(1 / 8) and xs[-1] == pytest.approx(2.0) and len(losses) == 16
    with pytest.raises(UserError, match="not a VisionDesk run folder"):
        open_run(tmp_path)


def test_a_run_stopped_in_its_first_epoch_keeps_its_batches_where_they_were(tmp_path):
    ds = tiny_dataset()                       # 256 images / 32 = 8 batches per epoch
    control = Control()
    run = tmp_path / "run"
    trainer = make_trainer(CFG, out=run, dataset=ds, control=control)
    step = trainer.task.train_step

    def step_then_stop(batch, tr):          # a person pressing Stop during the third batch
        if tr.step == 2:
            control.stop()
        return step(batch, tr)

    trainer.task.train_step = step_then_stop
    trainer.fit()
    s = open_run(run)
    assert s.epochs_done == 0 and s.best_checkpoint is None and s.last_checkpoint is not None
    assert s.batches_per_epoch() is None                  # no finished epoch says how long one is
    xs, _ = s.batch_points(train_images=len(ds.train))
    assert xs == pytest.approx([b / 8 for b in range(1, len(xs) + 1)]) and max(xs) < 1.0


def test_a_folder_run_is_named_after_its_folder(tmp_path):
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "config.json").write_text(CFG.replace(data="folder", data_root=str(tmp_path / "my pets")).to_json())
    assert open_run(run).data_name == "my pets"
    assert [r.data for r in list_runs(tmp_path / "runs")] == ["my pets"]


def test_evaluation_details_worst_are_the_most_confidently_wrong_first():
    # image 0: wrong, 55% sure; image 1: wrong, 90% sure (its true class got more than image 0's, so by
    # loss alone it would come second);
    # image 2: right, 60% sure; image 3: right, 99% sure
    probs = np.array([[0.05, 0.55, 0.40], [0.02, 0.08, 0.90], [0.60, 0.30, 0.10], [0.99, 0.005, 0.005]])
    labels = [0, 1, 0, 0]
    det = evaluation_details(probs, labels, ["a", "b", "c"])
    assert [w["index"] for w in det["worst"]] == [1, 0, 2, 3]
    assert det["confusion"] == [[2, 1, 0], [0, 0, 1], [0, 0, 0]] and det["per_class_acc"] == pytest.approx([2 / 3, 0.0, 0.0])
    assert det["accuracy"] == pytest.approx(0.5)


def test_to_command_trains_exactly_the_configuration(tmp_path):
    for cfg in (CFG, CFG.replace(model_options={"dropout": 0.25, "name": "a b"}, data_root=str(tmp_path / "my data"),
                                 nesterov=False, label_smoothing=0.1)):
        line = cfg.to_command()
        assert line.startswith("visiondesk train ")
        args = build_parser().parse_args(shlex.split(line)[1:])
        assert config_from_args(args).to_dict() == cfg.to_dict()


def test_export_checkpoint_writes_a_whole_copy_or_nothing(tmp_path):
    run = tmp_path / "run"
    make_trainer(CFG.replace(epochs=1), out=run, dataset=tiny_dataset()).fit()
    saved = export_checkpoint(run / "best.pt", tmp_path / "out" / "model")
    assert saved == tmp_path / "out" / "model.pt" and load_classifier(saved).classes == tiny_dataset().classes
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model.pt"]       # no temporary file left
    (tmp_path / "blocked").write_text("a file, not a folder")
    with pytest.raises(UserError):
        export_checkpoint(run / "best.pt", tmp_path / "blocked" / "model.pt")
