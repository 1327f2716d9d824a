"""Batch statistics shared over ranks for every BatchNorm (also on CPU/gloo, where torch's SyncBatchNorm refuses).

During a distributed fit each BN module's forward is patched (same module, same parameters) to normalise with
the mean and variance of the whole global batch, so N ranks compute what one process would.
"""

from __future__ import annotations

import types
from contextlib import contextmanager

import torch
from torch import nn
import torch.distributed as dist
from torch.nn.modules.batchnorm import _BatchNorm


class _SumOverRanks(torch.autograd.Function):
    """all-reduce (sum) whose gradient is the all-reduced gradient: every rank's loss reaches every rank's input."""

    @staticmethod
    def forward(ctx, x):
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        g = grad.clone()
        dist.all_reduce(g)
        return g


def _global_batch_norm(self: _BatchNorm, x: torch.Tensor) -> torch.Tensor:
    if not self.training:
        return type(self).forward(self, x)
    self._check_input_dim(x)
    c = x.shape[1]
    dims = [0, *range(2, x.dim())]
    xd = x.double()
    count = torch.tensor([x.numel() / c], dtype=torch.float64, device=x.device)
    stats = _SumOverRanks.apply(torch.cat([xd.sum(dims), (xd * xd).sum(dims), count]))  # differentiable sum over ranks
    n = stats[-1]
    mean = stats[:c] / n
    var = (stats[c : 2 * c] / n - mean * mean).clamp_min(0)
    if self.track_running_stats and self.running_mean is not None:
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            unbiased = var * (n / (n - 1)) if float(n) > 1 else var
            self.running_mean.mul_(1 - m).add_(mean.to(self.running_mean.dtype), alpha=m)
            self.running_var.mul_(1 - m).add_(unbiased.to(self.running_var.dtype), alpha=m)
    shape = [1, c] + [1] * (x.dim() - 2)
    y = (xd - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
    y = y.to(x.dtype)
    if self.affine:
        y = y * self.weight.view(shape) + self.bias.view(shape)
    return y


@contextmanager
def synced_batchnorm(model: nn.Module, enabled: bool = True):
    """Within the block, BN layers of `model` in training mode normalise with global-batch statistics."""
    patched = []
    if enabled:
        for m in model.modules():
            if isinstance(m, _BatchNorm) and "forward" not in m.__dict__:
                m.forward = types.MethodType(_global_batch_norm, m)
                patched.append(m)
    try:
        yield patched
    finally:
        for m in patched:
            del m.forward

