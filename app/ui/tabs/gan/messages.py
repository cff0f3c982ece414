"""Plain words when something in the GAN tab fails (issue 13 item 14): a person's mistake is shown as the
engine wrote it; a bug is said in plain words, its technical text goes behind 'Copy details' and to the
app's error report, never raw into a message."""
from __future__ import annotations

from app.ui.notify import report_error
from app.ui.widgets.messages import MessageArea
from app.ui.workers import describe_error


def failure_text(what: str, error: BaseException) -> tuple[str, str]:
    """(message for the person, technical details) for ``error`` raised while doing ``what``
    ('Drawing the samples'); a bug is reported through ``notify.report_error``."""
    summary, details, user = describe_error(error)
    if user:
        return summary, ""
    report_error(f"{what} failed: {summary}", details)
    return (f"{what} did not work because of a problem inside VisionDesk, not because of anything you did. "
            "Try again; if it happens again, 'Copy details' copies what went wrong for a bug report.", details)


def show_failure(area: MessageArea, what: str, error: BaseException) -> None:
    text, details = failure_text(what, error)
    area.show_message(text, "error", details=details)


__all__ = ["failure_text", "show_failure"]
