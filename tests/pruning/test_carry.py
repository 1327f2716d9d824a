"""Groups carried over a cut equal a fresh analysis of the pruned model; changes outside the pruner force one."""

import copy

import pytest
import torch

from edgeprune import models
from edgeprune.pruning import ChannelPruner, graph
from pruning_nets import ConvLSTM, EarlyFusion, InvertedResidual, TinyResNet, spread_gammas


def _layout(groups):
    """Each group as root -> (width, coupled, every (layer, axis, layer channel, root channel) it ties)."""
    return {g.root: (g.width, g.coupled, sorted((it.name, it.kind, int(i), int(r))
                                                 for it in g.items for i, r in zip(it.idxs, it.root_idxs)))
            for g in groups}


CASES = {
    "concat with a raw input": (lambda: EarlyFusion("audio_first"), lambda: (torch.randn(2, 7, 40), torch.randn(2, 7, 10))),
    "frequency-major reshape": (lambda: ConvLSTM("frequency"), lambda: (torch.randn(2, 5, 9),)),
    "residual": (TinyResNet, lambda: (torch.randn(2, 1, 12, 12),)),
    "depthwise": (InvertedResidual, lambda: (torch.randn(2, 1, 6, 6),)),
    "misp-audio": (lambda: models.build("misp-audio"), lambda: models.example_inputs("misp-audio", batch=1, frames=32)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_carried_groups_equal_a_fresh_analysis(case, monkeypatch):
    build, inputs = CASES[case]
    torch.manual_seed(0)
    model, x = spread_gammas(build()), inputs()
    pruner = ChannelPruner(model, x, importance="l2")
    traces = []
    real = graph.build
    monkeypatch.setattr(graph, "build", lambda *a: traces.append(1) or real(*a))
    for _ in range(2):
        report = pruner.prune(0.3)
        assert report.params_after < report.params_before and report.max_diff <= 1e-5
        fresh = ChannelPruner(copy.deepcopy(model), x, importance="l2")
        assert _layout(pruner._groups) == _layout(fresh._groups)
    assert len(traces) == 2  # only the two fresh pruners traced; the stepping one carried its groups


def test_a_module_changed_outside_the_pruner_is_analysed_afresh():
    torch.manual_seed(0)
    model = spread_gammas(TinyResNet())
    x = torch.randn(2, 1, 12, 12)
    pruner = ChannelPruner(model, x, importance="l2")
    pruner.prune(0.3)
    model.fc = torch.nn.Linear(model.fc.in_features, 3)  # a new head: the carried groups name the old one
    report = pruner.prune(0.3)
    assert report.max_diff <= 1e-5
    assert model.fc.out_features == 3 and model.fc.in_features == model.layer2.conv2.out_channels
    assert {g["root"] for g in pruner.groups()} == {g.root for g in ChannelPruner(copy.deepcopy(model), x)._groups}
