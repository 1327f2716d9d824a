"""Where onnxruntime's time goes in dense and slimmed zoo models, per node, and what widths the kernels like do to
how much of the MAC cut becomes time (issue 11 item 1, first "done when" line), from one run.

    python benchmarks/ort_ops.py                                  # misp-audio and misp-video, WSR 0.5 and 0.8
    python benchmarks/ort_ops.py --models misp-audio --runs 30 --json runs/ort_ops.json
    python benchmarks/ort_ops.py --models misp-video --runs 5 --cpu-runs 3 --no-kernel-widths

Per model: the dense zoo model and one slimmed copy per WSR (ChannelPruner, L1, as benchmarks/latency.py makes
them) and, unless --no-kernel-widths, each slimmed copy with every pruned group moved up to its nearest width
that is no slower (edgeprune.latency.kernel_widths: the layers a group touches timed alone at each candidate
width), all exported with edgeprune.export. Then, for each file:

- whole-model time with the thread CPU clock (onnxruntime, 1 intra-op thread, device_bench's interleaved loop):
  load-proof on a shared machine; efficiency = speed-up / MACs reduction;
- ORT's per-node profile (warm-up runs excluded; wall-clock medians, which preemption inflates on a loaded
  machine) and, for every node of at least 0.02 ms, the executed node cut out of ORT's optimised graph (same
  op, layout, prepared weights) and timed alone with the thread CPU clock;
- per Conv: the model's widths, the layout ORT runs it in (nchwc: blocked, channels padded to 16; nchw: im2col
  + sgemm), executed and model MACs, CPU ms and GMAC/s in the graph, and the same conv alone (a one-Conv model
  of that shape through ORT's own optimiser): what the runtime's kernel does at that width;
- per op type: CPU ms (wall where a node cannot run alone), and the whole model's CPU time against the sum of
  its nodes (the rest is the executor's own cost);
- where each slim model's time exceeds dense time / MACs reduction: conv and matmul kernels (against their dense
  throughput), other ops, the executor;
- unless --no-fixed-shapes, each file with its input shapes fixed (onnxsim folds the dynamic axes' shape ops),
  and for a model with a one-input-channel Conv3d (misp-video's stem) that copy with the Conv3d run as a Conv2d
  over stacked frames (edgeprune.export.stem2d, outputs checked), timed the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def kernel_width_variant(dense, pruned: dict, example, args) -> tuple[dict, list[dict]]:
    """The pruned variant's groups moved to their nearest no-slower widths: a new variant dict and the records."""
    import edgeprune
    from edgeprune.latency.groups import Analysis, root_width
    from edgeprune.latency.kernel_widths import LayerTimer, choose

    analysis = Analysis(dense, example, importance=args.importance)
    wanted = {}
    for root, info in analysis.groups.items():
        w = root_width(pruned["model"], root)
        if w < info.width:
            wanted[root] = w
    timer = LayerTimer(pruned["model"], example, runs=args.layer_runs)
    widths, info = choose(analysis.groups, wanted, timer, tolerance=args.tolerance)
    model = analysis.cut(widths)
    c = edgeprune.count(model, example)
    return {"label": pruned["label"] + "+kw", "wsr_target": pruned["wsr_target"], "model": model, "params": c.params,
            "macs": c.macs}, info


def _moved(info: dict) -> str:
    moved = [f"{r['group']} {r['wanted']}->{r['chosen']}" for r in info["groups"] if r["chosen"] != r["wanted"]]
    return (f"{len(moved)} of {len(info['groups'])} groups moved ({', '.join(moved) or 'none'}); their layers alone "
            f"{info['ms_wanted']:.3f} -> {info['ms_chosen']:.3f} ms ({info['layers_timed']} layer shapes timed)")


def conv_rows(prof, alone_runs: int, cpu_runs: int) -> list[dict]:
    """One row per executed Conv: widths, layout, MACs, times in the graph and alone."""
    from edgeprune.latency import nodes

    rows = []
    for n in prof.convs():
        alone = nodes.alone(n, runs=max(3, alone_runs), cpu_runs=cpu_runs) if n.conv else None
        cpu = n.cpu_ms
        rows.append({
            "node": n.source or n.name, "layout": n.layout, "in": n.conv and n.conv["in"],
            "out": n.conv and n.conv["out"], "exec_in": n.inputs[1][1] * (n.conv["group"] if n.conv else 1)
            if len(n.inputs) > 1 and len(n.inputs[1]) > 1 else None,
            "exec_out": n.output[0][1] if n.output else None, "kernel": n.conv and n.conv["kernel"],
            "model_macs": n.model_macs, "exec_macs": n.macs, "wall_ms": n.ms, "cpu_ms": cpu,
            "gmacs": n.model_macs / (cpu * 1e6) if cpu else None,
            "alone_layout": alone.layout if alone else None, "alone_cpu_ms": alone.cpu_ms if alone else None,
            "alone_gmacs": n.model_macs / (alone.cpu_ms * 1e6) if alone and alone.cpu_ms else None,
        })
    return rows


def op_totals(prof) -> dict[str, dict]:
    """Per op type (Conv split by layout): CPU ms (a node's wall median where it was not timed alone), wall ms."""
    out: dict[str, dict] = {}
    for n in prof.nodes:
        key = f"{n.op}[{n.layout}]" if n.op in ("Conv", "FusedConv") else n.op
        t = out.setdefault(key, {"nodes": 0, "cpu_ms": 0.0, "wall_ms": 0.0, "macs": 0})
        t["nodes"] += 1
        t["cpu_ms"] += n.cpu_ms if n.cpu_ms is not None else n.ms
        t["wall_ms"] += n.ms
        t["macs"] += n.model_macs
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["cpu_ms"]))


def print_model(name: str, variants: list[dict]) -> None:
    for v in variants:
        print(f"\n# {name} {v['label']}: per Conv (model widths in -> out; exec = as ORT runs it; GMAC/s on model "
              f"MACs over CPU ms; alone = a one-Conv model of that shape)")
        print(f"{'conv':<44} {'in->out':>9} {'layout':>6} {'exec':>9} {'MMACs':>8} {'exec MM':>8} "
              f"{'wall ms':>8} {'cpu ms':>7} {'GMAC/s':>6} | {'alone':>6} {'cpu ms':>7} {'GMAC/s':>6}")
        for r in v["convs"]:
            io = f"{r['in']}->{r['out']}" if r["in"] else "?"
            ex = f"{r['exec_in']}->{r['exec_out']}" if r["exec_in"] else "?"
            print(f"{r['node'][-44:]:<44} {io:>9} {r['layout']:>6} {ex:>9} {r['model_macs'] / 1e6:8.1f} "
                  f"{r['exec_macs'] / 1e6:8.1f} {r['wall_ms']:8.3f} {_f(r['cpu_ms'], 7, 3)} {_f(r['gmacs'], 6, 1)} | "
                  f"{r['alone_layout'] or '':>6} {_f(r['alone_cpu_ms'], 7, 3)} {_f(r['alone_gmacs'], 6, 1)}")
        print(f"# {name} {v['label']}: per op type, CPU ms (wall ms): "
              + ", ".join(f"{op} {t['cpu_ms']:.3f} ({t['wall_ms']:.3f})" for op, t in v["ops"].items()
                          if t["cpu_ms"] >= 0.005))
        nodes_cpu = sum(t["cpu_ms"] for t in v["ops"].values())
        print(f"# {name} {v['label']}: whole model {v['cpu_p50']:.3f} ms CPU (p50), nodes {nodes_cpu:.3f} ms, "
              f"rest (executor) {v['cpu_p50'] - nodes_cpu:+.3f} ms")


def _f(x, width: int, digits: int) -> str:
    return f"{x:{width}.{digits}f}" if x is not None else f"{'':>{width}}"


MATMUL_OPS = ("LSTM", "Gemm", "MatMul", "GRU", "RNN")


def categories(v: dict) -> dict[str, dict]:
    """CPU ms and model MACs of a variant by category: conv and matmul kernels, other ops, the executor."""
    out = {c: {"ms": 0.0, "macs": 0} for c in ("conv", "matmul", "other", "executor")}
    for op, t in v["ops"].items():
        c = "conv" if op.startswith(("Conv", "FusedConv")) else "matmul" if op in MATMUL_OPS else "other"
        out[c]["ms"] += t["cpu_ms"]
        out[c]["macs"] += t["macs"]
    out["executor"]["ms"] = v["cpu_p50"] - sum(t["cpu_ms"] for t in v["ops"].values())
    return out


def losses(dense: dict, v: dict) -> dict:
    """Where a slim variant's time exceeds dense time / MACs reduction (every MAC removed as time saved): conv and
    matmul kernels over their time at the dense model's throughput for that kernel family, other ops and the
    executor over their dense time / MACs reduction, and `mix` (the slim model's MACs lie more or less in the
    fast kernel families than the dense one's). The terms sum to measured - ideal."""
    d, s = categories(dense), categories(v)
    x = v["macs_reduction"]
    at_dense = {c: (d[c]["ms"] * s[c]["macs"] / d[c]["macs"] if d[c]["macs"] else d[c]["ms"] / x)
                for c in ("conv", "matmul")}
    at_dense.update({c: d[c]["ms"] / x for c in ("other", "executor")})
    ideal = dense["cpu_p50"] / x
    lost = {c: s[c]["ms"] - at_dense[c] for c in at_dense}
    lost["mix"] = sum(at_dense.values()) - ideal
    kernels_kept = v["cpu_p50"] - lost["conv"] - lost["matmul"]
    return {"ideal_ms": ideal, "lost_ms": lost,
            "efficiency_if_kernels_kept_dense_throughput": dense["cpu_p50"] / kernels_kept / x}


def print_losses(results: list[dict]) -> None:
    print(f"\n{'model':<11} {'variant':<10} {'ideal ms':>8} {'measured':>8} | lost ms: {'conv':>7} {'matmul':>7} "
          f"{'other':>7} {'executor':>8} {'mix':>7} | {'eff.':>5} {'eff. w/ dense kernel thr.':>25}")
    for res in results:
        dense = res["variants"][0]
        for v in res["variants"][1:]:
            lo = losses(dense, v)
            v["losses"] = lo
            ls = lo["lost_ms"]
            print(f"{res['model']:<11} {v['label']:<10} {lo['ideal_ms']:8.3f} {v['cpu_p50']:8.3f} |          "
                  f"{ls['conv']:7.3f} {ls['matmul']:7.3f} {ls['other']:7.3f} {ls['executor']:8.3f} {ls['mix']:7.3f} | "
                  f"{v['efficiency']:5.2f} {lo['efficiency_if_kernels_kept_dense_throughput']:25.2f}")


def fixed_shapes(paths: list[str], folder: Path) -> list[str]:
    """Each file with its inputs fixed at the exported example's shapes and the shape arithmetic of the dynamic
    axes folded away (onnxsim), as a deployment that runs one window size can ship it."""
    import onnx
    import onnxsim

    from edgeprune.errors import EdgepruneError
    from edgeprune.latency import nodes

    out = []
    for path in paths:
        shapes = {k: list(x.shape) for k, x in nodes.feeds(nodes.session(path)).items()}
        simple, ok = onnxsim.simplify(onnx.load(path), overwrite_input_shapes=shapes)
        if not ok:
            raise EdgepruneError(f"onnxsim could not check the fixed-shape copy of {path}")
        target = folder / (Path(path).stem + "-fixed.onnx")
        onnx.save(simple, str(target))
        out.append(str(target))
    return out


def stem_copies(fixed: list[str]) -> list[str] | None:
    """The fixed-shape files with their one-input-channel Conv3d run as a Conv2d over stacked frames
    (edgeprune.export.stem2d), outputs checked against the Conv3d copy; None when no file has such a conv."""
    import numpy as np
    import onnx

    from edgeprune.errors import EdgepruneError
    from edgeprune.export import stem2d
    from edgeprune.latency import nodes

    out = []
    for path in fixed:
        model, count = stem2d.rewrite(onnx.load(path))
        if count == 0:
            return None
        target = str(Path(path).with_suffix("")) + "-stem2d.onnx"
        onnx.save(model, target)
        ref_session, new_session = nodes.session(path), nodes.session(target)
        data = nodes.feeds(ref_session)
        ref, got = ref_session.run(None, data)[0], new_session.run(None, data)[0]
        if not np.allclose(got, ref, rtol=1e-4, atol=1e-5):
            raise EdgepruneError(f"the Conv2d stem of {path} changes the output by {np.abs(got - ref).max():.3g}")
        out.append(target)
    return out


def print_summary(results: list[dict]) -> None:
    print(f"\n{'model':<11} {'variant':<10} {'WSR':>5} {'MACs':>14} {'MACs x':>7} {'CPU p50 ms':>10} {'speed-up':>8} "
          f"{'eff.':>5} {'conv ms':>8} {'conv GMAC/s':>11} {'nchwc convs':>11} | {'fixed-shape ms':>14} {'eff.':>5} | "
          f"{'+2-D stem ms':>12} {'eff.':>5}")
    for res in results:
        for v in res["variants"]:
            eff = "" if v["label"] == "dense" else f"{v['efficiency']:.2f}"
            conv_ms = sum(r["cpu_ms"] or r["wall_ms"] for r in v["convs"])
            conv_macs = sum(r["model_macs"] for r in v["convs"])
            nchwc = sum(r["layout"] == "nchwc" for r in v["convs"])
            print(f"{res['model']:<11} {v['label']:<10} {v['wsr']:5.2f} {v['macs']:14,d} {v['macs_reduction']:7.2f} "
                  f"{v['cpu_p50']:10.3f} {v['speedup']:8.2f} {eff:>5} {conv_ms:8.3f} "
                  f"{conv_macs / (conv_ms * 1e6) if conv_ms else 0:11.1f} {nchwc:>5}/{len(v['convs']):<5} | "
                  + " | ".join(f"{v[k]['cpu_p50']:{w}.3f} {'' if v['label'] == 'dense' else format(v[k]['efficiency'], '.2f'):>5}"
                               for k, w in (("fixed", 14), ("fixed_stem2d", 12)) if k in v))


def bench_model(name: str, args, folder: Path) -> dict:
    import latency

    from edgeprune.latency import nodes
    from edgeprune.latency.cputime import measure_cpu_time

    variants, example = latency.build_variants(name, args.wsr, args)
    dense_counts = (variants[0]["params"], variants[0]["macs"])
    widths = []
    if args.kernel_widths:
        for v in list(variants[1:]):
            kw, info = kernel_width_variant(variants[0]["model"], v, example, args)
            variants.append(kw)
            widths.append({"variant": kw["label"], **info})
            print(f"# {name} {kw['label']}: {_moved(info)}", file=sys.stderr, flush=True)
    for v in variants:
        v["wsr"] = 1.0 - v["params"] / dense_counts[0]
        v["macs_reduction"] = dense_counts[1] / v["macs"]
    paths = latency.export_all(name, variants, example, "onnx", folder)
    bench = {"warmup": args.warmup, "min_runs": args.min_runs, "min_seconds": args.min_seconds,
             "max_seconds": args.max_seconds, "block": args.block}
    stats = measure_cpu_time(paths, bench)
    out = []
    for v, path, s in zip(variants, paths, stats):
        prof = nodes.profile(path, runs=args.runs, warmup=args.profile_warmup, cpu_runs=args.cpu_runs)
        row = {k: v[k] for k in ("label", "wsr_target", "wsr", "params", "macs", "macs_reduction")}
        row.update({"cpu_p50": s["p50"], "cpu_min": s["min"], "cpu_count": s["count"],
                    "speedup": stats[0]["p50"] / s["p50"], "profiled_run_ms": prof.run_ms,
                    "convs": conv_rows(prof, args.cpu_runs, args.cpu_runs), "ops": op_totals(prof)})
        row["efficiency"] = row["speedup"] / v["macs_reduction"]
        out.append(row)
        print(f"# {name} {v['label']}: CPU p50 {s['p50']:.3f} ms, speed-up {row['speedup']:.2f}, "
              f"efficiency {row['efficiency']:.2f}", file=sys.stderr, flush=True)
    if args.fixed_shapes:
        fixed_paths = fixed_shapes(paths, folder)
        stems = stem_copies(fixed_paths)
        timed = measure_cpu_time(fixed_paths + (stems or []), bench)
        for key, block in (("fixed", timed[: len(paths)]), ("fixed_stem2d", timed[len(paths):])):
            for row, s in zip(out, block):
                row[key] = {"cpu_p50": s["p50"], "cpu_min": s["min"], "speedup": block[0]["p50"] / s["p50"],
                            "efficiency": block[0]["p50"] / s["p50"] / row["macs_reduction"]}
    return {"model": name, "variants": out, "kernel_widths": widths}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--models", default="misp-audio,misp-video", help="comma-separated zoo names")
    p.add_argument("--wsr", default="0.5,0.8", help="comma-separated target WSRs (1 - params/dense params)")
    p.add_argument("--importance", default="l1", help="ChannelPruner importance")
    p.add_argument("--runs", type=int, default=20, help="profiled runs per file (after the warm-up runs)")
    p.add_argument("--profile-warmup", type=int, default=3, help="runs before the profiled ones")
    p.add_argument("--cpu-runs", type=int, default=10, help="runs of each node / conv alone (thread CPU, min)")
    p.add_argument("--layer-runs", type=int, default=10, help="runs of each layer alone when choosing widths")
    p.add_argument("--tolerance", type=float, default=0.0, help="a width is 'no slower' within this share")
    p.add_argument("--no-kernel-widths", dest="kernel_widths", action="store_false",
                   help="skip the variants moved to the widths the kernels like")
    p.add_argument("--no-fixed-shapes", dest="fixed_shapes", action="store_false",
                   help="skip timing the fixed-input-shape copies (onnxsim folds the dynamic axes' shape ops) and, "
                        "for models with a one-input-channel Conv3d, those copies with it run as a Conv2d")
    p.add_argument("--warmup", type=int, default=5, help="whole-model timing: warm-up runs")
    p.add_argument("--min-runs", type=int, default=30)
    p.add_argument("--min-seconds", type=float, default=1.0, help="CPU seconds per file, at least")
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--block", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", default=None, help="keep the exported files in this folder")
    p.add_argument("--json", default=None, help="write all figures here")
    args = p.parse_args(argv)
    from edgeprune.errors import EdgepruneError

    try:
        args.wsr = [float(x) for x in args.wsr.split(",")]
    except ValueError:
        p.error(f"--wsr must be comma-separated numbers, got {args.wsr!r}")
    if not all(0 < w < 1 for w in args.wsr):
        p.error("--wsr values must lie in (0, 1)")
    if args.runs < 1 or args.cpu_runs < 1 or args.layer_runs < 1 or args.profile_warmup < 0 or args.tolerance < 0:
        p.error("--runs, --cpu-runs and --layer-runs must be >= 1, --profile-warmup and --tolerance >= 0")
    from edgeprune import models

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in models.names()]
    if unknown or not names:
        p.error(f"unknown model(s) {unknown}; choose from {', '.join(models.names())}")
    args.round_to, args.frames, args.lip_frames = None, None, None  # as benchmarks/latency.py builds them
    from provenance import command, stamp

    print(f"# command: {command()}\n# {stamp()}", flush=True)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="edgeprune-ortops.") as tmp:
            folder = Path(args.keep or tmp)
            folder.mkdir(parents=True, exist_ok=True)
            for name in names:
                print(f"# {name}", file=sys.stderr, flush=True)
                res = bench_model(name, args, folder)
                results.append(res)
                print_model(name, res["variants"])
                for kw in res["kernel_widths"]:
                    print(f"# {name} {kw['variant']}: {_moved(kw)}")
    except EdgepruneError as exc:
        print(f"ort_ops.py: error: {exc}", file=sys.stderr)
        return 1
    print(f"# {os.getloadavg()[0]:.1f} load at end")
    print_summary(results)
    print_losses(results)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = out.with_name(f".{out.name}.tmp")
        settings = {k: v for k, v in vars(args).items() if k != "json"}
        tmp_out.write_text(json.dumps({"settings": settings, "results": results}, indent=2, default=str))
        os.replace(tmp_out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
