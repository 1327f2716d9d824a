"""AIMET's greedy per-layer ratio selection (edgeprune.sensitivity.select), on curves with known answers."""

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.sensitivity import additive_params, ratios_under, select

CURVES = {"a": [(0.25, 0.0), (0.5, 0.1), (0.75, 0.4)],
          "b": [(0.25, 0.05), (0.5, 0.2), (0.75, 0.3)]}
PARAMS = {"a": {0.25: 25, 0.5: 50, 0.75: 75}, "b": {0.25: 50, 0.5: 100, 0.75: 150}}


def test_ratios_under_a_bound_take_the_largest_ratio_within_it():
    assert ratios_under(CURVES, 0.1) == {"a": 0.5, "b": 0.25}
    assert ratios_under(CURVES, -0.01) == {"a": 0.0, "b": 0.0}
    # a curve that is not monotone: the largest ratio under the bound counts, not the first to exceed it
    assert ratios_under({"c": [(0.2, 0.3), (0.4, 0.05)]}, 0.1) == {"c": 0.4}


@pytest.mark.parametrize("target, bound, ratios", [
    (25, 0.0, {"a": 0.25, "b": 0.0}),
    (60, 0.05, {"a": 0.25, "b": 0.25}),
    (150, 0.2, {"a": 0.5, "b": 0.5}),
    (151, 0.3, {"a": 0.5, "b": 0.75}),
    (225, 0.4, {"a": 0.75, "b": 0.75}),
])
def test_the_smallest_bound_that_meets_the_target(target, bound, ratios):
    got = select(CURVES, additive_params(PARAMS), target)
    assert got.reached and got.bound == bound and got.ratios == ratios
    assert got.removed >= target


def test_unreachable_target_returns_the_largest_ratios_and_says_so():
    got = select(CURVES, additive_params(PARAMS), 1000)
    assert not got.reached and got.ratios == {"a": 0.75, "b": 0.75} and got.removed == 225


def test_exact_params_callable_is_used_as_given():
    shared = lambda r: 100 * (1 - (1 - r["a"]) * (1 - r["b"]))  # noqa: E731  one layer cut on both axes
    got = select(CURVES, shared, 60)
    assert got.ratios == {"a": 0.5, "b": 0.25} and got.removed == pytest.approx(62.5)


def test_bad_input():
    with pytest.raises(EdgepruneError, match="no sensitivity curves"):
        select({}, additive_params(PARAMS), 10)
    with pytest.raises(EdgepruneError, match="the target must be positive"):
        select(CURVES, additive_params(PARAMS), 0)
