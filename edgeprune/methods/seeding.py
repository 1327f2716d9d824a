"""Per-step seeding: every round reseeds torch, numpy and random from (seed, round), so a resumed run
draws the same numbers as an uninterrupted one without carrying RNG state across processes."""

from __future__ import annotations

import random
import zlib

import numpy as np
import torch


def step_seed(seed: int, step) -> int:
    """A 31-bit seed derived from the run seed and a step label (a round number or a name like 'final')."""
    return zlib.crc32(f"{seed}:{step}".encode()) & 0x7FFFFFFF


def seed_step(seed: int, step) -> int:
    """Seed torch, numpy and random for one step; returns the derived seed (also the trainer's seed)."""
    s = step_seed(seed, step)
    torch.manual_seed(s)
    np.random.seed(s)
    random.seed(s)
    return s
