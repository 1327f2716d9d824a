"""PITFALL 5: per-layer floors, round_to, ties and unreachable amounts are reported, never silent."""

import torch

from edgeprune.pruning import ChannelPruner
from pruning_nets import TinyResNet, spread_gammas


def _widths(model):
    return {n: m.out_channels for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}


def test_repeated_steps_never_go_below_the_floor():
    torch.manual_seed(0)
    model = spread_gammas(TinyResNet())
    x = torch.randn(2, 1, 12, 12)
    pruner = ChannelPruner(model, (x,), min_channels=3)
    reports = [pruner.prune(0.5) for _ in range(6)]
    assert min(_widths(model).values()) >= 3
    assert all(r.max_diff <= 1e-5 for r in reports)
    assert not reports[-1].reached and "could not reach" in reports[-1].note


def test_round_to_keeps_widths_multiples():
    torch.manual_seed(0)
    model = spread_gammas(TinyResNet())
    report = ChannelPruner(model, (torch.randn(1, 1, 12, 12),), round_to=4).prune(0.5, unit="channels")
    assert all(w % 4 == 0 for w in _widths(model).values())
    assert report.max_diff <= 1e-5


def test_untrained_gamma_ties_are_reported():
    model = TinyResNet()  # every gamma 1.0
    report = ChannelPruner(model, (torch.randn(1, 1, 12, 12),)).prune(0.3)
    assert report.ties > 0 and "tie" in report.note
    assert abs(report.achieved - 0.3) < 0.02  # still removes what was asked (to one channel of this tiny net)


def test_nothing_to_rank_is_reported_not_silent():
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    before = model[0].weight.clone()
    report = ChannelPruner(model, (torch.randn(1, 6),), importance="bn_scale").prune(0.3)
    assert not report.reached and "no candidate channels" in report.note
    assert report.params_after == report.params_before and torch.equal(model[0].weight, before)
    assert any("no BatchNorm" in u["reason"] for u in report.untouched)
