"""Latency speed-up vs MACs reduction of slimmed zoo models, from one run: dense vs WSR 0.5 and 0.8, with ONNX
Runtime (1 thread), TFLite (ai-edge-litert, 1 thread) and PyTorch eager (1 thread).

    python benchmarks/latency.py                                   # misp-audio and misp-video, all three runtimes
    python benchmarks/latency.py --models all --json runs/latency.json
    python benchmarks/latency.py --models misp-audio --runtimes ort,torch --round-to 8 --min-seconds 1
    python benchmarks/latency.py --models misp-video --runtimes ort --profile 5    # + per-op-type times
    python benchmarks/latency.py --runtimes ort,ort-fixed      # + `edgeprune export --fixed-shape` files
    (benchmarks/ort_ops.py has the per-node profile, each conv alone, and the widths the kernels like)

The headline per slimmed model and runtime is `efficiency` = speed-up / MACs reduction (how much of the cut in
MACs becomes time); the goal is >= 0.8 on misp-audio and misp-video with ONNX Runtime. The channels are chosen by
ChannelPruner with L1 filter importance on the untrained zoo weights (latency depends on the widths, not on
training; BN-scale ranking of untrained gammas, all 1.0, would tie). The variants of one model and runtime are
measured interleaved (round-robin blocks) so that drift hits all alike.

Next to each runtime's time the table gives the achieved GMAC/s (model MACs / fastest run) and its share of this
CPU's peak on the same thread count, measured in the same run as the best float32 matmul in onnxruntime
(n x n x n, n = 256, 384, 512) at the start and at the end of the run (`peak_gmacs`).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
from pathlib import Path

# ort-fixed: onnxruntime on `edgeprune export --fixed-shape` files (one window; a Conv3d stem as Conv2d)
RUNTIMES = ("ort", "tflite", "torch", "ort-fixed")


def build_variants(name: str, wsrs: list[float], args) -> tuple[list[dict], tuple]:
    """The dense zoo model and one slimmed copy per WSR: module, example inputs, params, MACs, achieved WSR."""
    import torch

    import edgeprune
    from edgeprune import models

    torch.manual_seed(args.seed)
    dense = models.build(name).eval()
    example = models.example_inputs(name, **_input_cfg(args))
    counts = edgeprune.count(dense, example)
    variants = [{"label": "dense", "wsr_target": 0.0, "model": dense, "params": counts.params, "macs": counts.macs}]
    for wsr in wsrs:
        model = copy.deepcopy(dense)
        pruner = edgeprune.ChannelPruner(model, example, importance=args.importance, round_to=args.round_to)
        report = pruner.prune(wsr, unit="params")
        model.eval()
        c = edgeprune.count(model, example)
        variants.append({"label": f"wsr{wsr:g}", "wsr_target": wsr, "model": model, "params": c.params,
                         "macs": c.macs, "reached": report.reached})
    for v in variants:
        v["wsr"] = 1.0 - v["params"] / counts.params
        v["macs_reduction"] = counts.macs / v["macs"]
    return variants, example


def _input_cfg(args) -> dict:
    return {k: v for k, v in (("frames", args.frames), ("lip_frames", args.lip_frames)) if v is not None}


_CHILD_EXPORT = """
import sys, torch
from edgeprune.export import export_model
example = tuple(torch.load(sys.argv[3], weights_only=True))
export_model(sys.argv[1], sys.argv[2].rsplit(".", 1)[1], sys.argv[2], example_inputs=example, samples=3,
             fixed_shape=sys.argv[4] == "fixed")
"""


def export_all(name: str, variants: list[dict], example, fmt: str, folder: Path, fixed: bool = False) -> list[str]:
    """Export each variant with edgeprune.export (parity-checked) in a child process, from a checkpoint, so that
    a converter crash (litert-torch has segfaulted on misp-video) is reported instead of ending the run.
    `fixed`: `edgeprune export --fixed-shape` (ONNX)."""
    import subprocess

    import torch

    import edgeprune
    from edgeprune.errors import EdgepruneError
    from edgeprune.export import FORMATS

    inputs = folder / f"{name}-inputs.pt"
    torch.save(list(example), inputs)
    paths = []
    for v in variants:
        ckpt = folder / f"{name}-{v['label']}.safetensors"
        edgeprune.save(v["model"], ckpt)
        path = folder / f"{name}-{v['label']}{'-fixed' if fixed else ''}{FORMATS[fmt]}"
        proc = subprocess.run([sys.executable, "-c", _CHILD_EXPORT, str(ckpt), str(path), str(inputs),
                               "fixed" if fixed else "dynamic"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"killed by signal {-proc.returncode}"])[-1]
            why = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else last
            raise EdgepruneError(f"{fmt} export of {name} {v['label']} failed: {why}")
        paths.append(str(path))
    return paths


def matmul_peak(threads: int, sizes=(256, 384, 512), repeats: int = 10) -> float:
    """GMAC/s of the fastest float32 n x n @ n x n product in onnxruntime (MLAS sgemm) on `threads` threads,
    over `sizes`: what this CPU's best dense kernel reaches, the limit the models' throughput is set against.
    Sizes that fit in L2: on this machine 512 reached 115 GMAC/s on one thread, 1024 only 8 (and PyTorch's
    MKL sgemm 50 at 512, 3 at 1024), with the L3 shared with other jobs."""
    import time

    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper

    best = 0.0
    for n in sizes:
        tensor = [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in "abc"]
        graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "peak", tensor[:2], tensor[2:])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
                                       .SerializeToString(), options, providers=["CPUExecutionProvider"])
        a = np.random.default_rng(n).standard_normal((n, n)).astype(np.float32)
        session.run(None, {"a": a, "b": a})  # warm-up: packing buffers, page faults
        for _ in range(repeats):
            start = time.perf_counter()
            session.run(None, {"a": a, "b": a})
            best = max(best, n**3 / (time.perf_counter() - start) / 1e9)
    return best


def measure_files(paths: list[str], runtime: str, args) -> list[dict]:
    """device_bench in a fresh process (1 thread, interleaved): the latency_ms block of each file."""
    from edgeprune.commands.bench import bench_local

    device_args = ["--runtime", runtime, "--threads", str(args.threads), "--warmup", str(args.warmup),
                   "--min-runs", str(args.min_runs), "--min-seconds", str(args.min_seconds),
                   "--max-seconds", str(args.max_seconds), "--block", str(args.block)]
    result = bench_local(paths, device_args)
    return [m["latency_ms"] for m in result["models"]]


def profile_ort(path: str, runs: int, threads: int) -> dict:
    """Per-op-type milliseconds per inference from onnxruntime's profiler, largest first: per node the median over
    `runs` after 3 warm-up runs (the first run holds one-off costs: ORT's first LSTM run takes ~100x), and with one
    thread each node's thread-CPU time run alone (ORT's own times are wall-clock; edgeprune.latency.nodes)."""
    from edgeprune.latency import nodes

    prof = nodes.profile(path, runs=runs, warmup=3, threads=threads, cpu_runs=5 if threads == 1 else 0)
    return prof.per_op(cpu=threads == 1)


def measure_torch(variants: list[dict], example, args) -> list[dict]:
    """PyTorch eager under inference_mode, one thread, the same interleaved loop and statistics as device_bench."""
    import torch

    from edgeprune.device_bench.measure import Budget, interleave, summarise, warm_up

    torch.set_num_threads(args.threads)
    runs = []
    for v in variants:
        def run(model=v["model"]):
            with torch.inference_mode():
                return model(*example)
        warm_up(run, args.warmup)
        runs.append(run)
    budget = Budget(args.warmup, args.min_runs, args.min_seconds, args.max_seconds, args.block)
    return [summarise(s.latencies_ms) for s in interleave(runs, budget)]


def bench_model(name: str, args, folder: Path) -> dict:
    variants, example = build_variants(name, args.wsr, args)
    rows = {v["label"]: {k: v[k] for k in ("wsr_target", "wsr", "params", "macs", "macs_reduction")}
            for v in variants}
    from edgeprune.errors import EdgepruneError

    failures = {}
    for runtime in args.runtimes:
        try:
            if runtime == "torch":
                stats = measure_torch(variants, example, args)
            else:
                fmt = "tflite" if runtime == "tflite" else "onnx"
                paths = export_all(name, variants, example, fmt, folder, fixed=runtime == "ort-fixed")
                stats = measure_files(paths, "litert" if runtime == "tflite" else "ort", args)
                if runtime == "ort" and args.profile:
                    for v, path in zip(variants, paths):
                        v["ort_profile"] = profile_ort(path, args.profile, args.threads)
        except EdgepruneError as exc:
            print(f"# {name} {runtime}: {exc}", file=sys.stderr, flush=True)
            failures[runtime] = str(exc)
            continue
        base = stats[0]["p50"]
        print(f"# {name} {runtime}: p50 ms " + ", ".join(f"{v['label']} {s['p50']:.3f}" for v, s in zip(variants, stats))
              + "; GMAC/s " + ", ".join(f"{v['label']} {v['macs'] / s['min'] / 1e6:.1f}" for v, s in zip(variants, stats)),
              file=sys.stderr, flush=True)
        for v, s in zip(variants, stats):
            speedup = base / s["p50"]
            if runtime == "ort" and "ort_profile" in v:
                rows[v["label"]]["ort_profile_ms"] = v["ort_profile"]
            rows[v["label"]][runtime] = {
                "p50_ms": s["p50"], "p90_ms": s["p90"], "min_ms": s["min"], "count": s["count"], "speedup": speedup,
                "gmacs": v["macs"] / (s["min"] / 1e3) / 1e9,  # achieved, on the fastest run (as the peak)
                "efficiency": speedup / v["macs_reduction"] if v["label"] != "dense" else None,
                # the other reading of "how much of the cut becomes time": fraction of time cut / of MACs cut
                "cut_fraction": ((1 - 1 / speedup) / (1 - 1 / v["macs_reduction"]))
                if v["label"] != "dense" else None,
            }
    return {"model": name, "variants": rows, "failures": failures}


def print_table(results: list[dict], runtimes: list[str], peak: float) -> None:
    header = f"{'model':<12} {'variant':<8} {'WSR':>5} {'MACs':>13} {'MACs x':>7}"
    for rt in runtimes:
        header += f" | {rt + ' p50 ms':>13} {'speed-up':>8} {'eff.':>5} {'GMAC/s':>6} {'% peak':>6}"
    print(header)
    for res in results:
        for label, row in res["variants"].items():
            line = f"{res['model']:<12} {label:<8} {row['wsr']:5.2f} {row['macs']:13,d} {row['macs_reduction']:7.2f}"
            for rt in runtimes:
                r = row.get(rt)
                if r is None:
                    line += f" | {'failed':>13} {'':>8} {'':>5} {'':>6} {'':>6}"
                    continue
                eff = "" if r["efficiency"] is None else f"{r['efficiency']:.2f}"
                line += (f" | {r['p50_ms']:13.3f} {r['speedup']:8.2f} {eff:>5} {r['gmacs']:6.1f} "
                         f"{100 * r['gmacs'] / peak:5.1f}%")
            print(line)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--models", default="misp-audio,misp-video", help="comma-separated zoo names, or 'all'")
    p.add_argument("--wsr", default="0.5,0.8", help="comma-separated target WSRs (1 - params/dense params)")
    p.add_argument("--runtimes", default="ort,tflite,torch", help="comma-separated: " + ", ".join(RUNTIMES))
    p.add_argument("--importance", default="l1", help="ChannelPruner importance (l1, l2, bn_scale)")
    p.add_argument("--round-to", type=int, default=None, help="keep widths multiples of N")
    p.add_argument("--frames", type=int, default=None, help="fbank frames of the example input")
    p.add_argument("--lip-frames", type=int, default=None, help="lip frames of the example input")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--min-runs", type=int, default=30)
    p.add_argument("--min-seconds", type=float, default=2.0)
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--block", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", type=int, default=0, metavar="RUNS",
                   help="also profile each ONNX file per op type over RUNS runs (onnxruntime profiler)")
    p.add_argument("--keep", default=None, help="keep the exported files in this folder")
    p.add_argument("--json", default=None, help="write all figures here")
    args = p.parse_args(argv)
    from provenance import command, stamp

    print(f"# command: {command()}\n# {stamp()}", flush=True)

    from edgeprune import models

    names = models.names() if args.models == "all" else [n.strip() for n in args.models.split(",") if n.strip()]
    args.wsr = [float(x) for x in args.wsr.split(",")]
    args.runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    bad = [r for r in args.runtimes if r not in RUNTIMES]
    if bad or not args.runtimes:
        print(f"latency.py: error: unknown runtime(s) {bad}; choose from {', '.join(RUNTIMES)}", file=sys.stderr)
        return 2
    peaks = [matmul_peak(args.threads)]
    print(f"# peak at start: {peaks[0]:.1f} GMAC/s (float32 matmul in onnxruntime, {args.threads} thread(s))",
          file=sys.stderr, flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="edgeprune-latency.") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            print(f"# {name}", file=sys.stderr, flush=True)
            results.append(bench_model(name, args, folder))
    peaks.append(matmul_peak(args.threads))
    peak = max(peaks)
    print(f"# peak: {peak:.1f} GMAC/s (best of start {peaks[0]:.1f} and end {peaks[1]:.1f}); GMAC/s = MACs / fastest "
          f"run; % peak = GMAC/s / peak")
    settings = {k: v for k, v in vars(args).items() if k != "json"}
    print_table(results, args.runtimes, peak)
    if args.json:
        from edgeprune.device_bench.machine import describe

        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_name(f".{out.name}.tmp")
        tmp_out.write_text(json.dumps({"settings": settings, "machine": describe(), "peak_gmacs": peaks, "results": results}, indent=2))
        os.replace(tmp_out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
