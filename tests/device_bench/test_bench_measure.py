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


def test_interleave_runs_until_min_seconds_for_every_model():
    clock, calls = FakeClock(), []
    samples = interleave(_runs(clock, [1, 3], calls), Budget(min_runs=1, min_seconds=0.05, block=5), clock)
    # The 1 ms model needs 50 runs to reach 50 ms; the 3 ms one runs just as many (equal blocks).
    assert [len(s.latencies_ms) for s in samples] == [50, 50]
    assert samples[0].measured_s == pytest.approx(0.05) and samples[1].measured_s == pytest.approx(0.15)
    assert samples[0].latencies_ms[0] == pytest.approx(1.0) and samples[1].latencies_ms[0] == pytest.approx(3.0)


def test_interleave_stops_at_max_seconds():
    clock, calls = FakeClock(), []
    budget = Budget(min_runs=1, min_seconds=100, max_seconds=0.1, block=5)
    samples = interleave(_runs(clock, [1, 3], calls), budget, clock)
    # Each round takes 5*1 + 5*3 = 20 ms: the fifth round reaches 100 ms.
    assert [len(s.latencies_ms) for s in samples] == [25, 25]
    assert {s.stopped_by for s in samples} == {"max_seconds"}


@pytest.mark.parametrize("kwargs", [{"min_runs": 0}, {"block": 0}, {"warmup": -1}, {"min_seconds": -1},
                                    {"max_seconds": 0}])
def test_budget_rejects_bad_settings(kwargs):
    with pytest.raises(BenchError):
        Budget(**kwargs)
