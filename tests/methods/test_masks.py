"""Unstructured magnitude masks: layer-wise and global, compounding over rounds, applied in place."""

import pytest
import torch
from torch import nn

from edgeprune.errors import EdgepruneError
from edgeprune.methods import masks as M


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3)
        self.bn = nn.BatchNorm1d(4)
        self.lstm = nn.LSTM(4, 3, batch_first=True)
        self.fc = nn.Linear(3, 1)


def test_prunable_weights_are_weights_of_conv_lstm_fc_only():
    names = set(M.prunable_weights(Net()))
    assert names == {"conv.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "fc.weight"}
    assert set(M.prunable_weights(Net(), exclude=("lstm",))) == {"conv.weight", "fc.weight"}


def test_layerwise_cuts_each_tensor_by_its_smallest_magnitudes():
    w = {"a": torch.tensor([1.0, -5.0, 0.5, 3.0]), "b": torch.tensor([[10.0, 20.0], [30.0, -0.1]])}
    m = M.magnitude_masks(w, 0.5, "layerwise")
    assert m["a"].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert m["b"].tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_global_cuts_across_tensors():
    w = {"a": torch.tensor([1.0, 2.0, 3.0, 4.0]), "b": torch.tensor([10.0, 20.0, 30.0, 40.0])}
    m = M.magnitude_masks(w, 0.5, "global")
    assert m["a"].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert m["b"].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_rounds_compound_on_the_survivors():
    torch.manual_seed(0)
    w = {"a": torch.randn(1000)}
    m = None
    for _ in range(3):
        m = M.magnitude_masks(w, 0.2, "layerwise", m)
    assert M.masked_count(m) == 1000 - 512  # 1000 * 0.8^3 survive
    assert M.sparsity(m) == pytest.approx(0.488)
    # the survivors are the largest magnitudes
    kept = w["a"].abs()[m["a"] > 0]
    dropped = w["a"].abs()[m["a"] == 0]
    assert kept.min() >= dropped.max()


def test_already_removed_weights_stay_removed_even_when_large():
    w = {"a": torch.tensor([100.0, 1.0, 2.0, 3.0])}
    m = M.magnitude_masks(w, 0.25, "layerwise", {"a": torch.tensor([0.0, 1.0, 1.0, 1.0])})
    assert m["a"].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_apply_masks_zeroes_in_place_and_rejects_unknown_names():
    net = Net()
    ws = M.prunable_weights(net)
    m = M.magnitude_masks(ws, 0.5, "layerwise")
    M.apply_masks(net, m)
    assert int((net.conv.weight == 0).sum()) == net.conv.weight.numel() // 2
    assert int((net.fc.weight == 0).sum()) == round(0.5 * 3)
    with pytest.raises(EdgepruneError, match="unknown parameter 'nope'"):
        M.apply_masks(net, {"nope": torch.ones(1)})


def test_bad_amount_or_scope_raise():
    w = {"a": torch.ones(3)}
    with pytest.raises(EdgepruneError, match="amount"):
        M.magnitude_masks(w, 1.0)
    with pytest.raises(EdgepruneError, match="scope"):
        M.magnitude_masks(w, 0.1, "per-channel")
