"""Mixed precision of training steps: a bf16 autocast context (fp32 weights, optimizer and loss) or nothing."""

from __future__ import annotations

import contextlib
import warnings

import torch

_warned = False


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 in hardware (a CPU with AVX512-BF16/AMX as oneDNN sees it, or a CUDA GPU
    that supports it); without it bf16 is emulated and slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN: no fast bf16 path
        return False


def autocast(device: torch.device, precision: str):
    """The context a training forward pass runs in: bf16 autocast for precision 'bf16', else a no-op. Warns once
    per process when bf16 has no hardware support here (it still runs, slower)."""
    global _warned
    if precision != "bf16":
        return contextlib.nullcontext()
    if not _warned and not native_bf16(device):
        _warned = True
        warnings.warn(f"precision bf16 on {device.type} without native bf16 support: training runs, but slower "
                      "than fp32", RuntimeWarning, stacklevel=2)
    return torch.autocast(device.type, dtype=torch.bfloat16)
