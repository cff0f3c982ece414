"""Data-parallel context: single process by default, DDP under ``torchrun``.

``context()`` reads the environment torchrun sets (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
``MASTER_ADDR``). Outside torchrun everything here is a no-op, so tasks call it unconditionally.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    enabled: bool = False
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if not self.enabled or not any(p.requires_grad for p in model.parameters()):
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(model, device_ids=ids)

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            t = t.clone()
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def all_reduce_mean(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            return self.all_reduce_sum(t) / self.world_size
        return t

    def shard(self, n: int, index: torch.Tensor) -> torch.Tensor:
        """This rank's part of a (shuffled) index over n samples: every rank gets the same count."""
        if not self.enabled:
            return index
        per = n // self.world_size
        return index[self.rank * per:(self.rank + 1) * per]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


_CTX: DistContext | None = None


def context() -> DistContext:
    """The process's distributed context, initialising the process group on first use."""
    global _CTX
    if _CTX is not None:
        return _CTX
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    # torchrun sets MASTER_ADDR and RANK even for one process: train in a process group then too (so
    # `torchrun --nproc_per_node=1` really runs the NCCL path); a plain `python -m app` has neither
    launched = world > 1 or ("MASTER_ADDR" in os.environ and "RANK" in os.environ)
    if not launched:
        _CTX = DistContext()
        return _CTX
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    _CTX = DistContext(True, rank, local_rank, world, device)
    return _CTX


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside a DDP wrapper (checkpoints always hold the plain state dict)."""
    return model.module if hasattr(model, "module") and isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
