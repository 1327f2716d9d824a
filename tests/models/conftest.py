"""Short-clip settings for the model-zoo tests (batch 2, few frames, small lips)."""

import pytest

import edgeprune.models as M


def _small_clip(name: str) -> dict:
    lip_size = M.spec(name).lip_size
    return {"frames": 32, "lip_frames": 4, "lip_size": 48 if lip_size == 96 else 64}


@pytest.fixture
def small_clip():
    """cfg keys for a fast example input of a model: 32 fbank frames, 4 lip frames, small lips."""
    return _small_clip
