"""One benchmark session: load each model, check it runs, warm up, measure interleaved, collect the JSON result."""

from __future__ import annotations

import os
import time

from .errors import BenchError, ModelLoadError
from .inputs import parse_shape_overrides
from .machine import describe, usable_cores
from .measure import Budget, interleave, summarise, time_once, warm_up
from .memory import current_rss_mib, peak_rss_mib
from .runners import choose_runtime, import_runtime, open_runner, runtime_version

SCHEMA = "device_bench/1"


def resolve_threads(value) -> int:
    """`all` -> the usable core count; otherwise a positive integer."""
    if str(value).strip().lower() == "all":
        return usable_cores()
    try:
        threads = int(value)
    except (TypeError, ValueError):
        threads = -1
    if threads < 1:
        raise BenchError(f"bad thread count {value!r}: expected a positive integer or 'all'")
    return threads


def _checked(runner, path: str):
    """Wrap runner.run so a failure while inferring reads as a one-line ModelLoadError."""

    def run():
        try:
            return runner.run()
        except Exception as exc:
            first = (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]
            raise ModelLoadError(f"{path}: inference failed with {runner.runtime}: {first}") from None

    return run


def bench(paths, runtime: str = "auto", threads=1, budget: Budget | None = None,
          shapes: list[str] | None = None, seed: int = 0) -> dict:
    """Measure every model in `paths` in one process, interleaved; returns the JSON-ready result."""
    if not paths:
        raise BenchError("no model given")
    budget = budget or Budget()
    threads = resolve_threads(threads)
    overrides = parse_shape_overrides(shapes)
    runtimes = [choose_runtime(p, runtime) for p in paths]
    entries, runs = [], []
    for path, rt in zip(paths, runtimes):
        t0 = time.perf_counter()
        import_runtime(rt)
        import_ms = (time.perf_counter() - t0) * 1000.0
        rss_before = current_rss_mib()
        t0 = time.perf_counter()
        runner = open_runner(path, rt, threads, overrides, seed)
        load_ms = (time.perf_counter() - t0) * 1000.0
        run = _checked(runner, path)
        first_ms = time_once(run)
        rss_after = current_rss_mib()
        warm = warm_up(run, budget.warmup)
        entries.append({
            "path": path,
            "file_bytes": os.path.getsize(path),
            "runtime": rt,
            "runtime_version": runner.version,
            "threads": threads,
            "inputs": [spec.to_dict() for spec in runner.inputs],
            "outputs": runner.outputs,
            "metadata": runner.metadata,
            "import_ms": import_ms,
            "load_ms": load_ms,
            "first_run_ms": first_ms,
            "warmup_runs": len(warm),
            "memory_mib": {
                "rss_before_load": rss_before,
                "rss_after_first_run": rss_after,
                "load_delta": None if rss_before is None or rss_after is None else rss_after - rss_before,
            },
        })
        runs.append(run)
    samples = interleave(runs, budget)
    for entry, sample in zip(entries, samples):
        entry["latency_ms"] = summarise(sample.latencies_ms)
        entry["measured_s"] = sample.measured_s
        entry["stopped_by"] = sample.stopped_by
    return {
        "schema": SCHEMA,
        "machine": describe(),
        "runtimes": {rt: runtime_version(rt) for rt in sorted(set(runtimes))},
        "settings": {"threads": threads, "runtime": runtime, "seed": seed, "shapes": shapes or [],
                     "interleaved": True, **budget.to_dict()},
        "models": entries,
        "peak_rss_mib": peak_rss_mib(),
    }
