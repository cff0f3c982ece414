"""Files written atomically (temp file + fsync + rename), the checks every output path goes through,
and checksums. No torch, no Qt.

``output_path`` is the one place that decides whether a path may be written: a symbolic link is
followed on purpose (its target is written and the link stays a link), a folder, device, pipe or socket
is refused, and so is an output that is one of the command's own inputs. ``atomic_write_bytes`` uses it,
so every file VisionDesk writes through it gets these checks, and it keeps the permissions a normal
write would give (the replaced file's own, else the ones the umask allows; never the temporary file's
0600).
"""
from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable

from app.core.errors import DiskFullError, UserError


class OutputError(UserError):
    """An output path that cannot or must not be written (a special file, an input, a read-only folder)."""


def output_path(path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike] = (),
                what: str = "the output") -> Path:
    """The file that writing ``path`` really replaces, after the checks every output goes through.

    A symbolic link is followed (its target is written, the link is kept); a folder, a device, a pipe or a
    socket is refused; so is a path that is the same file as one of ``inputs`` (the command would destroy
    what it reads). Raises ``OutputError`` in plain words."""
    given = Path(path).expanduser()
    target = given
    if given.is_symlink():
        target = Path(os.path.realpath(given))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"Cannot write {what} {given}: {os_reason(exc)}.") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{given} is a folder; give {what} a file name (e.g. {given / 'out'}).")
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{given} is not an ordinary file (it is a device, pipe or socket), so VisionDesk "
                              f"will not write {what} there; choose a file name.")
    for source in inputs:
        if source is not None and same_file(target, source):
            raise OutputError(f"{given} is also the input {Path(source).name} of this command; writing {what} there "
                              f"would destroy it. Choose another file name.")
    return target


def ensure_ordinary_file(path: str | os.PathLike, what: str = "file") -> None:
    """Refuse, in plain words, a path to read that is a pipe, device or socket (reading one blocks for
    ever or never ends). A missing path or a folder is left to the caller's own message."""
    try:
        st = os.stat(path)
    except OSError:
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise UserError(f"{path} is not an ordinary file (it is a pipe, device or socket); choose a {what}.")


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name one file (links and relative paths resolved)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(os.path.expanduser(a)) == os.path.realpath(os.path.expanduser(b))


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode(path: str | os.PathLike) -> int:
    """The permissions a file written at ``path`` should get: the replaced file's own, else what the umask
    allows a new file (usually 0644), as a plain ``open`` would give."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def os_reason(exc: OSError) -> str:
    """Why an operating-system call failed, in a few plain words ("permission denied", ...)."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "the disk or folder is read-only"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a folder"
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def inside(path: str, root: str) -> bool:
    """True when the path text ``path`` is ``root`` or lies under it (both absolute, same spelling)."""
    return path == root or path.startswith(os.path.join(root, ""))


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Write ``data`` to ``path`` in one step: a reader sees the old file or the new one, never a part.
    ``path`` goes through ``output_path`` (links followed, special files and ``inputs`` refused)."""
    path = output_path(path, inputs=inputs)
    mode = file_mode(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(f"The disk is full: could not save {path.name} in {path.parent}. Free some space "
                                f"and try again.") from exc
        raise OutputError(f"Cannot write {path}: {os_reason(exc)}. Choose another folder.") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(
                f"The disk is full: could not save {path.name} in {path.parent}. The previous file is "
                f"unchanged. Free some space and resume the run."
            ) from exc
        raise OutputError(f"Cannot write {path}: {os_reason(exc)}. The previous file is unchanged.") from None
    except BaseException:
        _remove_quietly(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _remove_quietly(p: str) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_copy(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy ``source`` to ``target`` with ``atomic_write_bytes``: a failed copy leaves no half-written file,
    and a target that is the source itself is refused."""
    target = output_path(target, inputs=[source])
    atomic_write_bytes(target, Path(source).read_bytes())
    return target
