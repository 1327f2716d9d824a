"""The timing loop: warm-up, then interleaved rounds, each model's share sized by its own latency; statistics."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .budget import Budget
from .errors import BenchError

__all__ = ["Budget", "Samples", "interleave", "summarise", "time_once", "warm_up"]


@dataclass
class Samples:
    """Latencies of one model in milliseconds, in the order they were taken, and their running total (kept as
    they come: the loop asks for it after every round, and a fast model has tens of thousands of runs)."""

    latencies_ms: list
    stopped_by: str = ""
    total_ms: float = 0.0

    def add(self, ms: float) -> None:
        self.latencies_ms.append(ms)
        self.total_ms += ms

    @property
    def measured_s(self) -> float:
        return self.total_ms / 1000.0


def time_once(run: Callable[[], object], clock=time.perf_counter_ns) -> float:
    """Milliseconds taken by one call of `run`."""
    start = clock()
    run()
    return (clock() - start) / 1e6


def warm_up(run: Callable[[], object], count: int, clock=time.perf_counter_ns,
            deadline_ns: int | None = None) -> list[float]:
    """Run up to `count` warm-up inferences (kept out of the statistics), fewer once `clock()` reaches
    `deadline_ns`; returns their latencies."""
    latencies = []
    for _ in range(count):
        if deadline_ns is not None and clock() >= deadline_ns:
            break
        latencies.append(time_once(run, clock))
    return latencies


def _still_needed(sample: Samples, budget: Budget, estimate_ms: float | None) -> int | None:
    """Timed runs a model still needs for min_runs and min_seconds, from its mean latency so far (else the
    estimate); None when time is still needed but nothing says how long one run takes."""
    runs = budget.min_runs - len(sample.latencies_ms)
    seconds = budget.min_seconds - sample.measured_s
    if seconds <= 0:
        return max(runs, 0)
    count = len(sample.latencies_ms)
    per_run_ms = sample.total_ms / count if count else estimate_ms
    if per_run_ms is None:
        return None
    # (less a hair: 49.000000000000007 runs, a rounding error of the float seconds, are 49 runs)
    return max(runs, math.ceil(seconds * 1000.0 / max(per_run_ms, 1e-6) - 1e-9), 1)


def plan_round(samples: Sequence[Samples], budget: Budget, estimates_ms: Sequence[float | None]) -> list[int]:
    """Runs of each model in the next round: the model that needs the most runs gets `block`, and every other
    one the share that spreads what it still needs over the same number of rounds, so each model's count is
    sized by its own latency and all of them finish together (a model with no latency yet gets one run)."""
    needs = [_still_needed(s, budget, e) for s, e in zip(samples, estimates_ms)]
    known = [n for n in needs if n is not None]
    rounds_left = max(1, math.ceil(max(known, default=1) / budget.block))
    return [1 if n is None else math.ceil(n / rounds_left) for n in needs]


def interleave(runs: Sequence[Callable[[], object]], budget: Budget, clock=time.perf_counter_ns,
               estimates_ms: Sequence[float | None] | None = None, deadline_ns: int | None = None) -> list[Samples]:
    """Time every callable in rounds (the starting model rotates each round) so that drift in clock speed or
    load hits all of them alike, each model running its own planned share per round (plan_round); stop after
    the first round in which all have min_runs and min_seconds, or once `clock()` reaches `deadline_ns`
    (default: max_seconds from now), even mid-round, as soon as every model has one timed run."""
    samples = [Samples([]) for _ in runs]
    estimates = list(estimates_ms) if estimates_ms is not None else [None] * len(runs)
    if deadline_ns is None:
        deadline_ns = clock() + int(budget.max_seconds * 1e9)
    rounds = 0
    n = len(runs)
    while True:
        plan = plan_round(samples, budget, estimates)
        for k in range(n):
            i = (rounds + k) % n
            run, sample = runs[i], samples[i]
            for _ in range(plan[i]):
                if sample.latencies_ms and clock() >= deadline_ns:
                    break
                sample.add(time_once(run, clock))
        rounds += 1
        if all(len(s.latencies_ms) >= budget.min_runs and s.measured_s >= budget.min_seconds for s in samples):
            reason = "min_runs_and_min_seconds"
            break
        if clock() >= deadline_ns:
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
