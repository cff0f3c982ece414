"""State shared by the tabs of the main window (the current data set, model and settings)."""
from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from app.data.base import ImageDataset


class AppState(QObject):
    datasetChanged = Signal(object)         # ImageDataset
    modelChanged = Signal(str, dict)        # model name, options
    busyChanged = Signal(str)               # what is running ("" when idle), for the status bar
    runOpened = Signal(str)                 # a past run folder to show

    def __init__(self, settings: QSettings | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings or QSettings("VisionDesk", "VisionDesk")
        self.dataset: ImageDataset | None = None
        self.dataset_spec: dict = {}        # {"data": name, "data_root": path, "image_size": n}
        self.model_name: str = str(self.settings.value("model/name", "cnn4"))
        self.model_options: dict = {}
        self.busy: dict[str, str] = {}

    def set_dataset(self, dataset: ImageDataset, spec: dict) -> None:
        self.dataset = dataset
        self.dataset_spec = dict(spec)
        self.datasetChanged.emit(dataset)

    def set_model(self, name: str, options: dict | None = None) -> None:
        self.model_name = name
        self.model_options = dict(options or {})
        self.settings.setValue("model/name", name)
        self.modelChanged.emit(name, self.model_options)

    def set_busy(self, who: str, what: str) -> None:
        if what:
            self.busy[who] = what
        else:
            self.busy.pop(who, None)
        self.busyChanged.emit("; ".join(self.busy.values()))
