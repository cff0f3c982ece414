"""Memory a training step will need, estimated before the first step (a process the system kills for
memory says nothing at all, and an allocator failure in the middle of an epoch wastes the epoch).

The estimate: one forward pass of a single zero image with hooks that add up every layer's output
(what autograd keeps for the backward pass, and half again for the gradients flowing back), times the
batch size, plus the weights, their gradients and two optimizer moments. It is an estimate (about right
for the image nets of the zoo); the check refuses only plans clearly above the free memory.
"""
from __future__ import annotations

import torch
from torch import nn

from app.core.memory import NotEnoughMemory, available_bytes, gib


def activation_bytes_per_sample(net: nn.Module, input_shape: tuple[int, ...], device: torch.device) -> int:
    total = 0

    def hook(_module, _inputs, output):
        nonlocal total
        for t in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(t, torch.Tensor):
                total += t.numel() * t.element_size()

    leaves = [m for m in net.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = net.training
    try:
        net.eval()                       # batch-norm on one image; nothing is learnt here
        with torch.no_grad():
            net(torch.zeros(1, *input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)
    return total


def training_step_bytes(net: nn.Module, input_shape: tuple[int, ...], batch_size: int, device: torch.device) -> int:
    params = sum(p.numel() * p.element_size() for p in net.parameters())
    # 1.5: measured against the peak resident memory of real Adam steps on the CPU (tests' numbers in the
    # issue-16 note): 0.9x to 1.6x of the real peak for cnn4 at 28 to 256 px and tv-resnet18 at 128 px
    return int(1.5 * batch_size * activation_bytes_per_sample(net, input_shape, device)) + 4 * params


def free_bytes(device: torch.device) -> int | None:
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except Exception:      # a driver that cannot tell
            return None
    return available_bytes()


def check_training_fits(net: nn.Module, input_shape: tuple[int, ...], batch_size: int, device: torch.device,
                        what: str = "the model") -> int:
    """Refuse (``NotEnoughMemory``, plain words) a batch size whose step clearly cannot fit in the free
    memory of ``device``; returns the estimate in bytes."""
    need = training_step_bytes(net, input_shape, batch_size, device)
    free = free_bytes(device)
    if free is not None and need > free:
        fits = max(1, int(batch_size * free / max(need, 1)) // 2)
        where = "GPU memory" if device.type == "cuda" else "memory"
        h, w = input_shape[-2:]
        raise NotEnoughMemory(f"Training {what} on batches of {batch_size} images of {w}x{h} would need about "
                              f"{gib(need)} of {where} but only {gib(free)} is free; choose a batch size of about "
                              f"{fits} or less, or a smaller image size.")
    return need
