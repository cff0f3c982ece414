"""Before the window opens: are the system libraries that Qt's X11 (xcb) platform plugin needs installed?

A desktop usually has them; a fresh Debian or Ubuntu install (or a container) often lacks a few
(libxcb-icccm4, libxcb-keysyms1, libxcb-cursor0, libxkbcommon-x11-0, ...). Qt then stops with "Could not
load the Qt platform plugin xcb", which tells a non-programmer nothing. ``make run`` calls this first:

    python scripts/qt_system_libs.py [--install]

It finds the plugin inside the installed PySide6 (without importing Qt), asks ``ldd`` which libraries do
not resolve, and maps them to Debian/Ubuntu packages. With ``--install`` it installs them when it can
(root, or sudo without a password, and apt-get); otherwise it prints the one command that does.
Exit status: 0 when nothing is missing (or the install worked), 3 when something is still missing.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# shared-library name -> the Debian/Ubuntu package that provides it
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
# loaded at run time by the plugin (dlopen), so ldd does not list it
ALWAYS_NEEDED = ["libxcb-cursor.so.0"]


def xcb_plugin() -> Path | None:
    """The xcb platform plugin of the installed PySide6, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for p in (Path(root) / "Qt" / "plugins" / "platforms" / "libqxcb.so",
                  Path(root) / "plugins" / "platforms" / "libqxcb.so"):
            if p.is_file():
                return p
    return None


def unresolved(ldd_output: str) -> list[str]:
    """Library names that ``ldd`` reports as 'not found', in order, once each."""
    out: list[str] = []
    for m in re.finditer(r"^\s*(\S+)\s+=>\s+not found", ldd_output, re.MULTILINE):
        if m.group(1) not in out:
            out.append(m.group(1))
    return out


def installed_libraries() -> str:
    try:
        return subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def missing_libraries(plugin: Path) -> list[str]:
    try:
        text = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    missing = unresolved(text)
    known = installed_libraries()
    if known:
        missing += [lib for lib in ALWAYS_NEEDED if lib not in known and lib not in missing]
    return missing


def packages_for(libraries: list[str]) -> tuple[list[str], list[str]]:
    """(Debian packages to install, libraries with no known package)."""
    pkgs, unknown = [], []
    for lib in libraries:
        pkg = PACKAGES.get(lib)
        if pkg is None:
            unknown.append(lib)
        elif pkg not in pkgs:
            pkgs.append(pkg)
    return pkgs, unknown


def install_command(pkgs: list[str], root: bool) -> list[str]:
    prefix = [] if root else ["sudo"]
    return prefix + ["apt-get", "install", "-y", "--no-install-recommends", *pkgs]


def can_install(root: bool) -> bool:
    if shutil.which("apt-get") is None:
        return False
    if root:
        return True
    if shutil.which("sudo") is None:
        return False
    return subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--install", action="store_true", help="install what is missing when this is possible")
    args = ap.parse_args(argv)
    if not sys.platform.startswith("linux"):
        return 0
    plugin = xcb_plugin()
    if plugin is None:
        return 0                       # no PySide6 yet, or a build without xcb: nothing to check
    missing = missing_libraries(plugin)
    if not missing:
        return 0
    pkgs, unknown = packages_for(missing)
    root = os.geteuid() == 0
    say = sys.stderr.write
    say("VisionDesk needs a few system libraries to open its window on this computer "
        f"({', '.join(missing)}).\n")
    if pkgs and args.install and can_install(root):
        cmd = install_command(pkgs, root)
        say("Installing them: " + " ".join(cmd) + "\n")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        # a fresh machine may have no package lists yet
        subprocess.run(([] if root else ["sudo"]) + ["apt-get", "update", "-q"], env=env)
        subprocess.run(cmd, env=env)
        if not missing_libraries(plugin):
            say("Done.\n")
            return 0
        say("The installation did not complete.\n")
    if pkgs:
        say("Install them with this command, then run 'make run' again:\n    "
            + " ".join(install_command(pkgs, root)) + "\n")
    if unknown:
        say("These have no known Debian package here; install them with your system's package manager: "
            + ", ".join(unknown) + "\n")
    return 3


if __name__ == "__main__":
    raise SystemExit(main())
