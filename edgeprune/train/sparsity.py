"""Sparse training (network slimming): an L1 penalty on BatchNorm scales, added as a sub-gradient after backward."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def bn_scales(model: nn.Module) -> list[nn.Parameter]:
    """The trainable BatchNorm scale (gamma) parameters of `model` (frozen ones are left out)."""
    return [
        m.weight
        for m in model.modules()
        if isinstance(m, _BatchNorm) and m.affine and m.weight is not None and m.weight.requires_grad
    ]


def bn_l1(model: nn.Module) -> float:
    """sum |gamma| over every BatchNorm scale of `model` (the penalty's value, without lambda)."""
    with torch.no_grad():
        return float(sum(m.weight.abs().sum() for m in model.modules() if isinstance(m, _BatchNorm) and m.affine))


def add_bn_l1_grad(model: nn.Module, lam: float) -> None:
    """Add lam * sign(gamma), the gradient of lam * sum |gamma|, to every trainable BN scale's gradient.

    Called after backward (and after distributed gradient averaging), so every rank adds the same amount.
    """
    if lam <= 0:
        return
    for gamma in bn_scales(model):
        if gamma.grad is None:
            gamma.grad = torch.zeros_like(gamma)
        gamma.grad.add_(torch.sign(gamma.detach()), alpha=lam)
