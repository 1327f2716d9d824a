"""Weight masks (LTH weight granularity): checked once against the model, then re-applied after every step."""

from __future__ import annotations

import torch
from torch import nn

from edgeprune.errors import EdgepruneError


def check_masks(model: nn.Module, masks: dict) -> dict[str, torch.Tensor]:
    """Validate {parameter name: 0/1 tensor} against `model`; returns the masks as float tensors on its device."""
    params = dict(model.named_parameters())
    out = {}
    for name, mask in masks.items():
        if name not in params:
            raise EdgepruneError(f"mask for unknown parameter {name!r} (the model has no such parameter)")
        m = torch.as_tensor(mask)
        p = params[name]
        if tuple(m.shape) != tuple(p.shape):
            raise EdgepruneError(
                f"mask for {name!r} has shape {tuple(m.shape)}, the parameter has {tuple(p.shape)} "
                "(was the model pruned after the mask was made?)"
            )
        if not torch.all((m == 0) | (m == 1)):
            raise EdgepruneError(f"mask for {name!r} must hold only 0 and 1")
        out[name] = m.to(device=p.device, dtype=p.dtype)
    return out


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero the masked-out weights of `model` in place (masks from `check_masks`)."""
    if not masks:
        return
    params = dict(model.named_parameters())
    for name, m in masks.items():
        params[name].mul_(m)
