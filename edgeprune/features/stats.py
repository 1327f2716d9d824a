"""Per-dimension feature mean/std computed on the training split and applied to every split.

Stats are plain JSON data ({"mean": [...], "std": [...]}) so a checkpoint can store them and export and
inference use the same numbers.
"""

from __future__ import annotations

import torch

from edgeprune.errors import EdgepruneError

STD_FLOOR = 1e-5


def compute_stats(features: torch.Tensor, dims: int | None = None) -> dict:
    """Mean and std over every axis but the last (per feature dimension), or over everything (dims=None
    and a 1-element result) when `features` is a batch of images/frames whose pixels share one scale.

    `features`: (..., D) for per-dimension stats; pass dims=0 to pool all values into one mean/std.
    """
    x = torch.as_tensor(features).to(torch.float64)
    if x.numel() == 0:
        raise EdgepruneError("cannot compute feature statistics: the training split is empty")
    if dims == 0:
        mean, std = x.mean().reshape(1), x.std(unbiased=False).reshape(1)
    else:
        flat = x.reshape(-1, x.shape[-1])
        mean, std = flat.mean(0), flat.std(0, unbiased=False)
    std = torch.clamp(std, min=STD_FLOOR)
    return {"mean": [float(v) for v in mean], "std": [float(v) for v in std]}


def apply_stats(features: torch.Tensor, stats: dict) -> torch.Tensor:
    """(x - mean) / std with the stats broadcast over the last axis (or a single scalar pair)."""
    try:
        mean = torch.tensor(stats["mean"], dtype=torch.float32)
        std = torch.tensor(stats["std"], dtype=torch.float32)
    except (KeyError, TypeError) as exc:
        raise EdgepruneError(f"feature statistics must be a dict with 'mean' and 'std' lists, got {stats!r}") from exc
    x = torch.as_tensor(features, dtype=torch.float32)
    if mean.numel() not in (1, x.shape[-1]):
        raise EdgepruneError(
            f"feature statistics have {mean.numel()} dimensions but the features have {x.shape[-1]}"
        )
    if mean.numel() == 1:
        mean, std = mean.reshape(()), std.reshape(())
    return (x - mean) / std
