"""Choosing and describing the compute device."""
from __future__ import annotations

import torch

from app.core.errors import UserError


def cuda_available() -> bool:
    try:
        return torch.cuda.is_available()
    except Exception:  # a broken driver must not break CPU use
        return False


def pick_device(choice: str | torch.device | None = "auto") -> torch.device:
    """``auto`` -> the first CUDA GPU when there is one, else CPU."""
    if isinstance(choice, torch.device):
        return choice
    choice = (choice or "auto").lower()
    if choice == "auto":
        return torch.device("cuda") if cuda_available() else torch.device("cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not cuda_available():
            raise UserError("CUDA was chosen but no NVIDIA GPU is usable on this computer; choose CPU or auto.")
        dev = torch.device(choice)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(f"There is no GPU number {dev.index}; this computer has {torch.cuda.device_count()}.")
        return dev
    raise UserError(f"Unknown device '{choice}': use auto, cpu or cuda.")


def describe_device(device: torch.device | str | None = None) -> str:
    """Short text for status bars: "CUDA: NVIDIA H100 80GB HBM3" or "CPU, 2 threads"."""
    dev = pick_device(device) if not isinstance(device, torch.device) else device
    if dev.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(dev)}"
    return f"CPU, {torch.get_num_threads()} threads"


def amp_dtype(device: torch.device, amp: str | bool | None) -> torch.dtype | None:
    """Autocast dtype for the AMP setting, or None for full precision.

    ``amp`` may be False/None/"off", True/"auto" (bf16 where supported, else fp16), "bf16", "fp16".
    Mixed precision is used on CUDA only; on CPU it is ignored (full precision is faster there
    for these small convnets).
    """
    if amp in (None, False, "off", "none", "") or device.type != "cuda":
        return None
    if amp in (True, "auto", "on"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    raise UserError(f"Unknown mixed-precision setting '{amp}': use off, auto, bf16 or fp16.")
