"""Per-thread torch intra-op thread counts.

``torch.set_num_threads`` sets the calling thread's OpenMP/MKL setting *and* the process default that
threads started later pick up. ``intra_op_threads(n)`` sets only the calling thread's: a short-lived
helper thread puts the process default back, so a worker (the Basics experiments, the Keypoints live
view) can run its small models on a fixed number of threads without changing what a training run
started meanwhile in another tab gets.
"""
from __future__ import annotations

import contextlib
import threading

import torch


@contextlib.contextmanager
def intra_op_threads(n: int):
    """Run this thread's torch ops on ``n`` intra-op threads; other threads keep theirs. Restored on exit."""
    n = max(1, int(n))
    old = torch.get_num_threads()          # also initialises this thread's own setting
    if old == n:
        yield
        return

    def restore_default() -> None:
        torch.set_num_threads(old)

    torch.set_num_threads(n)
    helper = threading.Thread(target=restore_default, name="visiondesk-threads")
    helper.start()
    helper.join()
    try:
        yield
    finally:
        torch.set_num_threads(old)


def one_intra_op_thread():
    """``intra_op_threads(1)``, unless torch already runs on one thread."""
    return intra_op_threads(1)
