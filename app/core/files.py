"""Files written atomically (temp file + fsync + rename) and checksums. No torch, no Qt."""
from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path

from app.core.errors import DiskFullError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(
                f"The disk is full: could not save {path.name} in {path.parent}. The previous file is "
                f"unchanged. Free some space and resume the run."
            ) from exc
        raise
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
    """Copy ``source`` to ``target`` with ``atomic_write_bytes``: a failed copy leaves no half-written file."""
    target = Path(target)
    atomic_write_bytes(target, Path(source).read_bytes())
    return target
