"""Deterministic batch plans: one global shuffle per epoch, each global batch split contiguously over the ranks.

The union of the ranks' pieces of step k is exactly the single-process batch k, which (with loss scaling
by the global batch size and DDP's gradient averaging) makes an N-rank run take the same steps as 1 rank.
"""

from __future__ import annotations

import numpy as np

from edgeprune.errors import EdgepruneError


def train_plan(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[tuple[list[int], int]]:
    """[(this rank's sample indices, global batch size), ...] for one epoch over `n` samples.

    A last global batch smaller than `world` is dropped (some rank would have nothing to run).
    """
    if world > batch_size:
        raise EdgepruneError(f"batch size {batch_size} is smaller than the number of ranks {world}")
    if n == 0:
        raise EdgepruneError("the training split is empty")
    order = np.random.default_rng([int(seed) % (2**31), int(epoch)]).permutation(n)
    plan = []
    for start in range(0, n, batch_size):
        batch = order[start : start + batch_size]
        if batch.size < world:
            break
        piece = np.array_split(batch, world)[rank]
        plan.append(([int(i) for i in piece], int(batch.size)))
    return plan


def eval_shard(n: int, rank: int = 0, world: int = 1) -> list[int]:
    """This rank's share of `n` evaluation samples (strided, no padding, no repeats)."""
    return list(range(rank, n, world))
