"""Train-split normalisation stats and lip-frame preparation."""

import numpy as np
import pytest
import torch

from edgeprune.errors import EdgepruneError
from edgeprune.features import apply_stats, compute_stats, lip_frames_for, prepare_lips, resize_frames


def test_stats_normalise_per_dimension():
    x = torch.randn(50, 20, 3) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([2.0, -3.0, 7.0])
    stats = compute_stats(x)
    assert len(stats["mean"]) == 3 and stats["mean"][2] == pytest.approx(7.0, abs=0.05)
    y = apply_stats(x, stats)
    assert torch.allclose(y.reshape(-1, 3).mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.reshape(-1, 3).std(0, unbiased=False), torch.ones(3), atol=1e-4)


def test_pooled_stats_and_constant_dimension_floor():
    stats = compute_stats(torch.full((4, 8, 8), 0.5), dims=0)
    assert stats["mean"] == [0.5] and stats["std"][0] > 0
    assert torch.allclose(apply_stats(torch.full((2, 8, 8), 0.5), stats), torch.zeros(2, 8, 8))


def test_stats_errors():
    with pytest.raises(EdgepruneError, match="empty"):
        compute_stats(torch.zeros(0, 40))
    with pytest.raises(EdgepruneError, match="3 dimensions but the features have 40"):
        apply_stats(torch.zeros(5, 40), {"mean": [0.0] * 3, "std": [1.0] * 3})
    with pytest.raises(EdgepruneError, match="'mean' and 'std'"):
        apply_stats(torch.zeros(5, 40), {"avg": 1})


def test_lip_frames_resize_pad_and_crop():
    assert lip_frames_for(1.3) == 32 and lip_frames_for(1.0) == 25
    frames = np.zeros((10, 48, 48, 1), np.uint8)
    frames[:, 12:36, 12:36] = 255
    out = prepare_lips(frames, 96, count=16)
    assert out.shape == (16, 96, 96) and out.dtype == np.uint8
    assert out[-1, 48, 48] == 255 and out[-1, 2, 2] == 0  # padded with the last frame, square kept centred
    ramp = np.arange(40, dtype=np.uint8)[:, None, None] * np.ones((1, 88, 88), np.uint8)
    assert prepare_lips(ramp, 88, count=5, start=10)[:, 0, 0].tolist() == [10, 11, 12, 13, 14]
    assert resize_frames(np.ones((2, 88, 88), np.float32), 88).max() == 1.0
    with pytest.raises(EdgepruneError, match="shape"):
        prepare_lips(np.zeros((88, 88)), 88, count=4)
