"""The GAN tab's Train page: settings on the left, Start / Pause / Stop through a ``TrainingSession`` (the
engine's ``GanTask``; no training loop here), the live views on the right, and past GAN runs replayed in
the same views (read by ``gan.open_gan_run``)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from app.core.errors import UserError
from app.engine.events import BatchEnd, EpochEnd, EvalStart, Failed, Finished, RunStarted, Samples
from app.ui.session import TrainingSession, hms
from app.ui.state import AppState
from app.ui.tabs.gan.replay import PastRuns
from app.ui.tabs.gan.settings import GanSettings
from app.ui.tabs.gan.views import RunViews
from app.ui.widgets.common import button, file_link, side_scroll
from app.ui.widgets.messages import MessageArea
from app.ui.workers import Jobs


class TrainPage(QWidget):
    """Train a GAN and watch it learn; ``exploreRequested(checkpoint)`` for 'Explore this generator'."""

    exploreRequested = Signal(object)

    def __init__(self, state: AppState, jobs: Jobs, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.jobs = jobs
        self.run_dir: Path | None = None

        left = QWidget()
        left.setMinimumWidth(290)
        left.setMaximumWidth(360)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)
        self.settings = GanSettings(state)
        lv.addWidget(self.settings)
        row = QHBoxLayout()
        self.start_button = button("Start", "Train a GAN with these settings.", "primary")
        self.pause_button = button("Pause", "Pause after the current batch.")
        self.stop_button = button("Stop", "Stop after the current batch (a checkpoint is saved).", "danger")
        for b in (self.start_button, self.pause_button, self.stop_button):
            row.addWidget(b)
        lv.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Ready")
        self.progress.setTextVisible(True)
        lv.addWidget(self.progress)
        self.speed = QLabel()
        self.speed.setObjectName("hint")
        lv.addWidget(self.speed)
        self.message = MessageArea()
        lv.addWidget(self.message)
        self.use_trained_button = button("Explore this generator", "Open the generator just trained in Generate.")
        self.use_trained_button.clicked.connect(self._explore)
        self.use_trained_button.setEnabled(False)
        lv.addWidget(self.use_trained_button)
        self.past = PastRuns()
        self.past.openRequested.connect(self.open_run)
        lv.addWidget(self.past)
        lv.addStretch(1)

        self.views = RunViews()
        lay = QHBoxLayout(self)
        lay.addWidget(side_scroll(left))
        lay.addWidget(self.views, 1)

        self.session = TrainingSession(self, state=state, busy_key="gan")
        self.session.messages["preparing"] = "Preparing the data and the networks for {title}…"
        self.session.bind(start=self.start_button, pause=self.pause_button, stop=self.stop_button,
                          progress=self.progress, speed=self.speed, message=self.message,
                          lock=[self.settings, self.past])
        self.session.start_requested = self.start_training
        self.session.on(BatchEnd, self._add_batches, batched=True)
        self.session.on(Samples, self._add_samples)
        self.session.on(EpochEnd, self._show_epoch)
        self.session.on(RunStarted, self._run_started)
        self.session.on(EvalStart, self._scoring)
        self.session.on_done(self._done)

    # ------------------------------------------------------------------ training
    @property
    def last_result(self) -> Finished | Failed | None:
        return self.session.last_result

    def is_busy(self) -> bool:
        return self.session.is_running()

    def start_training(self) -> None:
        if self.session.is_running():
            return
        try:
            cfg = self.settings.config()
        except UserError as exc:
            self.message.show_message(str(exc), "error")
            return
        dataset = self.settings.dataset()

        def build(callbacks, control):
            from app.engine.build import make_trainer

            return make_trainer(cfg, dataset=dataset, callbacks=callbacks, control=control)

        self.views.clear()
        self.run_dir = None
        self.use_trained_button.setEnabled(False)
        self.session.start(build, title=f"a {cfg.model} GAN on {cfg.data}", epochs=cfg.epochs)

    def stop_training(self) -> None:
        self.session.stop()

    def _run_started(self, ev: RunStarted) -> None:
        self.run_dir = Path(ev.run_dir) if ev.run_dir else None
        self.message.show_message(f"Training on {ev.device}. The run is saved in {file_link(self.run_dir)}.", "info")

    def _scoring(self, ev: EvalStart) -> None:
        self.progress.setFormat(f"Epoch {ev.epoch} of {self.session.epochs} · drawing samples and scoring…")

    def _add_batches(self, events: list[BatchEnd]) -> None:
        self.views.curves.add_batches([ev.epoch - 1 + ev.batch / max(ev.batches, 1) for ev in events],
                                      [ev.metrics for ev in events])

    def _add_samples(self, ev: Samples) -> None:
        if ev.kind == "gan-grid":
            self.views.add_grid(ev.epoch, ev.image)

    def _show_epoch(self, ev: EpochEnd) -> None:
        from app.engine.gan import describe_score

        self.views.add_score(ev.epoch, ev.metrics.get("fd"))
        score = ev.details.get("score") if ev.details else None
        if score:
            self.views.show_score(describe_score(ev.epoch, score), score)
        elif ev.details and ev.details.get("score_note"):
            self.views.show_score(ev.details["score_note"])

    def _done(self, result) -> None:
        self.views.curves.throttle.flush()
        if isinstance(result, Failed):
            if result.user_error:
                self.message.show_message(f"The GAN training stopped: {result.message}", "error")
            else:
                log = f" (its log, run.log, is in {file_link(result.run_dir)})" if result.run_dir else ""
                self.message.show_message("The GAN training stopped because of a problem inside VisionDesk, not "
                                          f"because of your settings{log}. 'Copy details' copies what went wrong "
                                          "for a bug report.", "error", details=result.details)
        elif isinstance(result, Finished):
            fd = (result.best or {}).get("fd")
            best = f" Best Fréchet distance {fd:.2f} at epoch {int(result.best['epoch'])}." if isinstance(fd, float) \
                else ""
            where = file_link(result.run_dir) if result.run_dir else "memory"
            b = self.session.last_batch
            if result.reason == "stopped" and b is not None and b.epoch == result.epoch + 1 and b.batch < b.batches:
                done = (f"Stopped during epoch {b.epoch} (batch {b.batch} of {b.batches}), with the generator as it "
                        "was then.")
            elif result.reason == "stopped":
                done = f"Stopped after epoch {result.epoch}."
            else:
                done = f"Finished {result.epoch} epoch(s) in {hms(result.seconds)}."
            self.message.show_message(f"{done}{best} Saved in {where}. Press 'Explore this generator' to draw new "
                                      "samples.", "ok")
        self.use_trained_button.setEnabled(self._checkpoint() is not None)
        self.past.refresh()

    # ------------------------------------------------------------------ past runs
    def open_run(self, run_dir: str | Path) -> bool:
        """Show a finished (or stopped) GAN run: its curves, its scores, and the fixed-noise grid of every
        epoch on the epoch slider (the grids are read in the background). False, with a message, when
        the folder is not a GAN run (what is on screen stays)."""
        from app.engine.gan import OtherTaskRun, open_gan_run, read_run_grids

        if self.session.is_running():
            self.message.show_message("Wait for the training to end (or stop it) before opening a past run.", "warn")
            return False
        try:
            run = open_gan_run(run_dir)
        except UserError as exc:
            self.message.show_message(str(exc), "warn" if isinstance(exc, OtherTaskRun) else "error")
            return False
        self.views.clear("loading…")
        self.views.curves.add_batches(run.batch_x, run.batch_rows)
        for epoch, fd in run.scores:
            self.views.add_score(epoch, fd)
        self.views.curves.throttle.flush()
        self.views.show_score(run.score_text, run.last_score)
        self.run_dir = run.path
        cfg = run.config
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if run.epochs_done >= cfg.epochs else 0)
        self.progress.setFormat(f"Past run: {run.epochs_done} of {cfg.epochs} epoch(s)")
        self.speed.setText("")
        self.use_trained_button.setEnabled(run.checkpoint is not None)
        self.message.show_message(f"Showing the past run {file_link(run.path)} ({run.title}, {run.epochs_done} of "
                                  f"{cfg.epochs} epochs). Drag the epoch slider to replay its samples.", "info")
        self.past.select(str(run.path))
        self.settings.show_config(cfg)

        def done(grids, error):
            if self.run_dir != run.path or self.session.is_running():
                return            # another run was opened, or training started, meanwhile
            if error is not None or not grids:
                self.views.epoch_label.setText("no samples saved")
                return
            for epoch in sorted(grids):
                self.views.add_grid(epoch, grids[epoch])

        self.jobs.run(lambda: read_run_grids(run.path), done)
        return True

    def _checkpoint(self) -> Path | None:
        from app.engine.gan import run_checkpoint

        return None if self.run_dir is None else run_checkpoint(self.run_dir)

    def _explore(self) -> None:
        self.exploreRequested.emit(self._checkpoint())


__all__ = ["TrainPage"]
