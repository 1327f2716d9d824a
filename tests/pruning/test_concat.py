"""PITFALL 3: concatenation with a raw model input, in either order."""

import copy

import pytest
import torch

from edgeprune.pruning import ChannelPruner
from pruning_nets import EarlyFusion, removed_rows, spread_gammas, zeroed_bn_copy


@pytest.mark.parametrize("order", ["audio_first", "lips_first"])
def test_raw_input_concat_cuts_the_branch_columns(order):
    torch.manual_seed(0)
    model = spread_gammas(EarlyFusion(order)).eval()
    dense = copy.deepcopy(model)
    inputs = (torch.randn(2, 6, 40), torch.randn(2, 6, 10))
    report = ChannelPruner(model, inputs).prune(0.5, unit="channels")
    gone = removed_rows(dense.lip.weight, model.lip.weight)
    assert gone
    keep = [c for c in range(8) if c not in gone]
    offset = 40 if order == "audio_first" else 0
    audio = list(range(40)) if order == "audio_first" else list(range(8, 48))
    cols = sorted(audio + [offset + c for c in keep])
    assert torch.equal(model.fuse.weight_ih_l0, dense.fuse.weight_ih_l0[:, cols])  # FBank columns all kept
    ref = zeroed_bn_copy(dense, "lip", "bn", model)
    with torch.no_grad():
        assert torch.allclose(model(*inputs), ref(*inputs), atol=1e-6)
    assert report.max_diff <= 1e-5
