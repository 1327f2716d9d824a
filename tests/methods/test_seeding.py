"""Per-step seeding gives the same draws for the same (seed, step) and different ones otherwise."""

import random

import numpy as np
import torch

from edgeprune.methods.seeding import seed_step, step_seed


def test_same_step_same_numbers():
    seed_step(3, 2)
    a = (torch.rand(3), np.random.rand(), random.random())
    torch.rand(10)  # consume
    seed_step(3, 2)
    b = (torch.rand(3), np.random.rand(), random.random())
    assert torch.equal(a[0], b[0]) and a[1:] == b[1:]
    assert step_seed(3, 2) != step_seed(3, 3) != step_seed(4, 2)
    assert step_seed(3, "final") == step_seed(3, "final")
