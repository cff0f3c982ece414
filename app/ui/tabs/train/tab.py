"""The Train tab: settings, Start / Pause / Stop, live curves, results, Try it, and past runs.

Training runs through a ``TrainingSession`` (``app.ui.session``): this module builds a ``TrainConfig``
from the settings page, starts the engine's ``Trainer`` and shows its typed events. Past runs are read
with ``engine.runs.open_run``; short jobs (results of a past run, Try it, ONNX export) run in ``Jobs``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QProgressBar, QSplitter, QTabWidget, QVBoxLayout,
                               QWidget)

from app.core.errors import UserError
from app.engine.build import continue_config, load_data_for, make_trainer
from app.engine.classification import evaluation_details
from app.engine.config import TrainConfig
from app.engine.events import BatchEnd, EpochEnd, Failed, Finished, Notice, RunStarted
from app.engine.runs import open_run as read_run
from app.ui.session import TrainingSession, hms
from app.ui.widgets.common import side_scroll
from app.ui.state import AppState
from app.ui.tabs.train.results_page import ResultsPage
from app.ui.tabs.train.runs_page import RunsPage
from app.ui.tabs.train.settings_page import SettingsPage, read_setting
from app.ui.tabs.train.try_page import ClassifierCache, TryItPage, show_error
from app.ui.widgets.curves import TrainingCurves
from app.ui.workers import Jobs

CURVES, RESULTS, TRY_IT, RUNS = range(4)
SHARE_FILTER = "Folder to share: ONNX with class names, labels.txt, README (*)"
PT_FILTER, ONNX_FILTER = "PyTorch weights (*.pt)", "ONNX model only (*.onnx)"
FIRST_STEPS = ("New here? Three steps: 1. <b>Data</b> tab: a data set (the Fashion-MNIST sample is ready). "
               "2. <b>Model</b> tab: a model (the one suggested for your data is already chosen). "
               "3. Here: press <b>Start</b> and watch the curves.")


class TrainTab(QWidget):
    """Train a classifier on the current data set and model, and look at what it learned."""

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.jobs = Jobs(self)
        self.classifiers = ClassifierCache()
        # the run being trained or shown
        self.run_dir: Path | None = None
        self.run_config: TrainConfig | None = None
        self._run_data: dict[str, Any] = {}        # {"dataset": ImageDataset} filled in the worker thread
        self._continuing = None                    # the RunSummary of a past run being continued
        self.first_point_seconds: float | None = None

        self._build_ui()
        self.session = TrainingSession(self, state=state, busy_key="train")
        self.runner = self.session.runner
        self.session.bind(start=self.start_button, pause=self.pause_button, stop=self.stop_button,
                          progress=self.progress, speed=self.speed, message=self.message,
                          lock=[self.settings_page.settings_box, self.runs_page.continue_button])
        self.session.start_requested = self.start_training
        self.session.on(RunStarted, self._on_run_started)
        self.session.on(BatchEnd, self._on_batches, batched=True)
        self.session.on(EpochEnd, self._on_epoch)
        # remarks the engine makes while the run goes on (e.g. features that could not be saved for next time)
        self._notices: list[str] = []
        self.session.on(Notice, self._on_notice)
        self.session.on_done(self._on_done)

        self.views.currentChanged.connect(self._on_view_changed)
        self.state.datasetChanged.connect(lambda _ds: self.settings_page.update_summary())
        self.state.modelChanged.connect(self._on_model_changed)
        self.state.runOpened.connect(self.open_run)
        # the estimated run time, measured in the background a moment after the data, model or settings change
        self._estimate_jobs = Jobs(self, serial=True)
        self._estimate_key: str | None = None
        self._estimate_timer = QTimer(self, singleShot=True, interval=500)
        self._estimate_timer.timeout.connect(self.update_estimate)
        self.state.datasetChanged.connect(lambda _ds: self._estimate_timer.start())
        self.state.modelChanged.connect(lambda *_: self._estimate_timer.start())
        for box in (self.epochs, self.batch_size, self.device):
            signal = box.valueChanged if hasattr(box, "valueChanged") else box.currentIndexChanged
            signal.connect(lambda *_: self._estimate_timer.start())
        self._restore_settings()
        self.settings_page.update_summary()
        self.refresh_runs()
        if not self.runs_page.runs:     # nothing trained yet: say what to do, in the tab's own message line
            self.show_message(FIRST_STEPS, "info")

    # ================================================================== layout
    def _build_ui(self) -> None:
        page = self.settings_page = SettingsPage(self.state)
        self.message = page.message
        self.start_button, self.pause_button, self.stop_button = page.start_button, page.pause_button, page.stop_button
        for name in ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule", "augment",
                     "device", "amp", "summary", "settings_box"):
            setattr(self, name, getattr(page, name))
        page.command_button.clicked.connect(self.copy_command)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(4, 0, 0, 0)
        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Not started")
        self.progress.setMinimumHeight(24)
        self.speed = QLabel("")
        self.speed.setMinimumWidth(230)
        self.speed.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.speed)
        rv.addLayout(prow)

        self.views = QTabWidget()
        self.views.setDocumentMode(True)
        rv.addWidget(self.views, 1)
        self.curves = TrainingCurves()
        self.views.addTab(self.curves, "Curves")
        self.results = ResultsPage()
        self.results_title, self.confusion = self.results.title, self.results.confusion
        self.per_class, self.gallery = self.results.per_class, self.results.gallery
        self.views.addTab(self.results, "Results")
        self.try_page = TryItPage(self.state, self.jobs, self.message, self.classifiers,
                                  lambda: self._run_data.get("dataset") or self.state.dataset)
        self.try_page.shown = lambda: self.views.setCurrentIndex(TRY_IT)
        self.try_bars, self.try_truth = self.try_page.bars, self.try_page.truth
        self.views.addTab(self.try_page, "Try it")
        self.runs_page = RunsPage(self.message)
        self.runs_page.connect_actions(open_run=self.open_run, use_model=self.use_model,
                                       continue_run=self.continue_run, export=self.export_model)
        self.runs_table, self.runs_empty = self.runs_page.table, self.runs_page.empty
        self.open_run_button, self.continue_button = self.runs_page.open_button, self.runs_page.continue_button
        self.more_epochs = self.runs_page.more_epochs
        self.views.addTab(self.runs_page, "Past runs")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(side_scroll(page))     # a low window scrolls the column instead of crushing its rows
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        outer.addWidget(splitter)

    # ================================================================== facts other code reads
    @property
    def model_dir(self) -> Path | None:
        """The run folder whose model Try it and Save model use."""
        return self.try_page.model_dir

    @property
    def last_result(self) -> Finished | Failed | None:
        return self.session.last_result

    @property
    def last_probabilities(self):
        return self.try_page.last_probabilities

    @last_probabilities.setter
    def last_probabilities(self, value) -> None:
        self.try_page.last_probabilities = value

    @property
    def _runs(self):
        return self.runs_page.runs

    # ================================================================== settings
    def values(self) -> dict[str, Any]:
        return self.settings_page.values()

    def set_values(self, values: dict[str, Any]) -> None:
        self.settings_page.set_values(values)

    def apply_model_defaults(self) -> None:
        self.settings_page.apply_model_defaults()

    def _restore_settings(self) -> None:
        self.settings_page.restore()
        self.more_epochs.setValue(read_setting(self.state, "more_epochs", 5))
        tab = read_setting(self.state, "view", 0)
        if 0 <= tab < self.views.count():
            self.views.setCurrentIndex(tab)

    def save_settings(self) -> None:
        self.settings_page.save()
        s = self.state.settings
        s.setValue("train/more_epochs", self.more_epochs.value())
        s.setValue("train/view", self.views.currentIndex())
        s.sync()

    def _on_model_changed(self, name: str, _options: dict) -> None:
        if name != self.settings_page.form_model and not self.session.is_running():
            changed = self.settings_page.follow_model(name)
            if changed:
                self.show_message(changed, "info")
        self.settings_page.update_summary()

    def current_config(self) -> TrainConfig:
        """A validated TrainConfig from the data set, the model and the settings widgets."""
        spec = self.state.dataset_spec or {}
        raw = TrainConfig().to_dict()
        ds = self.state.dataset
        raw.update(task="classify", data=str(spec.get("data") or (ds.name if ds is not None else raw["data"])),
                   data_root=spec.get("data_root") or None, image_size=spec.get("image_size") or None,
                   model=self.state.model_name, model_options=dict(self.state.model_options or {}))
        if raw["data_root"] is not None:
            raw["data_root"] = str(raw["data_root"])
        raw.update(self.values())
        if spec.get("target"):      # a table (CSV): the column to predict, chosen in the Data tab
            raw["extra"] = {**(raw.get("extra") or {}), "target": str(spec["target"])}
            raw["augment"] = False  # rows are not pictures (the engine never augments them): config.json says so
        return TrainConfig.from_dict(raw, source="The training settings")

    def copy_command(self) -> str:
        try:
            line = self.current_config().to_command()
        except UserError as exc:
            self.show_message(str(exc), "error")
            return ""
        QGuiApplication.clipboard().setText(line)
        self.show_message(f"Copied to the clipboard:<br><code>{line}</code>", "ok")
        return line

    # ================================================================== training
    def is_busy(self) -> bool:
        return self.session.is_running()

    def toggle_training(self) -> None:
        """Ctrl+R: start, or stop the running training."""
        if self.session.is_running():
            self.stop_training()
        else:
            self.start_training()

    def toggle_pause(self) -> None:
        self.session.toggle_pause()

    def stop_training(self) -> None:
        self.session.stop()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._estimate_timer.start()

    def update_estimate(self) -> None:
        """Measure, in the background, how long Start would take, and say it under the summary."""
        label = self.settings_page.estimate
        ds = self.state.dataset
        if self.session.is_running() or ds is None or not self.isVisible():
            return
        try:
            cfg = self.current_config()
        except UserError:
            label.hide()
            return
        key = f"{id(ds)}:{cfg.to_json()}"
        if key == self._estimate_key:
            return
        self._estimate_key = key
        label.setText("Estimated time: measuring a few batches…")
        label.show()

        def job():
            from app.engine.estimate import estimate_run

            return estimate_run(cfg, ds)

        def done(result, error) -> None:
            if key != self._estimate_key or self.session.is_running():
                return                          # settings changed meanwhile, or a run started
            if error is not None:
                label.setText("" if not isinstance(error, UserError) else f"No time estimate: {error}")
                label.setVisible(isinstance(error, UserError))
                return
            label.setText(result.text)
            label.show()

        self._estimate_jobs.run(job, done)

    def start_training(self) -> None:
        if self.session.is_running():
            return
        if self.state.dataset is None:
            self.show_message("Load a data set in the Data tab first (the Fashion-MNIST sample works offline).",
                              "warn")
            return
        try:
            cfg = self.current_config()
        except UserError as exc:
            self.show_message(str(exc), "error")
            return
        self.save_settings()
        self.settings_page.estimate.hide()
        self._estimate_key = None
        self._begin(cfg, self.state.dataset, resume_from=None, out=None)

    def _begin(self, cfg: TrainConfig, dataset, resume_from, out, continuing=None) -> None:
        """Start training ``cfg``; ``continuing``: the RunSummary of the past run it goes on with."""
        holder: dict[str, Any] = {"dataset": dataset}
        self._run_data = holder

        def build(callbacks, control):
            trainer = make_trainer(cfg, out=out, dataset=dataset, callbacks=callbacks, control=control)
            holder["dataset"] = getattr(trainer.task, "dataset", dataset)
            return trainer

        self.run_config = cfg
        self.run_dir = Path(out) if out else None
        self.first_point_seconds = None
        self._continuing = continuing
        if continuing is None:
            self.curves.clear()
            self.results.clear()
            self.curves.set_planned_epochs(cfg.epochs)
        # else the planned epochs change when the engine has accepted the run (RunStarted)
        self.settings_page.running = cfg
        self.settings_page.running_name = continuing.name if continuing is not None else ""
        self.settings_page.update_summary()
        self.session.start(build, resume_from=resume_from, title=f"training {cfg.model} on {cfg.data}",
                           epochs=cfg.epochs)

    def _on_run_started(self, ev: RunStarted) -> None:
        self.run_dir = Path(ev.run_dir) if ev.run_dir else None
        run, self._continuing = self._continuing, None
        if run is not None:
            # the engine accepted the continued run: its batches at their true place, then its new plan
            self.curves.set_history(*run.batch_points(batches_per_epoch=ev.batches_per_epoch),
                                    [r for r in run.rows if r.get("epoch", 0) <= ev.start_epoch])
            self.curves.set_planned_epochs(ev.epochs)
        where = f" (continuing after epoch {ev.start_epoch})" if ev.start_epoch else ""
        self.show_message(f"Training on {ev.device}{where}. The run is saved in {self._run_link(self.run_dir)}.",
                          "info")

    def _on_batches(self, events: list[BatchEnd]) -> None:
        if self.first_point_seconds is None:
            self.first_point_seconds = time.perf_counter() - self.session.started_at
        self.curves.add_batches([ev.epoch - 1 + ev.batch / max(ev.batches, 1) for ev in events],
                                [ev.metrics.get("loss", float("nan")) for ev in events])

    def _on_epoch(self, ev: EpochEnd) -> None:
        self.curves.add_epoch(ev.epoch, ev.metrics)
        acc = ev.metrics.get("test_acc")
        title = f"After epoch {ev.epoch} of {ev.epochs}"
        if isinstance(acc, float):
            title += f": {100 * acc:.1f}% of the test images right" + (" — the best so far" if ev.is_best else "")
        self.results.show_later(ev.details, self._run_data.get("dataset"), title,
                                self.views.currentIndex() == RESULTS)
        if ev.is_best and self.run_dir is not None:     # the trainer has just written best.pt
            self.try_page.set_model(self.run_dir, ev.metrics)

    def _on_view_changed(self, index: int) -> None:
        if index == RESULTS:
            self.results.draw_pending()

    def _on_notice(self, ev: Notice) -> None:
        self._notices.append(ev.message)
        self.message.add(ev.message, "warn")

    def _on_done(self, result) -> None:
        self.curves.throttle.flush()
        notices, self._notices = self._notices, []
        self._continuing = None
        self.settings_page.running = None
        self.settings_page.update_summary()
        if isinstance(result, Failed):
            hint = "" if result.user_error else " This looks like a bug; 'Copy details' gives the technical report."
            saved = (f" What was saved is in {self._run_link(Path(result.run_dir))}."
                     if result.run_dir and Path(result.run_dir, "last.pt").is_file() else "")
            self.show_message(f"Training stopped with a problem: {result.message}{saved}{hint}", "error",
                              result.details)
        elif isinstance(result, Finished):
            best = result.best.get("test_acc") if result.best else None
            last = result.metrics.get("test_acc") if result.metrics else None
            parts = []
            if isinstance(last, float):
                parts.append(f"test accuracy {100 * last:.1f}%")
            if isinstance(best, float):
                parts.append(f"best {100 * best:.1f}% at epoch {int(result.best.get('epoch', 0))}")
            scores = (" — " + ", ".join(parts)) if parts else ""
            where = self._run_link(Path(result.run_dir)) if result.run_dir else "memory"
            if result.reason == "stopped":
                self.show_message(f"Stopped after {result.epoch} complete epoch(s){scores}. A checkpoint is saved in "
                                  f"{where}: select the run in 'Past runs' to continue it.", "ok")
            else:
                self.show_message(f"Finished {result.epoch} epoch(s) in {hms(result.seconds)}{scores}. Saved in "
                                  f"{where}. Try the model in 'Try it'.", "ok")
            if result.run_dir and (Path(result.run_dir) / "best.pt").is_file():
                self.try_page.set_model(Path(result.run_dir), result.best)
        for text in notices:            # what the engine remarked during the run stays in view
            self.message.add(text, "warn")
        self.refresh_runs()

    def show_message(self, text: str, level: str = "info", details: str = "") -> None:
        self.message.show_message(text, level, details)

    @staticmethod
    def _run_link(path: Path | None) -> str:
        if path is None:
            return "memory only"
        return f"<a href='{QUrl.fromLocalFile(str(path)).toString()}'>{path.name}</a>"

    # ================================================================== Try it
    def use_model(self, run_dir: Path) -> None:
        run = self._read_run(run_dir)
        if run is None:
            return
        if run.model_checkpoint is None:
            self.show_message(run.no_model_reason(), "warn")
            return
        self.try_page.set_model(run.path, run.best)
        self.views.setCurrentIndex(TRY_IT)

    def try_file(self, path: str) -> None:
        self.try_page.try_file(path)

    def random_test_image(self) -> None:
        self.try_page.random_test_image()

    def choose_image(self) -> None:
        self.try_page.choose_image()

    # ================================================================== past runs
    def refresh_runs(self) -> None:
        self.runs_page.refresh()

    def select_run(self, run_dir: Path) -> bool:
        return self.runs_page.select(run_dir)

    def _read_run(self, run_dir):
        try:
            return read_run(run_dir)
        except UserError as exc:
            self.show_message(str(exc), "error")
            return None

    def _past_run(self, run_dir, busy: str):
        """The summary of a past run to show or continue; None (and ``busy`` or why) when it cannot be."""
        if self.session.is_running():
            self.show_message(busy, "warn")
            return None
        return self._read_run(run_dir)

    def _dataset_for(self, cfg: TrainConfig):
        """The loaded data set when it is the one ``cfg`` trains on, else None."""
        spec = self.state.dataset_spec or {}
        ds = self.state.dataset
        if ds is None or str(spec.get("data") or ds.name) != cfg.data:
            return None
        if (spec.get("data_root") or None) != (cfg.data_root or None) and cfg.data in ("folder", "csv"):
            return None
        if cfg.data == "csv" and (spec.get("target") or None) != ((cfg.extra or {}).get("target") or None):
            return None
        if (spec.get("image_size") or None) != (cfg.image_size or None):
            return None
        return ds

    def open_run(self, run_dir) -> None:
        """Show a past run: its curves, its model in Try it, and (computed in the background) its results."""
        run = self._past_run(run_dir, "Wait for the training to end (or stop it) before opening another run.")
        if run is None:
            return
        cfg = run.config
        if cfg.task != "classify":
            self.show_message(f"{run.name} is a {cfg.task} run; open it in its own tab.", "warn")
            return
        dataset = self._dataset_for(cfg)
        xs, losses = run.batch_points(len(dataset.train) if dataset is not None else None)
        self.curves.set_history(xs, losses, run.rows)
        self.curves.set_planned_epochs(run.epochs_planned)
        self.curves.throttle.flush()
        self.results.clear()
        self.run_dir, self.run_config = run.path, cfg
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if run.epochs_done >= run.epochs_planned else 0)
        self.progress.setFormat(f"Past run: {run.epochs_done} of {run.epochs_planned} epoch(s)")
        self.speed.setText(f"{cfg.model} on {run.data_name}")
        self.select_run(run.path)
        self.views.setCurrentIndex(CURVES)
        ckpt = run.model_checkpoint
        if ckpt is None:
            self.try_page.set_model(None)
            self.show_message(f"Showing the curves of {run.name}. {run.no_model_reason()}", "info")
            return
        self.try_page.set_model(run.path, run.best)
        self.show_message(f"Showing the past run {self._run_link(run.path)}. Working out its confusion matrix "
                          "on the test images…", "info")
        classifiers = self.classifiers

        def job():
            clf = classifiers.get(ckpt)
            ds = dataset if dataset is not None else load_data_for(cfg)
            if list(ds.classes) != clf.classes or tuple(ds.input_shape) != clf.input_shape:
                raise UserError(f"The data set {run.data_name} does not match the model of this run any more.")
            if hasattr(ds.test, "features"):         # a table run: rows, not images
                from app.engine.tabular import test_probabilities

                probs = test_probabilities(clf.model, ds)
            else:
                probs = clf.probabilities(ds.test.images)
            return evaluation_details(probs, ds.test.labels, clf.classes), ds

        def done(result, error):
            if error is not None:
                if isinstance(error, UserError):
                    self.show_message(f"Showing {run.name}'s curves. Its results need its data set: {error}", "warn")
                else:
                    show_error(self.message, error)
                return
            details, ds = result
            self._run_data = {"dataset": ds}
            if dataset is None and run.batches_per_epoch() is None:   # now the epoch's length is known
                self.curves.set_history(*run.batch_points(len(ds.train)), run.rows)
            self.results.show_details(details, ds, f"Past run {run.name}: best model, "
                                                   f"{100 * details['accuracy']:.1f}% of the test images right")
            self.show_message(f"Showing the past run {self._run_link(run.path)}: curves, results and its model in "
                              "Try it.", "ok")

        self.jobs.run(job, done)

    def continue_run(self, run_dir, more_epochs: int = 5) -> None:
        """Continue a past run from its last.pt for ``more_epochs`` more epochs, in the same folder."""
        run = self._past_run(run_dir, "A training is already running.")
        if run is None:
            return
        # continuing adds epochs to what was planned; it never removes planned ones (issue 13 item 4).
        # Nothing is written here: the engine saves the new plan once it has accepted the checkpoint.
        try:
            cfg, last = continue_config(run.path, max(1, int(more_epochs)))
        except UserError as exc:
            self.show_message(str(exc), "error")
            return
        dataset = self._dataset_for(cfg)
        self.curves.set_history(*run.batch_points(len(dataset.train) if dataset is not None else None), run.rows)
        self.curves.set_planned_epochs(run.epochs_planned)
        self.results.clear()
        self.views.setCurrentIndex(CURVES)
        self._begin(cfg, dataset, resume_from=last, out=run.path, continuing=run)

    # ================================================================== export
    def export_model(self, run_dir=None, target: str | None = None) -> None:
        """Save a run's best model as a state-dict file (.pt, a copy of best.pt) or as ONNX (.onnx)."""
        from app.engine.predict import resolve_checkpoint
        from app.models.export import export_checkpoint

        source = Path(run_dir) if run_dir else self.model_dir
        if source is None:
            self.show_message("There is no model to save yet: train one, or select a past run.", "warn")
            return
        try:
            ckpt = resolve_checkpoint(source)
        except UserError as exc:
            self.show_message(str(exc), "error")
            return
        if target is None:
            start = str(Path(str(read_setting(self.state, "export_dir", str(Path.home())))) / f"{source.name}-model")
            target, chosen = QFileDialog.getSaveFileName(self, "Save the model", start,
                                                         ";;".join((SHARE_FILTER, PT_FILTER, ONNX_FILTER)))
            if not target:
                return
            if chosen == PT_FILTER and Path(target).suffix.lower() != ".pt":
                target += ".pt"
            elif chosen == ONNX_FILTER and Path(target).suffix.lower() != ".onnx":
                target += ".onnx"
        target_path = Path(target)
        self.state.settings.setValue("train/export_dir", str(target_path.parent))
        if target_path.suffix.lower() not in (".pt", ".onnx"):
            self.export_to_share(ckpt, target_path, source.name)
            return
        if target_path.suffix.lower() == ".onnx":
            classifiers = self.classifiers

            def job():
                from app.models.export import export_onnx

                clf = classifiers.get(ckpt)
                return export_onnx(clf.model, clf.input_shape, target_path)

            def done(result, error):
                if error is not None:
                    show_error(self.message, error)
                else:
                    self.show_message(f"Saved the model as ONNX in {target_path} (checked with {result.verified_with}).",
                                      "ok")

            self.show_message(f"Writing {target_path.name} (ONNX)…", "info")
            self.jobs.run(job, done)
            return
        try:
            saved = export_checkpoint(ckpt, target_path)
        except UserError as exc:
            self.show_message(str(exc), "error")
            return
        self.show_message(f"Saved the model (weights and description) in {saved}. Load it with "
                          f"'visiondesk evaluate {saved.name}'.", "ok")

    # ------------------------------------------------------------------ issue 18: a folder to share
    def export_to_share(self, ckpt: Path, folder: Path, source: str = "") -> None:
        """Write model.onnx (labels and preprocessing in its metadata), labels.txt, README.md and predict.py
        to ``folder``, off the GUI thread (``models.export.export_folder``)."""
        classifiers = self.classifiers

        def job():
            from app.models.export import export_folder

            clf = classifiers.get(ckpt)
            return export_folder(clf.model, clf.meta, folder, source=source)

        def done(result, error):
            if error is not None:
                show_error(self.message, error)
                return
            self.show_message(f"Exported the model to {self._run_link(result.folder)}: model.onnx with its class "
                              f"names, labels.txt, and a README.md with a Python example that runs it "
                              f"(checked with {result.onnx.verified_with}).", "ok")

        self.show_message(f"Exporting the model to {folder}…", "info")
        self.jobs.run(job, done)

    # ================================================================== closing
    def shutdown(self) -> None:
        self.save_settings()
        self.try_page.live.shutdown()        # issue 18: the live Try it releases its camera
        if self.session.is_running():
            self.session.shutdown()
        self._estimate_timer.stop()
        self._estimate_jobs.wait(10.0)
        self.jobs.wait(10.0)
