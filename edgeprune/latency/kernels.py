"""Why narrow layers lose throughput in onnxruntime: a channel sweep of single conv/matmul layers, per-op time by
ORT's profiler, and the latency at each graph optimisation level (what edgeprune sets vs the runtime's kernels)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from edgeprune.latency.nodes import session as ort_session  # the one onnxruntime session as device_bench opens it

LEVELS = ("ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL")


def layer(kind: str, c: int) -> tuple[nn.Module, torch.Tensor, int]:
    """A single layer of width c (in = out = c) with its input and MACs: conv = Conv2d 5x5 on 16x16 (the MISP
    back end's kernel), matmul = Linear on 512 rows (an LSTM's input projection over 512 frames)."""
    if kind == "conv":
        return nn.Conv2d(c, c, 5, padding=2).eval(), torch.randn(1, c, 16, 16), 16 * 16 * c * c * 25
    return nn.Linear(c, c).eval(), torch.randn(1, 512, c), 512 * c * c


def export_layer(module: nn.Module, x: torch.Tensor, path: Path) -> Path:
    torch.onnx.export(module, (x,), str(path), input_names=["x"], output_names=["y"], dynamo=False)
    return path


def sweep(kind: str, widths, measure) -> list[dict]:
    """Latency and GMAC/s of a single `kind` layer at each width; `measure(paths) -> [latency dicts]`."""
    with tempfile.TemporaryDirectory(prefix="edgeprune-kernels.") as tmp:
        paths, macs = [], []
        for c in widths:
            module, x, m = layer(kind, c)
            paths.append(str(export_layer(module, x, Path(tmp) / f"{kind}{c}.onnx")))
            macs.append(m)
        stats = measure(paths)
    return [{"kind": kind, "width": c, "macs": m, "min_ms": s["min"], "p50_ms": s["p50"],
             "gmacs": m / (s["min"] * 1e6)} for c, m, s in zip(widths, macs, stats)]


def _feeds(session) -> dict:
    from edgeprune.device_bench.inputs import ORT_DTYPES, InputSpec, exported_shapes, resolve_shape, synthesise

    exported = exported_shapes(dict(session.get_modelmeta().custom_metadata_map))
    rng, feeds = np.random.default_rng(0), {}
    for arg in session.get_inputs():
        shape, _ = resolve_shape(arg.name, list(arg.shape), {}, exported)
        feeds[arg.name] = synthesise(InputSpec(arg.name, shape, np.dtype(ORT_DTYPES[arg.type])), rng)
    return feeds


def levels(paths: dict[str, str], runs: int = 30, threads: int = 1,
           clock=time.thread_time) -> dict[str, dict[str, float]]:
    """Min latency (ms) of each model at each graph optimisation level, the sessions run round-robin; timed by
    the calling thread's CPU clock (1 thread: every kernel runs on it; pass time.perf_counter for more)."""
    sessions = {(n, lv): ort_session(p, threads, lv) for n, p in paths.items() for lv in LEVELS}
    feeds = {k: _feeds(s) for k, s in sessions.items()}
    best = {k: float("inf") for k in sessions}
    for _ in range(runs):
        for k, s in sessions.items():
            t0 = clock()
            s.run(None, feeds[k])
            best[k] = min(best[k], (clock() - t0) * 1e3)
    return {n: {lv: best[(n, lv)] for lv in LEVELS} for n in paths}


def ops(path: str, runs: int = 20, threads: int = 1, level: str = "ORT_ENABLE_ALL") -> dict[str, float]:
    """Kernel ms per inference by op type (ORT's profiler; per node the fastest of the runs, which other load on
    the machine can only lengthen)."""
    with tempfile.TemporaryDirectory(prefix="edgeprune-ortprof.") as tmp:
        session = ort_session(path, threads, level, str(Path(tmp) / "p"))
        feeds = _feeds(session)
        for _ in range(runs + 2):
            session.run(None, feeds)
        trace = json.loads(Path(session.end_profiling()).read_text())
    per_node: dict[tuple[str, str], list[float]] = {}
    for event in trace:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            key = (event["name"], event.get("args", {}).get("op_name", "?"))
            per_node.setdefault(key, []).append(event["dur"] / 1000.0)
    per_op: dict[str, float] = {}
    for (_, op), durs in per_node.items():
        per_op[op] = per_op.get(op, 0.0) + float(min(durs[2:] or durs))
    return dict(sorted(per_op.items(), key=lambda kv: -kv[1]))
