"""The Train tab, as a package of pages (see ``tab.TrainTab``):

- ``tab.py``: ``TrainTab``, which wires the pages to one ``TrainingSession`` and the engine;
- ``settings_page.py``: what will be trained, the settings form, Start/Pause/Stop, the message area;
- ``results_page.py``: confusion matrix, per-class accuracy, worst-predicted test images;
- ``try_page.py``: Try it (a picture, a dropped file or a random test image) and the classifier cache;
- ``runs_page.py``: the table of past runs and its buttons.
"""
from app.ui.tabs.train.tab import TrainTab

__all__ = ["TrainTab"]
