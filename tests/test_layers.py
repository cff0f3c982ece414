"""The layer rules of DESIGN.md, checked on the source: dependencies point down only, no Qt below app/ui,
and the command line works without importing Qt."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# package -> the app packages its modules may import (besides itself)
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "models": {"core"},
    "engine": {"core", "data", "models"},
    # the live pipeline loads models and lists runs through the engine's inference functions,
    # never through its training loop
    "vision": {"core", "data", "models", "engine"},
    "cli": {"core", "data", "models", "engine", "vision", "cli"},
}
VISION_MAY_NOT_USE = {"app.engine.trainer", "app.engine.build", "app.engine.task", "app.engine.distributed"}
QT = ("PySide6", "pyqtgraph", "shiboken6")


def _layer(path: Path) -> str:
    rel = path.relative_to(APP)
    if rel.parts[0].startswith("cli") or rel.parts[0] == "__main__.py":
        return "cli" if rel.parts[0] != "__main__.py" else "main"
    return rel.parts[0] if len(rel.parts) > 1 else "top"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
            if node.module == "app":
                out += [f"app.{a.name}" for a in node.names]
    return out


def _modules():
    return sorted(p for p in APP.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(APP)))
def test_dependencies_point_down(path):
    layer = _layer(path)
    if layer in ("ui", "main", "top"):
        return
    for name in _imports(path):
        assert not name.startswith(QT), f"{path.relative_to(APP)} imports Qt ({name}); only app/ui may"
        if not name.startswith("app.") and name != "app":
            continue
        parts = name.split(".")
        if len(parts) < 2:
            continue
        target = "cli" if parts[1].startswith("cli") else parts[1]
        if target == layer or target == "__version__":
            continue
        assert target in ALLOWED[layer], f"{path.relative_to(APP)} ({layer}) imports {name}: the arrow points up"
        if layer == "vision":
            assert name not in VISION_MAY_NOT_USE, f"{path.relative_to(APP)} uses the training loop ({name})"


def test_the_command_line_never_imports_qt(tmp_path):
    code = ("import sys, contextlib, io\n"
            "import app.cli as c\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    c.main(['models'])\n"
            "    c.build_parser()\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {QT!r})\n"
            "print(bad)\n"
            "sys.exit(1 if bad else 0)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=APP.parent,
                       env={"VISIONDESK_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(APP.parent)})
    assert r.returncode == 0, r.stdout + r.stderr


def test_without_arguments_the_cli_prints_help_and_the_entry_point_opens_the_window(monkeypatch, capsys):
    import app.__main__ as entry
    from app.cli import main

    assert main([]) == 2 and "train" in capsys.readouterr().out
    called = []
    import app.ui.main as ui_main

    monkeypatch.setattr(ui_main, "run_gui", lambda: called.append("gui") or 0)
    assert entry.main([]) == 0 and called == ["gui"]
    assert entry.main(["models"]) == 0 and called == ["gui"] and "cnn4" in capsys.readouterr().out
