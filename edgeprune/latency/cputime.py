"""A load-proof clock for a shared machine: onnxruntime with one intra-op thread runs every kernel on the calling
thread, so that thread's CPU time is the inference's compute time whatever else the cores are doing. Measured
in this process with device_bench's own runner, warm-up and interleaving loop; only the clock differs."""

from __future__ import annotations

import time

from edgeprune.errors import EdgepruneError


def measure_cpu_time(paths: list[str], bench: dict, seed: int = 0) -> list[dict]:
    """device_bench's latency summary of each ONNX file, timed with the calling thread's CPU clock."""
    from edgeprune.device_bench.budget import Budget
    from edgeprune.device_bench.measure import interleave, summarise, warm_up
    from edgeprune.device_bench.runners import open_runner

    clock = time.thread_time_ns
    budget = Budget(bench["warmup"], bench["min_runs"], bench["min_seconds"], bench["max_seconds"], bench["block"])
    runners = [open_runner(p, "ort", 1, {}, seed) for p in paths]
    deadline = clock() + int(budget.max_seconds * 1e9)
    estimates = []
    for r in runners:
        warm = warm_up(r.run, max(1, budget.warmup), clock, deadline)
        estimates.append(sorted(warm)[len(warm) // 2])
    samples = interleave([r.run for r in runners], budget, clock, estimates, deadline)
    return [summarise(s.latencies_ms) for s in samples]


def check(target) -> None:
    """The thread CPU clock means something only for onnxruntime, one thread, on this machine."""
    if target.ssh is not None or target.runtime != "ort" or target.threads != 1:
        raise EdgepruneError("--clock thread-cpu needs --target local, --runtime ort and --threads 1")
