"""How much memory this process may still use, and the one check of a planned allocation against it.

``available_bytes`` is the smaller of the system's available memory (``MemAvailable``) and what a
control group (a container's memory limit) still allows; ``check_fits`` refuses a plan that would not
fit, in plain words, before anything is allocated (a process killed by the system says nothing at all).
No torch, no Qt.
"""
from __future__ import annotations

import os
from pathlib import Path

from app.core.errors import UserError


class NotEnoughMemory(UserError):
    """A planned allocation is larger than the memory this process can use."""


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    if not text or text == "max":
        return None
    try:
        return int(text.split()[0])
    except ValueError:
        return None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    """What the process's memory control group still allows (None: no limit)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hier, controllers, rel = parts
        if hier == "0" and controllers == "":                        # cgroup v2
            base = Path("/sys/fs/cgroup") / rel.lstrip("/")
            limit, used = _read_int(str(base / "memory.max")), _read_int(str(base / "memory.current"))
        elif "memory" in controllers.split(","):                     # cgroup v1
            base = Path("/sys/fs/cgroup/memory") / rel.lstrip("/")
            if not base.is_dir():
                base = Path("/sys/fs/cgroup/memory")
            limit = _read_int(str(base / "memory.limit_in_bytes"))
            used = _read_int(str(base / "memory.usage_in_bytes"))
        else:
            continue
        if limit is None or limit >= 1 << 60:
            return None
        return max(0, limit - (used or 0))
    return None


def available_bytes() -> int | None:
    """Bytes this process can still allocate without being refused or killed; None when unknown.
    ``VISIONDESK_MEMORY_LIMIT`` (bytes) lowers it (tests and shared machines)."""
    values = [v for v in (_meminfo_available(), _cgroup_room()) if v is not None]
    env = os.environ.get("VISIONDESK_MEMORY_LIMIT", "").strip()
    if env:
        try:
            values.append(int(float(env)))
        except ValueError:
            pass
    return min(values) if values else None


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 / 10 else f"{n / 2**20:.0f} MiB"


def check_fits(need: int, what: str, advice: str = "", *, share: float = 0.8) -> None:
    """Refuse (``NotEnoughMemory``) when ``need`` bytes are more than ``share`` of the available memory.
    ``what``: what needs it ("300 images at 512x512"); ``advice``: what to do instead."""
    room = available_bytes()
    if room is None or need <= share * room:
        return
    raise NotEnoughMemory(f"{what} would need about {gib(need)} of memory but only {gib(room)} is free"
                          + (f"; {advice}" if advice else ".") )
