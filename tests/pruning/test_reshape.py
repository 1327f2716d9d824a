"""PITFALL 2: conv -> permute/reshape -> LSTM in both layouts; the one-channel-image back end is refused."""

import copy

import pytest
import torch

from edgeprune.pruning import ChannelPruner
from pruning_nets import ConvLSTM, ImageBackend, removed_rows, spread_gammas, zeroed_bn_copy


@pytest.mark.parametrize("layout", ["channel", "frequency"])
def test_conv_to_lstm_removes_the_right_columns(layout):
    torch.manual_seed(0)
    model = spread_gammas(ConvLSTM(layout)).eval()
    dense = copy.deepcopy(model)
    x = torch.randn(2, 5, 9)
    report = ChannelPruner(model, (x,), importance="bn_scale").prune(0.4, unit="channels")
    gone = removed_rows(dense.conv.weight, model.conv.weight)
    assert gone and model.lstm.input_size == (6 - len(gone)) * 5
    ref = zeroed_bn_copy(dense, "conv", "bn", model)
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x), atol=1e-6)
    # the surviving LSTM input columns are exactly those of the surviving channels
    keep = [c for c in range(6) if c not in gone]
    cols = [c * 5 + f for c in keep for f in range(5)] if layout == "channel" else \
        [f * 6 + c for f in range(5) for c in keep]
    assert torch.equal(model.lstm.weight_ih_l0, dense.lstm.weight_ih_l0[:, cols])
    assert report.max_diff <= 1e-5


def test_lstm_viewed_as_one_channel_image_is_not_pruned():
    torch.manual_seed(0)
    model = spread_gammas(ImageBackend()).eval()
    x = torch.randn(2, 8, 7)
    report = ChannelPruner(model, (x,), importance="l1").prune(0.3)
    reasons = {u["name"]: u["reason"] for u in report.untouched}
    assert "lstm" in reasons and "'conv'" in reasons["lstm"]
    assert model.lstm.hidden_size == 10  # a spatial axis of the image, never cut
    assert model.conv0.out_channels < 12 and model.lstm.input_size == model.conv0.out_channels
    assert report.max_diff <= 1e-5
