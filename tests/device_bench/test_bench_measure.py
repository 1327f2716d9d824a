"""The timing loop and statistics, with fake runs and a fake clock (no real timings asserted)."""

import numpy as np
import pytest

from edgeprune.device_bench.errors import BenchError
from edgeprune.device_bench.measure import Budget, interleave, summarise


def test_summarise_matches_numpy_and_is_ordered():
    x = np.arange(1, 101, dtype=float)
    s = summarise(list(x))
    assert s["count"] == 100 and s["min"] == 1.0 and s["max"] == 100.0
    assert s["p50"] == pytest.approx(50.5) and s["p90"] == pytest.approx(np.percentile(x, 90))
    assert s["p99"] == pytest.approx(np.percentile(x, 99))
    assert s["std"] == pytest.approx(np.std(x, ddof=1))
    assert s["inferences_per_s"] == pytest.approx(1000 / 50.5)
    assert s["min"] <= s["p50"] <= s["p90"] <= s["p99"] <= s["max"]


def test_summarise_single_sample_and_empty():
    assert summarise([2.0])["std"] == 0.0
    with pytest.raises(BenchError, match="no latencies"):
        summarise([])


class FakeClock:
    """A nanosecond clock that only moves when a fake run says how long it took."""

    def __init__(self):
        self.now = 0

    def __call__(self):
        return self.now


def _runs(clock, costs_ms, calls):
    def make(i, cost):
        def run():
            calls.append(i)
            clock.now += int(cost * 1e6)
        return run
    return [make(i, c) for i, c in enumerate(costs_ms)]


def test_interleave_round_robin_with_rotating_start():
    clock, calls = FakeClock(), []
    samples = interleave(_runs(clock, [1, 1, 1], calls), Budget(min_runs=4, min_seconds=0, block=2), clock)
    assert calls == [0, 0, 1, 1, 2, 2, 1, 1, 2, 2, 0, 0]
    assert [len(s.latencies_ms) for s in samples] == [4, 4, 4]
    assert all(s.stopped_by == "min_runs_and_min_seconds" for s in samples)


def test_interleave_sizes_each_model_by_its_own_latency():
    clock, calls = FakeClock(), []
    samples = interleave(_runs(clock, [1, 3], calls), Budget(min_runs=1, min_seconds=0.05, block=5), clock)
    # The 1 ms model needs 50 runs to reach 50 ms, the 3 ms one 17 (not 50: issue 15).
    assert [len(s.latencies_ms) for s in samples] == [50, 17]
    assert samples[0].measured_s == pytest.approx(0.05) and samples[1].measured_s == pytest.approx(0.051)
    assert samples[0].latencies_ms[0] == pytest.approx(1.0) and samples[1].latencies_ms[0] == pytest.approx(3.0)
    assert clock.now == pytest.approx(0.101e9)


def _share_by(calls, costs_ms, until_ms):
    """Fraction of each model's final run time spent before `until_ms` of fake time."""
    spent, total, now = [0.0] * len(costs_ms), [0.0] * len(costs_ms), 0.0
    for i in calls:
        if now < until_ms:
            spent[i] += costs_ms[i]
        total[i] += costs_ms[i]
        now += costs_ms[i]
    return [s / t for s, t in zip(spent, total)]


def test_ten_times_slower_model_ends_near_min_seconds_still_interleaved():
    clock, calls = FakeClock(), []
    costs = [1, 10]
    budget = Budget(min_runs=50, min_seconds=2.0, block=10)
    samples = interleave(_runs(clock, costs, calls), budget, clock)
    counts = [len(s.latencies_ms) for s in samples]
    assert counts == [2000, 200]  # 2 s each (the old equal blocks ran the 10 ms model 2000 times: 20 s)
    assert clock.now <= 1.5 * budget.min_seconds * len(costs) * 1e9
    assert all(s.measured_s >= budget.min_seconds for s in samples)
    # Interleaved, not one after the other: halfway through, each model has about half of its runs behind it.
    for share in _share_by(calls, costs, clock.now / 1e6 / 2):
        assert 0.4 <= share <= 0.6
    # Rounds alternate: the slow model runs in every round, between runs of the fast one.
    switches = sum(1 for a, b in zip(calls, calls[1:]) if a != b)
    assert switches >= 100


def test_interleave_uses_latency_estimates_from_the_start():
    clock, calls = FakeClock(), []
    budget = Budget(min_runs=1, min_seconds=0.05, block=5)
    interleave(_runs(clock, [1, 10], calls), budget, clock, estimates_ms=[1.0, 10.0])
    # No probe round: the first round already runs 5 fast runs and one slow one (5 rounds for 5 slow runs).
    assert calls[:6] == [0, 0, 0, 0, 0, 1]
    assert calls.count(0) == 50 and calls.count(1) == 5


def test_interleave_stops_at_max_seconds():
    clock, calls = FakeClock(), []
    budget = Budget(min_runs=1, min_seconds=100, max_seconds=0.1, block=5)
    samples = interleave(_runs(clock, [1, 3], calls), budget, clock)
    # The deadline is checked before every run: at most one run (3 ms) past 100 ms.
    assert 100e6 <= clock.now <= 103e6
    assert {s.stopped_by for s in samples} == {"max_seconds"}
    assert sum(s.measured_s for s in samples) == pytest.approx(clock.now / 1e9)


def test_interleave_past_the_deadline_gives_every_model_one_run():
    clock, calls = FakeClock(), []
    budget = Budget(min_runs=50, min_seconds=10, max_seconds=1, block=10)
    samples = interleave(_runs(clock, [2000, 3000, 1000], calls), budget, clock)
    assert [len(s.latencies_ms) for s in samples] == [1, 1, 1] and calls == [0, 1, 2]
    assert {s.stopped_by for s in samples} == {"max_seconds"}


@pytest.mark.parametrize("kwargs", [{"min_runs": 0}, {"block": 0}, {"warmup": -1}, {"min_seconds": -1},
                                    {"max_seconds": 0}, {"min_seconds": float("nan")},
                                    {"max_seconds": float("inf")}, {"max_seconds": float("nan")}])
def test_budget_rejects_bad_settings(kwargs):
    with pytest.raises(BenchError):
        Budget(**kwargs)
