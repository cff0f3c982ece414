"""Errors a person can act on.

A ``UserError`` carries a message written for the person using VisionDesk (not a programmer):
what went wrong and what to do. The CLI prints it as one line and exits with status 2; the GUI
shows it in the tab that caused it. Anything else that escapes is a bug and is reported as such.
"""


class UserError(Exception):
    """Bad input or an environment problem, explained in plain words."""


class DataError(UserError):
    """A data set cannot be found, read or parsed."""


class ModelError(UserError):
    """An unknown model, or a model that does not fit the data."""


class CheckpointError(UserError):
    """A checkpoint or weights file is missing, corrupt, untrusted or does not match."""


class OfflineError(DataError):
    """Something needs a download and the machine is offline."""


class DiskFullError(UserError):
    """Saving failed because the disk is full; the previous file is intact."""
