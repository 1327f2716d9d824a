"""Shared test settings: deterministic torch, small thread count."""

import os

import pytest

os.environ.setdefault("EDGEPRUNE_NO_PROGRESS", "1")


@pytest.fixture(autouse=True)
def _seed():
    import torch

    torch.manual_seed(0)
    yield
