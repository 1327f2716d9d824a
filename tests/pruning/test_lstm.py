"""PITFALL 1: LSTM hidden units pruned by gate block, every layer; bidirectional hidden refused."""

import copy

import pytest
import torch
import torch.nn as nn

from edgeprune.errors import EdgepruneError
from edgeprune.pruning import ChannelPruner
from edgeprune.kinds import kind_of
from pruning_nets import ConvLSTM, narrowed, spread_gammas


def _zero_units(lstm: nn.LSTM, units):
    """Independent reference: hidden units output 0 when their cell-gate rows are 0 (c0 = 0)."""
    h = lstm.hidden_size
    with torch.no_grad():
        for p in lstm.parameters():  # every weight and bias has 4H gate rows
            p[[2 * h + u for u in units]] = 0.0


@pytest.mark.parametrize("num_layers", [1, 2])
def test_gate_block_pruning_matches_zeroed_units(num_layers):
    torch.manual_seed(1)
    lstm = nn.LSTM(5, 8, num_layers=num_layers, batch_first=True)
    head = nn.Linear(8, 3)
    x = torch.randn(2, 7, 5)
    ref_lstm = copy.deepcopy(lstm)
    _zero_units(ref_lstm, [1, 6])
    pruned = copy.deepcopy(lstm)
    kind_of(pruned).prune_out(pruned, [1, 6])
    head_pruned = narrowed(head, [0, 2, 3, 4, 5, 7])
    with torch.no_grad():
        want = head(ref_lstm(x)[0])
        got = head_pruned(pruned(x)[0])
    assert pruned.hidden_size == 6 and pruned.weight_hh_l0.shape == (24, 6)
    assert torch.allclose(got, want, atol=1e-6)


def test_lstm_hidden_and_input_pruned_in_a_model():
    torch.manual_seed(0)
    model = spread_gammas(ConvLSTM("channel", hidden=12, num_layers=2)).eval()
    x = torch.randn(2, 5, 9)
    before = model(x)
    report = ChannelPruner(model, (x,), importance="l2").prune(0.5)
    lstm = model.lstm
    assert lstm.hidden_size < 12 and lstm.input_size < 30
    assert lstm.weight_ih_l1.shape == (4 * lstm.hidden_size, lstm.hidden_size)
    assert report.max_diff <= 1e-5
    assert model(x).shape == before.shape


def test_bidirectional_hidden_is_left_untouched_and_named():
    class Bi(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 6, 1)
            self.bn = nn.BatchNorm1d(6)
            self.rnn = nn.LSTM(6, 5, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(10, 1)

        def forward(self, x):
            seq, _ = self.rnn(torch.relu(self.bn(self.conv(x))).transpose(1, 2))
            return self.fc(seq[:, -1]).squeeze(-1)

    model = spread_gammas(Bi())
    report = ChannelPruner(model, (torch.randn(2, 4, 6),), importance="l1").prune(0.3)
    reasons = {u["name"]: u["reason"] for u in report.untouched}
    assert "bidirectional LSTM 'rnn'" in reasons["rnn"]
    assert model.rnn.hidden_size == 5 and model.rnn.input_size < 6  # input side still pruned, both directions
    assert model.rnn.weight_ih_l0_reverse.shape[1] == model.rnn.input_size
    assert report.max_diff <= 1e-5
    with pytest.raises(EdgepruneError, match="bidirectional"):
        kind_of(model.rnn).prune_out(model.rnn, [0])


def test_projected_lstm_is_refused_by_name():
    class Proj(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(4, 6, proj_size=3, batch_first=True)

        def forward(self, x):
            return self.rnn(x)[0].sum(-1)

    with pytest.raises(EdgepruneError, match="'rnn'.*proj_size"):
        ChannelPruner(Proj(), (torch.randn(1, 3, 4),))
