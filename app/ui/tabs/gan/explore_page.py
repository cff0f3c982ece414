"""The GAN tab's Generate page: a generator (the shipped one, after its checksum check, or any GAN run's
best.pt / last.pt), N samples of a seed, 'New seed'; click a sample to look closer (``CloserLook``: enlarged,
nearest real images); a latent walk between two chosen samples; save the grid or the strip as PNG. Torch work
runs in background jobs (``workers.Jobs``); the GUI thread never waits on it."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox,
                               QVBoxLayout, QWidget)

from app.core.errors import UserError
from app.ui.state import AppState
from app.ui.tabs.gan.closer_look import CloserLook
from app.ui.tabs.gan.glossary import explain
from app.ui.tabs.gan.messages import show_failure
from app.ui.widgets.combo import ElidedComboBox
from app.ui.widgets.common import button, file_link, side_scroll
from app.ui.widgets.image_view import ImageView
from app.ui.widgets.messages import MessageArea
from app.ui.widgets.sample_grid import SampleGrid
from app.ui.workers import Jobs

SHIPPED_DEFAULT = "gan-fashion-mnist"


class ExplorePage(QWidget):
    """Generate, compare and interpolate the samples of one generator."""

    def __init__(self, state: AppState, jobs: Jobs, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.jobs = jobs
        self.generator = None                            # app.engine.gan.LoadedGenerator
        self.samples: torch.Tensor | None = None         # uint8 (N, C, H, W) on screen
        self.latents: torch.Tensor | None = None
        self.sample_seed = 0
        self.strip: np.ndarray | None = None
        self.ends = [0, 1]                               # interpolation ends A, B (sample indices)
        self._shipped: set[str] = set()                  # names of the shipped generators in the combo

        left = QWidget()
        left.setMinimumWidth(290)
        left.setMaximumWidth(340)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)
        lv.addWidget(self._build_generator_box())
        lv.addWidget(self._build_samples_box())
        lv.addWidget(self._build_walk_box())
        self.message = MessageArea()
        lv.addWidget(self.message)
        lv.addStretch(1)

        self.grid = SampleGrid()
        self.grid.sampleClicked.connect(self.select_sample)
        self.strip_view = ImageView("Choose two samples (A and B) and press Interpolate:\n"
                                    "the images in between appear here.", min_side=90)
        self.strip_view.setMinimumHeight(90)
        self.strip_view.setMaximumHeight(150)
        centre = QWidget()
        cv = QVBoxLayout(centre)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.grid, 1)
        cv.addWidget(self.strip_view)
        self.closer = CloserLook(jobs)
        self.closer.nearest_button.clicked.connect(lambda: self.find_nearest())

        lay = QHBoxLayout(self)
        lay.addWidget(side_scroll(left))
        lay.addWidget(centre, 1)
        lay.addWidget(self.closer)
        self._refresh_shipped()
        self._update_ui()

    # ------------------------------------------------------------------ boxes
    def _build_generator_box(self) -> QGroupBox:
        box = QGroupBox("Generator")
        gl = QVBoxLayout(box)
        self.shipped_choice = ElidedComboBox()
        self.shipped_choice.setToolTip("The generator drawing the samples: one trained by the VisionDesk project "
                                       "(weights/ folder), or a GAN run's checkpoint you opened.")
        explain(self.shipped_choice, "FD")
        self.shipped_choice.activated.connect(lambda _i: self._generator_chosen())
        gl.addWidget(self.shipped_choice)
        self.open_button = button("Open a GAN run's checkpoint…", "best.pt or last.pt of any GAN run")
        self.open_button.clicked.connect(self.choose_checkpoint)
        gl.addWidget(self.open_button)
        self.gen_info = QLabel("No generator loaded.")
        self.gen_info.setWordWrap(True)
        self.gen_info.setObjectName("hint")
        gl.addWidget(self.gen_info)
        return box

    def _build_samples_box(self) -> QGroupBox:
        box = QGroupBox("Samples")
        form = QFormLayout(box)
        self.n_samples = QSpinBox()
        self.n_samples.setRange(1, 256)
        self.n_samples.setValue(64)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2_000_000_000)
        self.seed.setToolTip("The same seed always gives the same samples.")
        self.new_seed_button = button("New seed", "Pick a random seed and generate.")
        self.new_seed_button.clicked.connect(lambda: self.new_seed())
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.new_seed_button)
        self.generate_button = button("Generate", "Draw the samples of this seed.", "primary")
        self.generate_button.clicked.connect(lambda: self.generate())
        self.save_grid_button = button("Save grid as PNG…")
        self.save_grid_button.clicked.connect(lambda: self._save_dialog("grid"))
        form.addRow("Samples:", self.n_samples)
        form.addRow("Seed:", seed_row)
        form.addRow(self.generate_button)
        form.addRow(self.save_grid_button)
        return box

    def _build_walk_box(self) -> QGroupBox:
        box = QGroupBox("Walk between two samples")
        form = QFormLayout(box)
        self.ends_label = QLabel()
        self.ends_label.setWordWrap(True)
        self.set_a_button = button("Selected → A")
        self.set_b_button = button("Selected → B")
        self.set_a_button.clicked.connect(lambda: self.set_end(0))
        self.set_b_button.clicked.connect(lambda: self.set_end(1))
        ab = QHBoxLayout()
        ab.addWidget(self.set_a_button)
        ab.addWidget(self.set_b_button)
        self.steps = QSpinBox()
        self.steps.setRange(3, 32)
        self.steps.setValue(10)
        self.spherical = QCheckBox("Spherical (slerp)")
        self.spherical.setChecked(True)
        self.spherical.setToolTip("Walk along the sphere where random noise vectors live, instead of a straight line.")
        explain(self.spherical, "slerp")
        self.interpolate_button = button("Interpolate", "Show the images between A and B.", "primary")
        self.interpolate_button.clicked.connect(lambda: self.interpolate())
        self.save_strip_button = button("Save strip as PNG…")
        self.save_strip_button.clicked.connect(lambda: self._save_dialog("strip"))
        form.addRow(self.ends_label)
        form.addRow(ab)
        form.addRow("Steps:", self.steps)
        form.addRow(self.spherical)
        form.addRow(self.interpolate_button)
        form.addRow(self.save_strip_button)
        return box

    def _update_ui(self) -> None:
        has_gen = self.generator is not None
        has_samples = self.samples is not None and len(self.samples) > 0
        selected = has_samples and self.grid.selected >= 0
        for b in (self.generate_button, self.new_seed_button):
            b.setEnabled(has_gen)
        self.save_grid_button.setEnabled(has_samples)
        self.interpolate_button.setEnabled(has_samples and len(self.samples) >= 2)
        self.set_a_button.setEnabled(selected)
        self.set_b_button.setEnabled(selected)
        self.save_strip_button.setEnabled(self.strip is not None)
        self.closer.nearest_button.setEnabled(selected)
        if has_samples:
            a, b = self.ends
            self.ends_label.setText(f"From <b>A</b> = sample #{a} to <b>B</b> = sample #{b} (seed {self.sample_seed}). "
                                    f"Click a sample, then 'Selected → A' or '→ B' to change them.")
            self.grid.marks = {a: "A", b: "B"} if a != b else {a: "A"}
            self.grid.update()
        else:
            self.ends_label.setText("Generate samples first.")

    # ------------------------------------------------------------------ loading generators
    def _refresh_shipped(self) -> None:
        from app.core.weights import list_weights

        self.shipped_choice.clear()
        try:
            entries = list_weights("gan")
        except UserError as exc:
            entries = {}
            self.gen_info.setText(str(exc))
        self._shipped = set(entries)
        for name, entry in sorted(entries.items(), key=lambda kv: kv[0] != SHIPPED_DEFAULT):
            fd = entry.get("fd")
            text = f"{entry.get('data', name)} ({entry.get('model', 'gan')}"
            text += f", FD {fd:.1f})" if isinstance(fd, (int, float)) else ")"
            self.shipped_choice.addItem(text, name)
        if not entries:
            self.shipped_choice.addItem("none shipped", None)
            self.shipped_choice.setEnabled(False)

    def load_shipped(self, name: str | None, generate: bool = False) -> bool:
        """Load shipped weights ``name`` after the checksum check; a clear message when missing/damaged."""
        if not name:
            return False
        from app.core.weights import verified_weight_path

        try:
            path = verified_weight_path(name)
        except UserError as exc:
            self.message.show_message(f"The shipped generator '{name}' could not be loaded: {exc} "
                                      f"You can still train a GAN, or open a GAN run's checkpoint.", "warn")
            self.gen_info.setText("No generator loaded.")
            return False
        return self.load_generator_file(path, generate=generate, shipped=name)

    def _generator_chosen(self) -> None:
        """A generator picked in the combo: a shipped one by name, or a checkpoint opened before."""
        data = self.shipped_choice.currentData()
        if data in self._shipped:
            self.load_shipped(data, generate=True)
        elif data:
            self.load_generator_file(Path(data), generate=True)

    def _show_in_combo(self, path: Path, shipped: str | None) -> None:
        """Select the generator on screen in the combo, adding an opened checkpoint as a choice."""
        combo = self.shipped_choice
        key = shipped if shipped else str(path)
        if (i := combo.findData(key)) < 0:
            if not self._shipped and combo.count() == 1 and combo.itemData(0) is None:
                combo.clear()                   # "none shipped"
            from app.engine.gan import describe_checkpoint

            combo.addItem(describe_checkpoint(path, self.generator.meta), key)
            combo.setItemData(combo.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole)
            i = combo.count() - 1
        combo.setCurrentIndex(i)
        combo.setEnabled(True)

    def _select_generator_on_screen(self) -> None:
        gen = self.generator
        if gen is not None and gen.path is not None:
            for key in (str(gen.path), *self._shipped):
                i = self.shipped_choice.findData(key)
                if i >= 0 and (key == str(gen.path) or gen.path.name == f"{key}.pt"):
                    self.shipped_choice.setCurrentIndex(i)
                    return

    def choose_checkpoint(self) -> None:
        from app.engine.runs import runs_root

        path, _ = QFileDialog.getOpenFileName(self, "Open a GAN checkpoint", str(runs_root()),
                                              "Checkpoints (*.pt);;All files (*)")
        if path:
            self.load_generator_file(Path(path), generate=True)

    def load_generator_file(self, path: str | Path, generate: bool = False, shipped: str | None = None) -> bool:
        from app.engine.gan import load_generator

        try:
            gen = load_generator(path)
        except UserError as exc:
            self.message.show_message(f"{Path(path).name} could not be opened as a generator: {exc}", "error")
            self._select_generator_on_screen()
            return False
        self.generator = gen
        self._show_in_combo(Path(gen.path or path), shipped)
        self.samples = None
        self.latents = None
        self.strip = None
        self.strip_view.set_image(None)
        self.grid.set_images(None)
        self.closer.clear()
        source = "shipped weights" if shipped else str(path)
        extra = ""
        if shipped:
            from app.core.weights import weight_entry

            entry = weight_entry(shipped)
            if isinstance(entry.get("fd"), (int, float)):
                extra = (f" Trained {entry.get('epochs', '?')} epochs; Fréchet distance {entry['fd']:.2f} "
                         f"(untrained {entry.get('fd_untrained', float('nan')):.1f}, real images "
                         f"{entry.get('fd_real_floor', float('nan')):.2f}).")
        self.gen_info.setText(f"<b>{gen.describe()}</b><br>from {source}.{extra}")
        self.message.clear()
        self._update_ui()
        if generate:
            self.generate()
        return True

    # ------------------------------------------------------------------ generating
    def new_seed(self) -> None:
        self.seed.setValue(random.randint(0, 999_999))
        self.generate()

    def generate(self) -> None:
        gen = self.generator
        if gen is None:
            self.message.show_message("Load a generator first.", "warn")
            return
        n, seed = self.n_samples.value(), self.seed.value()

        def job():
            z = gen.latents(n, seed)
            return z, gen.generate(z)

        def done(result, error):
            if error is not None:
                show_failure(self.message, "Drawing the samples", error)
                return
            if gen is not self.generator:
                return
            self.latents, self.samples = result
            self.sample_seed = seed
            self.ends = [0, min(1, n - 1)]
            self.grid.selected = -1
            self.grid.set_images(self.samples)
            self.closer.clear()
            self._update_ui()

        self.jobs.run(job, done)

    def select_sample(self, index: int) -> None:
        if self.samples is None or not 0 <= index < len(self.samples):
            return
        if self.grid.selected != index:
            self.grid.selected = index
            self.grid.update()
        self.closer.show_sample(self.samples[index], index, self.sample_seed, key=(id(self.samples), index))
        self._update_ui()

    def set_end(self, which: int) -> None:
        if self.grid.selected < 0:
            return
        self.ends[which] = self.grid.selected
        self._update_ui()

    def interpolate(self) -> None:
        gen, z = self.generator, self.latents
        if gen is None or z is None:
            return
        a, b = self.ends
        steps, spherical = self.steps.value(), self.spherical.isChecked()

        def job():
            from app.engine.gan import make_strip

            return make_strip(gen.interpolate(z[a], z[b], steps=steps, spherical=spherical))

        def done(result, error):
            if error is not None:
                show_failure(self.message, "Drawing the walk between A and B", error)
                return
            self.strip = result
            self.strip_view.set_image(result)
            self.message.show_message(f"{steps} images from sample #{a} to sample #{b}.", "info")
            self._update_ui()

        self.jobs.run(job, done)

    def find_nearest(self, k: int = 6) -> None:
        gen, idx, samples = self.generator, self.grid.selected, self.samples
        if gen is None or samples is None or idx < 0:
            return
        self.closer.find_nearest(gen.meta, samples[idx], loaded=self.state.dataset, k=k)

    # ------------------------------------------------------------------ saving
    def _save_dialog(self, what: str) -> None:
        default = str(Path.home() / ("gan-samples.png" if what == "grid" else "gan-interpolation.png"))
        path, _ = QFileDialog.getSaveFileName(self, "Save as PNG", default, "PNG images (*.png)")
        if path:
            (self.save_grid if what == "grid" else self.save_strip)(path)

    def save_grid(self, path: str | Path) -> Path | None:
        """Write the samples on screen as one PNG (enlarged twice); returns the path written."""
        from app.engine.gan import make_grid

        if self.samples is None:
            return None
        return self._save(make_grid(self.samples), path)

    def save_strip(self, path: str | Path) -> Path | None:
        """Write the interpolation strip as PNG (enlarged twice); returns the path written."""
        if self.strip is None:
            return None
        return self._save(self.strip, path)

    def _save(self, picture: np.ndarray, path: str | Path) -> Path | None:
        from app.engine.gan import save_png

        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        try:
            out = save_png(picture, path, scale=2)
        except UserError as exc:
            self.message.show_message(str(exc), "error")
            return None
        self.message.show_message(f"Saved {file_link(out)}.", "ok")
        return out


__all__ = ["ExplorePage", "SHIPPED_DEFAULT"]
