"""PITFALL 4: count() against hand counts for conv, linear and LSTM (batch x time, not time x directions)."""

import pytest
import torch
import torch.nn as nn

from edgeprune import count
from edgeprune.errors import EdgepruneError


def test_conv_hand_count():
    m = nn.Conv2d(3, 8, 3, padding=1)
    c = count(m, (torch.randn(2, 3, 5, 5),))
    assert c.params == 8 * 3 * 9 + 8
    assert c.macs == 2 * 8 * 5 * 5 * 3 * 9


def test_depthwise_conv_hand_count():
    m = nn.Conv2d(6, 6, 3, groups=6, bias=False)
    assert count(m, (torch.randn(1, 6, 4, 4),)).macs == 6 * 2 * 2 * 9


def test_linear_on_sequence_hand_count():
    m = nn.Linear(10, 4)
    c = count(m, (torch.randn(2, 7, 10),))
    assert c.params == 44 and c.macs == 2 * 7 * 10 * 4


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_hand_count(bidirectional):
    m = nn.LSTM(12, 5, num_layers=2, batch_first=True, bidirectional=bidirectional)
    d = 2 if bidirectional else 1
    c = count(m, (torch.randn(3, 11, 12),))
    layer0 = 4 * 5 * (12 + 5)
    layer1 = 4 * 5 * (5 * d + 5)
    assert c.macs == 3 * 11 * d * (layer0 + layer1)
    assert c.params == d * (layer0 + layer1 + 2 * 8 * 5)
    assert c.to_dict() == {"params": c.params, "macs": c.macs}


def test_bad_inputs_raise_one_line():
    with pytest.raises(EdgepruneError, match="failed on the example inputs"):
        count(nn.Linear(3, 2), (torch.randn(1, 4),))
