"""One benchmark session: load each model, check it runs, warm up, measure interleaved, collect the JSON result."""

from __future__ import annotations

import os
import time

from .errors import BenchError, ModelLoadError
from .budget import Budget
from .inputs import parse_shape_overrides
from .machine import describe, resolve_threads
from .measure import interleave, summarise, time_once, warm_up
from .memory import current_rss_mib, peak_rss_mib
from .runners import choose_runtime, import_runtime, open_runner, runtime_version

SCHEMA = "device_bench/1"


def _checked(runner, path: str):
    """Wrap runner.run so a failure while inferring reads as a one-line ModelLoadError."""

    def run():
        try:
            return runner.run()
        except Exception as exc:
            first = (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]
            raise ModelLoadError(f"{path}: inference failed with {runner.runtime}: {first}") from None

    return run


CLOCKS = {
    "wall": "wall-clock time (time.perf_counter_ns): what a user of the board waits",
    "thread-cpu": "the measuring thread's CPU time (time.thread_time_ns): onnxruntime with one intra-op thread runs "
                  "every kernel on the calling thread, so this is the inference's compute time whatever else the "
                  "cores do (a shared or loaded machine); it leaves out time spent waiting for memory pages or the CPU",
}


def check_thread_cpu(threads, runtimes) -> None:
    """The thread CPU clock measures the whole inference only for onnxruntime with one intra-op thread."""
    if threads != 1 or any(rt != "ort" for rt in runtimes):
        raise BenchError("--clock thread-cpu needs onnxruntime (.onnx files) and --threads 1: other runtimes and "
                         "more threads compute on threads this clock does not see")


def bench(paths, runtime: str = "auto", threads=1, budget: Budget | None = None,
          shapes: list[str] | None = None, seed: int = 0, clock=time.perf_counter_ns, clock_name: str = "wall") -> dict:
    """Measure every model in `paths` in one process, interleaved; returns the JSON-ready result.
    `budget.max_seconds` counts from the start (loading and one first run per model always happen).
    `clock_name` "thread-cpu" times with this thread's CPU clock (see CLOCKS) and needs onnxruntime, one thread."""
    if not paths:
        raise BenchError("no model given")
    budget = budget or Budget()
    threads = resolve_threads(threads)
    overrides = parse_shape_overrides(shapes)
    runtimes = [choose_runtime(p, runtime) for p in paths]
    if clock_name == "thread-cpu":
        check_thread_cpu(threads, runtimes)
        clock = time.thread_time_ns
    deadline_ns = clock() + int(budget.max_seconds * 1e9)
    entries, runs, estimates = [], [], []
    for path, rt in zip(paths, runtimes):
        t0 = clock()
        import_runtime(rt)
        import_ms = (clock() - t0) / 1e6
        rss_before = current_rss_mib()
        t0 = clock()
        runner = open_runner(path, rt, threads, overrides, seed)
        load_ms = (clock() - t0) / 1e6
        run = _checked(runner, path)
        first_ms = time_once(run, clock)
        rss_after = current_rss_mib()
        warm = warm_up(run, budget.warmup, clock, deadline_ns)
        estimates.append(sorted(warm)[len(warm) // 2] if warm else first_ms)
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
    samples = interleave(runs, budget, clock, estimates, deadline_ns)
    for entry, sample in zip(entries, samples):
        entry["latency_ms"] = summarise(sample.latencies_ms)
        entry["measured_s"] = sample.measured_s
        entry["stopped_by"] = sample.stopped_by
    return {
        "schema": SCHEMA,
        "machine": describe(),
        "runtimes": {rt: runtime_version(rt) for rt in sorted(set(runtimes))},
        "settings": {"threads": threads, "runtime": runtime, "seed": seed, "shapes": shapes or [],
                     "interleaved": True, "clock": clock_name, **budget.to_dict()},
        "models": entries,
        "peak_rss_mib": peak_rss_mib(),
    }
