"""The timing loop: warm-up, then interleaved round-robin blocks until a minimum count and duration; statistics."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

from .errors import BenchError


@dataclass(frozen=True)
class Budget:
    """How long to measure: every model gets at least `min_runs` timed runs AND `min_seconds` of timed runs,
    in rounds of `block` runs per model, unless the whole loop passes `max_seconds` (then it stops early)."""

    warmup: int = 10
    min_runs: int = 50
    min_seconds: float = 2.0
    max_seconds: float = 120.0
    block: int = 10

    def __post_init__(self):
        if self.warmup < 0 or self.min_runs < 1 or self.block < 1:
            raise BenchError("warm-up must be >= 0, min-runs and block >= 1")
        if self.min_seconds < 0 or self.max_seconds <= 0:
            raise BenchError("min-seconds must be >= 0 and max-seconds > 0")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Samples:
    """Latencies of one model in milliseconds, in the order they were taken."""

    latencies_ms: list
    stopped_by: str = ""

    @property
    def measured_s(self) -> float:
        return float(sum(self.latencies_ms)) / 1000.0


def time_once(run: Callable[[], object], clock=time.perf_counter_ns) -> float:
    """Milliseconds taken by one call of `run`."""
    start = clock()
    run()
    return (clock() - start) / 1e6


def warm_up(run: Callable[[], object], count: int) -> list[float]:
    """Run `count` warm-up inferences (kept out of the statistics); returns their latencies."""
    return [time_once(run) for _ in range(count)]


def interleave(runs: Sequence[Callable[[], object]], budget: Budget, clock=time.perf_counter_ns) -> list[Samples]:
    """Time every callable in round-robin blocks (the starting model rotates each round) so that drift in
    clock speed or load hits all of them alike; stop after the first full round in which all are satisfied."""
    samples = [Samples([]) for _ in runs]
    start = clock()
    rounds = 0
    while True:
        n = len(runs)
        for k in range(n):
            i = (rounds + k) % n
            run, latencies = runs[i], samples[i].latencies_ms
            for _ in range(budget.block):
                latencies.append(time_once(run, clock))
        rounds += 1
        if all(len(s.latencies_ms) >= budget.min_runs and s.measured_s >= budget.min_seconds for s in samples):
            reason = "min_runs_and_min_seconds"
            break
        if (clock() - start) / 1e9 >= budget.max_seconds:
            reason = "max_seconds"
            break
    for s in samples:
        s.stopped_by = reason
    return samples


def summarise(latencies_ms: Sequence[float]) -> dict:
    """count, min, mean, p50, p90, p99, max, std (sample) in ms, and inferences per second (1000 / mean)."""
    if len(latencies_ms) == 0:
        raise BenchError("no latencies to summarise")
    x = np.asarray(latencies_ms, dtype=np.float64)
    p50, p90, p99 = (float(v) for v in np.percentile(x, [50, 90, 99]))
    mean = float(x.mean())
    return {
        "count": int(x.size),
        "min": float(x.min()),
        "mean": mean,
        "p50": p50,
        "p90": p90,
        "p99": p99,
        "max": float(x.max()),
        "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "inferences_per_s": 1000.0 / mean if mean > 0 else float("inf"),
    }
