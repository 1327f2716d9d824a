"""A per-frame encoder (frames folded into the batch, spatial mean, frames unfolded, concat with FBank) is followed."""

import copy

import pytest
import torch

from edgeprune.pruning import ChannelPruner
from edgeprune.pruning.replay import apply_ops
from edgeprune.pruning.verify import LIMIT, Reference
from pruning_nets import PerFrame, removed_rows, spread_gammas, zeroed_bn_copy

INPUTS = (torch.randn(2, 5, 40), torch.randn(2, 5, 1, 6, 6))


@pytest.mark.parametrize("spelling", ["reshape", "view", "flatten", "pool"])
def test_per_frame_encoder_is_pruned_exactly(spelling):
    torch.manual_seed(0)
    model = spread_gammas(PerFrame(spelling)).eval()
    dense = copy.deepcopy(model)
    with torch.no_grad():
        out = model(*INPUTS)
    assert float(out.max() - out.min()) > 1e-4  # the outputs vary over inputs
    report = ChannelPruner(model, INPUTS, importance="bn_scale", ignored_layers=[model.fc]).prune(0.5, unit="channels")
    assert not any(u["name"] == "conv" for u in report.untouched), report.untouched
    gone = removed_rows(dense.conv.weight, model.conv.weight)
    assert len(gone) == 4
    cols = list(range(40)) + [40 + c for c in range(8) if c not in gone]  # every FBank column stays
    assert torch.equal(model.lstm.weight_ih_l0, dense.lstm.weight_ih_l0[:, cols])
    ref = zeroed_bn_copy(dense, "conv", "bn", model)
    with torch.no_grad():
        assert torch.allclose(model(*INPUTS), ref(*INPUTS), atol=1e-6)
    assert report.max_diff <= LIMIT


def test_a_wrong_column_map_after_the_fold_is_caught():
    """The zeroed-channel check proves the map: the same cut with the LSTM's columns moved by one fails it."""
    torch.manual_seed(0)
    model = spread_gammas(PerFrame()).eval()
    ops = ChannelPruner(copy.deepcopy(model), INPUTS, importance="bn_scale").prune(0.5, unit="channels").history[0]["ops"]
    lstm_op = next(op for op in ops if op["layer"] == "lstm")
    assert lstm_op["idxs"] and min(lstm_op["idxs"]) >= 40
    for shifted in ([i - 1 for i in lstm_op["idxs"]], [i + 1 if i < 47 else 40 for i in lstm_op["idxs"]]):
        wrong = [dict(op, idxs=sorted(set(shifted))) if op is lstm_op else op for op in ops]
        ref = Reference(model, wrong, INPUTS)
        undo = apply_ops(model, wrong)
        try:
            assert ref.compare(model)[0] > LIMIT
        finally:
            undo()
    ref = Reference(model, ops, INPUTS)
    undo = apply_ops(model, ops)
    assert ref.compare(model)[0] <= LIMIT
    undo()


def test_a_reduction_over_the_channel_axis_is_refused():
    """Reducing over channels (a mean over axis 1) mixes them: the map is not followed and the group is held."""

    class Mixing(PerFrame):
        def forward(self, fbank, video):
            b, t = video.shape[:2]
            y = torch.relu(self.bn(self.conv(video.flatten(0, 1))))  # (BT, C, H, W)
            e = y.mean(1).flatten(1)[:, :8].reshape(b, t, -1)  # channels averaged away, space kept
            seq, _ = self.lstm(torch.cat([fbank, e], -1))
            return self.fc(seq.mean(1)).squeeze(-1)

    torch.manual_seed(0)
    model = spread_gammas(Mixing()).eval()
    report = ChannelPruner(model, INPUTS, importance="bn_scale").prune(0.3, unit="channels")
    held = {u["name"]: u for u in report.untouched}
    assert "conv" in held and model.conv.out_channels == 8
