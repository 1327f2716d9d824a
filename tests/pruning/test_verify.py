"""PITFALL 10: the zeroed-reference self-check, and layers the graph cannot see through."""

import copy

import pytest
import torch

import edgeprune.pruning.pruner as pruner_mod
from edgeprune.errors import EdgepruneError
from edgeprune.pruning import ChannelPruner
from pruning_nets import InvertedResidual, WithOpaque, spread_gammas


def test_a_wrong_cut_is_caught_and_the_model_restored(monkeypatch):
    torch.manual_seed(0)
    model = spread_gammas(InvertedResidual()).eval()
    x = torch.randn(2, 1, 6, 6)
    before = model(x).detach()
    pruner = ChannelPruner(model, (x,))
    real = pruner_mod.compile_ops

    def off_by_one(groups, chosen):  # consumers lose the neighbouring column: the pitfall the check exists for
        ops = real(groups, chosen)
        for op in ops:
            if op["axis"] == "in":
                op["idxs"] = [(i + 1) % 32 for i in op["idxs"]] if len(op["idxs"]) < 32 else op["idxs"]
        return ops

    monkeypatch.setattr(pruner_mod, "compile_ops", off_by_one)
    with pytest.raises(EdgepruneError, match="verification failed"):
        pruner.prune(0.3)
    assert torch.equal(model(x), before)


def test_mobilenet_block_depthwise_verified():
    torch.manual_seed(0)
    model = spread_gammas(InvertedResidual())
    report = ChannelPruner(model, (torch.randn(2, 1, 6, 6),), importance="l2").prune(0.5)
    dw = model.body[3]
    assert dw.groups == dw.in_channels == dw.out_channels == model.body[0].out_channels < 32
    assert report.max_diff is not None and report.max_diff <= 1e-5


def test_layers_the_graph_cannot_see_through_are_left_alone():
    torch.manual_seed(0)
    model = spread_gammas(WithOpaque()).eval()
    dense = copy.deepcopy(model)
    x = torch.randn(2, 1, 6, 6)
    report = ChannelPruner(model, (x,)).prune(0.2, unit="channels")
    reasons = {u["name"]: u["reason"] for u in report.untouched}
    assert "raw nn.Parameter (scale.scale)" in reasons["conv1"]
    assert "trial cut" in reasons["conv2"]
    assert model.conv1.out_channels == 6 and model.conv2.out_channels == 6
    assert model.conv3.out_channels < 8
    assert torch.equal(model.conv1.weight, dense.conv1.weight)
    assert report.max_diff <= 1e-5


def test_verify_off_reports_no_figure():
    model = spread_gammas(InvertedResidual())
    report = ChannelPruner(model, (torch.randn(1, 1, 6, 6),), verify=False).prune(0.3)
    assert report.max_diff is None and report.params_after < report.params_before
