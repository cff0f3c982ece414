"""The Model tab's pretrained-weights part: which ImageNet weights a transfer model starts from (shipped with
VisionDesk, downloaded once, or a file the person already has), what the box says about them, and the download.
A mixin of ``ModelTab`` (it uses the tab's ``current_name``, ``options``, ``infos``, ``messages``, ``state``,
``_jobs`` and its option helpers)."""
from __future__ import annotations

from pathlib import Path

from app.core.errors import UserError
from app.models import download_pretrained, pretrained_available
from app.ui.workers import describe_error


class PretrainedWeights:
    """Weights box of a transfer model: state text, 'Download', 'Use a weights file I have…'."""

    def _weights_available(self, name: str, weights_file: str = "") -> bool:
        try:
            return bool(pretrained_available(name, weights_file) if weights_file else pretrained_available(name))
        except (UserError, OSError):
            return False

    def _update_transfer(self) -> None:
        name = self.current_name
        available = self._weights_available(name, str(self.options.get("weights_file") or ""))
        downloading = self._downloading
        for box, key in ((self.pretrained_check, "pretrained"), (self.freeze_check, "freeze_backbone")):
            box.blockSignals(True)
            box.setChecked(bool(self.options.get(key, False)))
            box.blockSignals(False)
        self.pretrained_check.setEnabled(available)
        self.freeze_check.setEnabled(available and bool(self.options.get("pretrained")))
        shipped = "weights_file" not in self.infos[name].options     # the weights come with VisionDesk
        own = str(self.options.get("weights_file") or "")
        if downloading:
            self.weights_label.setText("Downloading the ImageNet weights…")
        elif shipped and available:
            self.weights_label.setText("✓ The ImageNet weights come with VisionDesk (no download needed).")
        elif shipped:
            self.weights_label.setText("The ImageNet weights that come with VisionDesk are missing; reinstall "
                                       "VisionDesk, or train from scratch.")
        elif own and available:
            self.weights_label.setText(f"✓ Using your weights file {Path(own).name}.")
        elif available:
            self.weights_label.setText("✓ The ImageNet weights are on this computer.")
        else:
            self.weights_label.setText("The ImageNet weights are not on this computer yet. Download them "
                                       "once (needs internet), use a weights file you have, or train from scratch.")
        self.download_button.setVisible(not available and not shipped)
        self.download_button.setEnabled(not downloading)
        self.own_file_button.setVisible(not shipped)
        self.own_file_button.setText("Use another weights file…" if own else "Use a weights file I have…")
        self.download_progress.setVisible(downloading)

    def _on_download_done(self, _path, error) -> None:
        self._downloading = False
        self.state.set_busy("model", "")
        if error is None:
            self.messages.show_message(f"The ImageNet weights for {self.current_name} are now on this computer; "
                                       f"tick “{self.pretrained_check.text()}” to use them.", "ok")
        elif isinstance(error, UserError):
            self.messages.show_message(str(error), "error")
        else:
            details = describe_error(error)[1]
            self.messages.show_message("The download did not work. Check the internet connection and try "
                                       "again; 'Copy details' gives the technical report.", "error", details)
        self._update_transfer()

    def choose_weights_file(self, path: str | None = None) -> None:
        """Use a torchvision .pth the person already has (``path``; None: ask with a file dialog)."""
        if "weights_file" not in self.infos[self.current_name].options:
            return
        if path is None:
            from PySide6.QtWidgets import QFileDialog

            path, _ = QFileDialog.getOpenFileName(self, f"ImageNet weights for {self.current_name}", "",
                                                  "PyTorch weights (*.pth *.pt);;All files (*)")
            if not path:
                return
        self.options["weights_file"] = str(path)
        self.options["pretrained"] = True
        self.options = self._clean_options(self.current_name, self.options)
        self._update_transfer()
        self._announce()
        self.messages.show_message(f"{self.current_name} starts from the weights in {Path(path).name}; the layer "
                                   f"table below checks that they fit.", "info")
        self._request_summary()

    def download_weights(self) -> None:
        """Download the ImageNet weights of the current transfer model (in the background)."""
        if self._downloading or "pretrained" not in self.infos[self.current_name].options:
            return
        name = self.current_name
        self._downloading = True
        self._jobs.run(lambda: download_pretrained(name, progress=False), self._on_download_done)
        self.state.set_busy("model", f"Downloading ImageNet weights for {name}")
        self._update_transfer()



__all__ = ["PretrainedWeights"]
