"""The Basics tab: gradient descent you can watch (``tab`` the controls and lifecycle, ``pages`` the three
experiments' plots, ``plots`` the plot helpers, ``texts`` the explanations and code)."""
from app.ui.tabs.basics.tab import BasicsTab

__all__ = ["BasicsTab"]
