"""The GAN tab, as a package: ``tab.GanTab`` holds the Train page (``train_page``: ``settings``, ``views``,
``replay``) and the Generate page (``explore_page`` with ``closer_look``)."""
from app.ui.tabs.gan.tab import GanTab

__all__ = ["GanTab"]
