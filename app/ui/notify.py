"""Errors a background job caught, on their way to the app log and the window's error dialog.

A worker or a session reports a bug here (``report_error``) instead of importing the main window; the
window registers itself as the handler when it installs its error hook. Without a window (tests, a
widget used alone) the error still reaches the app log.
"""
from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Callable

from app.engine.runs import app_home

log = logging.getLogger("visiondesk.app")

_handler: Callable[[str, str], None] | None = None


def log_path() -> Path:
    return app_home() / "logs" / "app.log"


def app_logger() -> logging.Logger:
    """The application log (app_home()/logs/app.log), set up once per log file."""
    path = log_path()
    for h in log.handlers:
        if isinstance(h, RotatingFileHandler) and Path(h.baseFilename) == path:
            return log
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=2, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return log


def set_error_handler(handler: Callable[[str, str], None] | None) -> Callable[[str, str], None] | None:
    """Route reported errors to ``handler(summary, details)`` (the window's dialog); returns the old one."""
    global _handler
    old, _handler = _handler, handler
    return old


def error_handler() -> Callable[[str, str], None] | None:
    return _handler


def report_error(summary: str, details: str) -> None:
    """An unexpected error a worker caught (a bug, not a person's mistake): to the handler, which logs
    and shows it, or else to the app log."""
    if _handler is not None:
        _handler(summary, details)
        return
    try:
        app_logger().error("%s\n%s", summary, details)
    except OSError:
        pass
