"""One place that seeds torch, numpy and Python's random, so the same seed gives the same numbers on CPU."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_all(seed: int) -> torch.Generator:
    """Seed torch, numpy and random with `seed`; returns a torch.Generator seeded the same (for DataLoaders)."""
    seed = int(seed) % (2**31)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g
