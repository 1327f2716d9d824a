"""Residual groups (couple vs skip, downsample shortcuts), replay on a fresh instance, bad arguments."""

import json

import pytest
import torch

from edgeprune.errors import EdgepruneError
from edgeprune.pruning import ChannelPruner, replay
from pruning_nets import TinyResNet, spread_gammas


def _model():
    torch.manual_seed(0)
    return spread_gammas(TinyResNet())


def test_couple_cuts_residual_streams_jointly_with_the_downsample():
    model = _model()
    report = ChannelPruner(model, (torch.randn(2, 1, 12, 12),), residual="couple").prune(0.5)
    b = model.layer2
    assert b.conv2.out_channels == b.down[0].out_channels == model.fc.in_features < 16
    assert model.stem[0].out_channels == model.layer1.conv2.out_channels == model.layer2.conv1.in_channels
    assert report.max_diff <= 1e-5


def test_skip_leaves_every_residual_tied_channel_alone():
    model = _model()
    report = ChannelPruner(model, (torch.randn(2, 1, 12, 12),), residual="skip").prune(0.3, unit="channels")
    assert model.stem[0].out_channels == 8 and model.layer2.down[0].out_channels == 16
    assert model.layer1.conv1.out_channels < 8 or model.layer2.conv1.out_channels < 16
    assert {"stem.0", "layer2.down.0"} <= {u["name"] for u in report.untouched}


def test_replay_reproduces_widths_and_outputs():
    model = _model()
    x = torch.randn(2, 1, 12, 12)
    pruner = ChannelPruner(model, (x,))
    pruner.prune(0.3)
    assert all(g["width"] <= 16 for g in pruner.groups())  # the graph is rebuilt on the pruned model
    report = pruner.prune(0.3)
    history = json.loads(json.dumps(report.to_dict()))["history"]
    assert len(history) == 2
    fresh = _model()
    replay(fresh, (x,), history)
    assert [p.shape for p in fresh.parameters()] == [p.shape for p in model.parameters()]
    model.eval(), fresh.eval()
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))


def test_replay_rejects_a_foreign_history():
    with pytest.raises(EdgepruneError, match="'nope'"):
        replay(_model(), (torch.randn(1, 1, 12, 12),), [{"ops": [{"layer": "nope", "axis": "out", "idxs": [0]}]}])
    with pytest.raises(EdgepruneError, match="does not fit"):
        replay(_model(), (torch.randn(1, 1, 12, 12),), [{"ops": [{"layer": "stem.0", "axis": "out", "idxs": [99]}]}])


@pytest.mark.parametrize("kwargs, match", [
    ({"importance": "taylor"}, "importance must be one of"),
    ({"residual": "drop"}, "residual must be one of"),
    ({"min_channels": 0}, "min_channels"),
    ({"round_to": 0}, "round_to"),
    ({"ignored_layers": ["no.such"]}, "'no.such'"),
])
def test_bad_arguments_raise_one_line(kwargs, match):
    with pytest.raises(EdgepruneError, match=match):
        ChannelPruner(_model(), (torch.randn(1, 1, 12, 12),), **kwargs)


def test_bad_amount_and_unit():
    pruner = ChannelPruner(_model(), (torch.randn(1, 1, 12, 12),))
    with pytest.raises(EdgepruneError, match="amount"):
        pruner.prune(1.2)
    with pytest.raises(EdgepruneError, match="unit"):
        pruner.prune(0.3, unit="flops")


def test_ignored_layers_are_kept():
    model = _model()
    report = ChannelPruner(model, (torch.randn(1, 1, 12, 12),), ignored_layers=["layer2"]).prune(0.3)
    assert model.layer2.conv1.out_channels == 16 and model.layer2.down[0].out_channels == 16
    assert any("ignored layer" in u["reason"] for u in report.untouched)
