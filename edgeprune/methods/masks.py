"""Unstructured magnitude masks (weight granularity of LTH and LTH-IF), layer-wise or global.

A mask is {parameter name: 0/1 float tensor of the parameter's shape}; pruning a fraction removes that
fraction of the weights that are still alive, the smallest |w| first.
"""

from __future__ import annotations

import torch
from torch import nn

from edgeprune.errors import EdgepruneError
from edgeprune.kinds import kind_of


def prunable_weights(model: nn.Module, exclude: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """The weight matrices of layers whose kind is maskable (conv, linear, recurrent; biases and norms never).

    `exclude`: module-name prefixes whose weights are left out (frozen or ignored parts).
    """
    out = {}
    for mname, module in model.named_modules():
        kind = kind_of(module)
        if kind is None or not kind.maskable:
            continue
        if any(mname == p or mname.startswith(p + ".") for p in exclude):
            continue
        for pname, p in module.named_parameters(recurse=False):
            if pname == "weight" or pname.startswith("weight_"):
                out[f"{mname}.{pname}" if mname else pname] = p
    return out


def full_masks(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: torch.ones_like(w, dtype=torch.float32) for n, w in weights.items()}


def magnitude_masks(weights: dict[str, torch.Tensor], amount: float, scope: str = "layerwise",
                    masks: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """New masks that remove `amount` of the surviving weights by |w| (per tensor, or over all tensors)."""
    if not 0.0 <= amount < 1.0:
        raise EdgepruneError(f"mask amount must be in [0, 1), got {amount}")
    if scope not in ("layerwise", "global"):
        raise EdgepruneError(f"mask scope must be layerwise or global, got {scope!r}")
    masks = {n: m.clone() for n, m in (masks or full_masks(weights)).items()}
    missing = sorted(set(weights) - set(masks))
    if missing:
        raise EdgepruneError(f"no mask for weights: {', '.join(missing)}")
    if amount == 0.0:
        return masks
    if scope == "layerwise":
        for n, w in weights.items():
            masks[n] = _cut(w.detach().abs(), masks[n], amount)
        return masks
    names = list(weights)
    flat_w = torch.cat([weights[n].detach().abs().flatten().float() for n in names])
    flat_m = torch.cat([masks[n].flatten() for n in names])
    flat_m = _cut(flat_w, flat_m, amount)
    i = 0
    for n in names:
        size = weights[n].numel()
        masks[n] = flat_m[i:i + size].view_as(masks[n]).clone()
        i += size
    return masks


def _cut(mag: torch.Tensor, mask: torch.Tensor, amount: float) -> torch.Tensor:
    """Zero round(amount * alive) more entries of mask, the smallest magnitudes among the alive ones."""
    alive = mask.flatten() > 0
    n_alive = int(alive.sum())
    n_cut = int(round(amount * n_alive))
    new = mask.flatten().clone().float()
    if n_cut == 0:
        return new.view_as(mask)
    scores = mag.flatten().float().clone()
    scores[~alive] = float("inf")
    # stable: ties are broken by position, so the same weights always give the same mask
    order = torch.sort(scores, stable=True).indices[:n_cut]
    new[order] = 0.0
    return new.view_as(mask)


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero the masked weights in place."""
    params = dict(model.named_parameters())
    for n, m in masks.items():
        if n not in params:
            raise EdgepruneError(f"mask for unknown parameter {n!r}")
        params[n].mul_(m.to(params[n].device, params[n].dtype))


def masked_count(masks: dict[str, torch.Tensor] | None) -> int:
    """Number of weights the masks remove."""
    return int(sum(int((m == 0).sum()) for m in (masks or {}).values()))


def sparsity(masks: dict[str, torch.Tensor]) -> float:
    """Removed share of the masked weights."""
    total = sum(m.numel() for m in masks.values())
    return masked_count(masks) / total if total else 0.0
