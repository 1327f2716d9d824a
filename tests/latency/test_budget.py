"""The budget cut chooser against a fake runner whose latency steps past every multiple of 8 conv1 channels."""

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.latency.budget import choose
from edgeprune.latency.profile import profile

from tiny_latency import FakeTarget

ONES = {"conv1": [1.0] * 24, "conv2": [1.0] * 16}


@pytest.fixture()
def table(source, fake_target, tmp_path):
    return profile(source, fake_target, (0.75, 0.5, 0.25), align=8, cache_folder=tmp_path)


def fake(widths):
    return FakeTarget.latency_of(widths["conv1"], widths["conv2"])


def test_cuts_land_on_the_step_and_stop_at_the_budget(table):
    assert fake({"conv1": 24, "conv2": 16}) == pytest.approx(2.07)
    plan = choose(table, ONES, 1.6, stat="p50")
    # conv1 at 18 would cost as much as 24: the cuts go to 16, then 8 (0.25 ms per 8 channels beats conv2's
    # 0.02 ms per channel), and 1.57 ms is within 1.6
    assert [(s["root"], s["from"], s["to"]) for s in plan.steps] == [("conv1", 24, 16), ("conv1", 16, 8)]
    assert plan.met and plan.widths == {"conv1": 8, "conv2": 16}
    assert plan.predicted_ms == pytest.approx(fake(plan.widths))
    assert plan.measured_ms is None


def test_a_measured_miss_rescales_and_goes_on(table):
    slow = lambda w: fake(w) + 0.1  # noqa: E731  the model is slower than the table says
    plan = choose(table, ONES, 1.6, measure=slow, stat="p50")
    assert plan.widths == {"conv1": 8, "conv2": 12}
    assert plan.met and plan.measured_ms == pytest.approx(slow(plan.widths)) and plan.measured_ms <= 1.6
    assert plan.steps[1]["measured_ms"] == pytest.approx(1.67)  # measured after the second cut: over budget


def test_importance_steers_the_choice(table):
    # conv1's channels are precious: conv2 goes first, as far as needed
    plan = choose(table, {"conv1": [100.0] * 24, "conv2": [1.0] * 16}, 1.9, stat="p50")
    assert plan.widths == {"conv1": 24, "conv2": 4} and plan.met


def test_unreachable_budget_and_bad_input(table):
    plan = choose(table, {"conv2": [1.0] * 16}, 0.5, stat="p50")
    assert not plan.met and plan.reason == "no cut left that saves time" and plan.widths == {"conv2": 4}
    assert choose(table, ONES, 5.0, stat="p50").steps == []
    with pytest.raises(EdgepruneError, match="the latency budget must be a positive number"):
        choose(table, ONES, 0, stat="p50")
    with pytest.raises(EdgepruneError, match="groups not in the latency table: fc"):
        choose(table, {"fc": [1.0]}, 1.0, stat="p50")


def test_model_predictor_drives_the_same_choice_on_the_fake(table, source):
    from edgeprune.latency.budget import model_predictor
    from edgeprune.latency.groups import Analysis

    predictor = model_predictor(table, Analysis(source.model, source.example), stat="p50")
    assert predictor({"conv1": 24, "conv2": 16}) == pytest.approx(table.dense["p50"])
    assert predictor({"conv1": 8, "conv2": 16}) == pytest.approx(fake({"conv1": 8, "conv2": 16}))
    plan = choose(table, ONES, 1.6, predictor=predictor, stat="p50")
    assert plan.widths == {"conv1": 8, "conv2": 16} and plan.met
