"""`make run` checks the system libraries Qt's window plugin needs before it starts Qt."""
import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("qt_system_libs", ROOT / "scripts" / "qt_system_libs.py")
qsl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(qsl)

LDD = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibweird.so.9 => not found
"""


def test_ldd_output_is_read_and_mapped_to_debian_packages():
    missing = qsl.unresolved(LDD)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libweird.so.9"]
    pkgs, unknown = qsl.packages_for(missing)
    assert pkgs == ["libxcb-icccm4", "libxcb-keysyms1"] and unknown == ["libweird.so.9"]
    assert qsl.install_command(pkgs, root=False)[:3] == ["sudo", "apt-get", "install"]


def test_missing_libraries_give_the_one_command_or_install_them(monkeypatch, capsys, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    monkeypatch.setattr(qsl, "xcb_plugin", lambda: plugin)
    state = {"installed": False}
    monkeypatch.setattr(qsl, "installed_libraries", lambda: "libxcb.so.1 (libc6,x86-64) => /lib/libxcb.so.1\n" + (
        "libxcb-cursor.so.0 (libc6,x86-64) => /lib/libxcb-cursor.so.0\n" if state["installed"] else ""))

    def fake_run(cmd, **kw):
        if cmd[:1] == ["ldd"]:
            return subprocess.CompletedProcess(cmd, 0, "" if state["installed"] else LDD, "")
        ran.append(cmd)
        if "install" in cmd:
            state["installed"] = True
        return subprocess.CompletedProcess(cmd, 0, "", "")

    ran: list = []
    monkeypatch.setattr(qsl.subprocess, "run", fake_run)
    monkeypatch.setattr(qsl.os, "geteuid", lambda: 1000)
    # no way to install (no sudo): the one command, in plain words, and a non-zero status
    monkeypatch.setattr(qsl, "can_install", lambda root: False)
    assert qsl.main(["--install"]) == 3
    err = capsys.readouterr().err
    assert "sudo apt-get install -y --no-install-recommends libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0" in err
    assert "libweird.so.9" in err and "Traceback" not in err and ran == []
    # root or sudo: it installs them, then checks again
    monkeypatch.setattr(qsl, "can_install", lambda root: True)
    assert qsl.main(["--install"]) == 0
    assert any(c[-3:] == ["libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0"] for c in ran)
    assert "Done" in capsys.readouterr().err


def test_the_makefile_runs_the_check_before_the_window():
    make = (ROOT / "Makefile").read_text()
    run = make[make.index("\nrun:"):]
    run = run[:run.index("\n\n")]
    assert run.index("qt_system_libs.py --install") < run.index("$(BIN)/visiondesk")


def test_it_runs_on_this_machine_without_importing_qt():
    code = ("import runpy, sys; sys.argv=['x']\n"
            "try:\n    runpy.run_path(%r, run_name='__main__')\nexcept SystemExit as e:\n    pass\n"
            "assert not any(m.startswith('PySide6') for m in sys.modules), 'imported Qt'\n") % str(
                ROOT / "scripts" / "qt_system_libs.py")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
