"""``python -m app`` and the ``visiondesk`` command: the window without arguments, the CLI with them.

The choice is made here so that the command line never imports Qt (``app.cli`` is headless and works on
a machine without a display), and the window never parses command-line arguments.
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv:
        from app.cli import main as cli_main

        return cli_main(argv)
    from app.ui.main import run_gui

    return run_gui()


if __name__ == "__main__":
    raise SystemExit(main())
