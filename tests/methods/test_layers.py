"""Parameters per layer type and pruned share per type (seed 001 Table 4), masks honoured."""

import torch
from torch import nn

from edgeprune.methods.layers import params_by_type
from edgeprune.report import pruned_share


def test_params_by_type_and_masked_share():
    net = nn.Sequential(nn.Conv1d(2, 4, 3), nn.BatchNorm1d(4), nn.LSTM(4, 3), nn.Linear(3, 1), nn.ReLU())
    counts = params_by_type(net)
    assert counts == {"conv": 2 * 4 * 3 + 4, "norm": 8, "lstm": 4 * 3 * (4 + 3) + 2 * 12, "fc": 4, "other": 0}
    masks = {"0.weight": torch.zeros(4, 2, 3), "3.weight": torch.tensor([[1.0, 0.0, 1.0]])}
    after = params_by_type(net, masks)
    assert after["conv"] == 4 and after["fc"] == 3 and after["lstm"] == counts["lstm"]
    share = pruned_share(counts, after)
    assert share["conv"] == 1 - 4 / 28 and share["fc"] == 0.25 and share["lstm"] == 0.0
    assert "other" not in share
