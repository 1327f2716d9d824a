"""One --latency-budget round on the tiny two-conv model against the fake target whose latency steps past every
multiple of 8 conv1 channels: the widths the planner picks, and the cut that lands on them (methods/latency_cut.py)."""

from types import SimpleNamespace

import pytest
import torch

from edgeprune import ChannelPruner
from edgeprune.latency.profile import profile
from edgeprune.methods.latency_cut import importance_of, plan
from edgeprune.methods.state import RoundState
from edgeprune.methods.stopping import Stage

from tiny_latency import FakeTarget

P90 = 1.1  # the fake target's p90 is 1.1 x its p50


@pytest.fixture()
def table(source, fake_target, tmp_path):
    return profile(source, fake_target, (0.75, 0.5, 0.25), align=8, cache_folder=tmp_path)


def fake_p90(model) -> float:
    return FakeTarget.latency_of(model.conv1.out_channels, model.conv2.out_channels) * P90


def run_plan(source, table, budget, aim=None, share=None, measure=None):
    model = source.model
    ctx = SimpleNamespace(example=source.example, pruner=lambda m, importance, scope, ignored: ChannelPruner(
        m, source.example, importance=importance, scope=scope, frozen_layers=ignored, max_step_share=share))
    method = SimpleNamespace(ctx=ctx, cfg=SimpleNamespace(scope="global", min_channels=1, max_step_share=share),
                             importance=lambda: "l1")
    state = RoundState(model=model, lr=0.1)
    stage = Stage("model", 0.5)
    planned = plan(ctx, method, state, stage, table, aim_ms=aim or budget, budget_ms=budget,
                   measured_ms=fake_p90(model), example=source.example, measure_model=measure or fake_p90)
    return planned, method, state, stage


def test_the_cut_lands_past_the_step_and_keeps_the_strongest_channels(source, table):
    model = source.model
    x = torch.randn(4, 40, 32)
    assert model(x).std() > 0  # a model whose output varies over inputs
    dense_conv1 = model.conv1.weight.detach().clone()
    l1 = dense_conv1.abs().sum(dim=(1, 2))
    measured = []
    planned, method, state, stage = run_plan(source, table, 1.6 * P90,
                                             measure=lambda m: measured.append(fake_p90(m)) or measured[-1])
    # conv1 at 18 or 12 costs as much as at 24 or 16: the cuts go to the step, 16 then 8; the table says 1.57 ms,
    # within 1.6, and the copy cut to it is measured before the cut is taken
    assert [(s["root"], s["from"], s["to"]) for s in planned.info["steps"]] == [("conv1", 24, 16), ("conv1", 16, 8)]
    assert planned.widths == {"conv1": 8} and planned.info["widths_after"] == {"conv1": 8, "conv2": 16}
    assert measured == [pytest.approx(1.57 * P90)] and planned.info["measured_in_plan_ms"] == pytest.approx(1.57 * P90)
    assert planned.info["scale"] == pytest.approx(1.0) and planned.info["reason"] == "measured latency within the budget"

    with torch.no_grad():
        zeroed = model(x)  # reference below: the unpruned model with the removed channels' outputs zeroed
    new, info = planned.apply(method, state, stage)
    assert (model.conv1.out_channels, model.bn1.num_features, model.conv2.in_channels) == (8, 8, 8)
    kept = torch.sort(torch.argsort(l1, descending=True)[:8]).values  # the 8 largest L1 filters survive
    assert torch.equal(model.conv1.weight.detach(), dense_conv1[kept])
    assert len(new.history) == 1 and {op["layer"] for op in new.history[0]["ops"]} == {"conv1", "bn1", "conv2"}
    assert info["cut"]["unit"] == "latency" and info["cut"]["params_after"] < info["cut"]["params_before"]
    assert info["cut"]["max_diff"] <= 1e-5 and info["latency_cut"]["widths_after"]["conv1"] == 8
    assert fake_p90(model) == pytest.approx(1.57 * P90)
    assert not torch.allclose(model(x), zeroed)  # the cut changed the function (channels really went)


def test_an_intermediate_round_aims_above_the_budget_without_measuring(source, table):
    def never(model):
        raise AssertionError("only a round aimed at the budget measures its cut")

    planned, *_ = run_plan(source, table, 1.0, aim=1.9 * P90, measure=never)
    # 24 -> 16 saves 0.25 ms: 1.82 ms predicted, within the round's aim of 1.9 ms
    assert planned.info["widths_after"] == {"conv1": 16, "conv2": 16}
    assert planned.info["reason"] == "predicted latency within the budget"


def test_the_step_ceiling_holds_each_group_and_moves_the_cut_elsewhere(source, table):
    planned, *_ = run_plan(source, table, 1.6 * P90, share=0.5)
    # at most half of a group per round: conv1 stops at 16 (8 would take 16 of 24), conv2 goes to its floor 8
    assert planned.info["widths_after"] == {"conv1": 16, "conv2": 8}
    assert planned.info["reason"] == "no cut left that saves time"


def test_nothing_left_to_cut_is_no_plan(source, table):
    planned, method, state, stage = run_plan(source, table, 0.1)
    planned.apply(method, state, stage)  # everything down to the table's narrowest widths
    again, *_ = run_plan(source, table, 0.1)
    assert again is None


def test_importance_is_made_non_negative_and_keeps_its_order(source):
    with torch.no_grad():
        for bn in (source.model.bn1, source.model.bn2):
            bn.weight.copy_(torch.rand(bn.num_features) + 0.1)  # trained-looking, spread gammas
    pruner = ChannelPruner(source.model, source.example, importance="bn_scale+l1")
    groups = pruner.candidate_groups()
    from edgeprune.pruning import importance

    scores = importance.rank(dict(enumerate(groups)), "bn_scale+l1")
    assert min(float(s.min()) for s in scores.values()) < 0  # standardised around the family's median
    shifted = importance_of(groups, scores, [g.root for g in groups])
    assert min(float(s.min()) for s in shifted.values()) == 0.0
    for gi, g in enumerate(groups):
        assert list(shifted[g.root].argsort()) == list(scores[gi].argsort())
