"""The data-set maker (issue 18): make a class-folder data set in the app, from the webcam, files, drops or pastes."""
from app.ui.tabs.dataset_maker.maker import DatasetMaker, DatasetMakerDialog

__all__ = ["DatasetMaker", "DatasetMakerDialog"]
