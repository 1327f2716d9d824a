"""How well the latency table predicts whole slim models: predicted vs measured latency at several WSRs.

    python benchmarks/latency_tables.py                                  # tv-audio and misp-audio, WSR 0.3-0.8
    python benchmarks/latency_tables.py --models misp-video --wsrs 0.5,0.8 --json runs/profile.json

For each model: `edgeprune profile` (the table, cached per machine/runtime/threads/architecture), then slim copies
cut by ChannelPruner (normalised L1 ranking of the untrained zoo weights, one shot to each WSR), exported to ONNX
and measured interleaved with the dense model in one device_bench run; the table predicts each from its widths
and per-layer MACs. Error = predicted / measured - 1 (p50, ORT, 1 thread by default). Columns: `calibrated`
(what predict() returns: the product model calibrated on the table's joint cuts, measured by profile --joints),
the same scaled by this run's dense / the table's dense (drift between the runs is not prediction error), and the
older models for comparison: `product` (uncalibrated), `layers` (the dense time split by MACs), `additive`.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def slim_variants(source, wsrs, importance: str, round_to: int | None = None):
    import edgeprune

    out = []
    for wsr in wsrs:
        model = copy.deepcopy(source.model)
        edgeprune.ChannelPruner(model, source.example, importance=importance, round_to=round_to).prune(wsr, unit="params")
        out.append((f"wsr{wsr:g}", wsr, model.eval()))
    return out


def evaluate(name: str, args) -> list[dict]:
    import edgeprune
    from edgeprune.latency.predict import predict
    from edgeprune.latency.profile import _export, load_source, profile
    from edgeprune.latency.target import Target

    import torch

    torch.manual_seed(args.seed)  # the initial weights decide the L1 ranking, hence the slim widths
    source = load_source(name)
    bench = {"warmup": args.warmup, "min_runs": args.min_runs, "min_seconds": args.min_seconds,
             "max_seconds": args.max_seconds, "block": 5}
    target = Target("local", "ort", args.threads, bench=bench, clock=args.clock)
    table = profile(source, target, align=args.align, cache_folder=args.cache_dir, joints=args.joints)
    print(f"# {name}: table dense p50 {table.dense['p50']:.3f} ms, {sum(len(g['points']) for g in table.groups.values())} "
          f"points, {len(table.joints)} joint ({table.meta['measured_now']} measured now, {table.meta['seconds']} s)",
          flush=True)
    dense = edgeprune.count(source.model, source.example)
    variants = slim_variants(source, args.wsrs, args.importance, args.round_to)
    with tempfile.TemporaryDirectory(prefix="edgeprune-predict.") as tmp:
        paths = [Path(tmp) / "dense.onnx"] + [Path(tmp) / f"{label}.onnx" for label, _, _ in variants]
        _export(source, source.model, paths[0], "onnx")
        for (_, _, model), path in zip(variants, paths[1:]):
            _export(source, model, path, "onnx")
        measured = target.measure([str(p) for p in paths])
    rows = [{"model": name, "variant": "dense", "wsr": 0.0, "macs": dense.macs, "measured": measured[0][args.stat],
             **{k: float(table.dense[args.stat]) for k in ("predicted", *OTHERS)}}]
    for (label, wsr, model), m in zip(variants, measured[1:]):
        c = edgeprune.count(model, source.example)
        rows.append({"model": name, "variant": label, "wsr": 1 - c.params / dense.params, "macs": c.macs,
                     "measured": m[args.stat], "predicted": predict(table, model, source.example, args.stat),
                     **{k: predict(table, model, source.example, args.stat, how=k) for k in OTHERS}})
    for r in rows:  # the dense row of this run rescales the table (drift between the two runs is not error)
        scale = rows[0]["measured"] / rows[0]["predicted"]
        r["predicted_scaled"] = r["predicted"] * scale
        r["error"] = r["predicted"] / r["measured"] - 1
        r["error_scaled"] = r["predicted_scaled"] / r["measured"] - 1
        for k in OTHERS:
            r[f"error_{k}"] = r[k] / r["measured"] - 1
    return rows


OTHERS = ("product", "layers", "additive")  # the older models, shown beside predict()'s default


def format_rows(rows: list[dict], stat: str) -> str:
    head = (f"{'model':<11} {'variant':<7} {'WSR':>4} {'MACs':>11} | {'measured':>8} {'calibr.':>8} {'error':>7} "
            f"| {'xdense':>8} {'error':>7} | " + " ".join(f"{k:>8} {'error':>7}" for k in OTHERS) + f"  ({stat} ms)")
    lines = [head]
    for r in rows:
        lines.append(f"{r['model']:<11} {r['variant']:<7} {r['wsr']:>4.2f} {r['macs']:>11,} | {r['measured']:>8.3f} "
                     f"{r['predicted']:>8.3f} {r['error']:>+7.1%} | {r['predicted_scaled']:>8.3f} "
                     f"{r['error_scaled']:>+7.1%} | " + " ".join(f"{r[k]:>8.3f} {r[f'error_{k}']:>+7.1%}" for k in OTHERS))
    for model in dict.fromkeys(r["model"] for r in rows):
        slim = [r for r in rows if r["variant"] != "dense" and r["model"] == model]
        if slim:
            worst = {k: max(abs(r[f"error_{k}"]) for r in slim) for k in ("", "scaled", *OTHERS) if k}
            worst["calibrated"] = max(abs(r["error"]) for r in slim)
            lines.append(f"{model}: largest |error| over the slim models: calibrated {worst['calibrated']:.1%}, "
                         f"scaled to this run's dense {worst['scaled']:.1%}, "
                         + ", ".join(f"{k} {worst[k]:.1%}" for k in OTHERS))
    return "\n".join(lines)


def kernels_report(args) -> None:
    """Where ORT's conv/matmul kernels step in speed (single layers, 1 thread), and per-op time and optimisation
    levels of a zoo model dense and slim (what edgeprune sets vs the runtime's kernels)."""
    from edgeprune.latency import kernels
    from edgeprune.latency.predict import layer_macs
    from edgeprune.latency.profile import _export, load_source
    from edgeprune.latency.target import Target

    bench = {"warmup": 3, "min_runs": 15, "min_seconds": 0.0, "max_seconds": 120.0, "block": 5}
    target = Target("local", "ort", 1, bench=bench, clock=args.clock)

    def measure(paths):  # chunks, each one device_bench run, interleaved within it
        return [s for i in range(0, len(paths), 20) for s in target.measure(paths[i:i + 20])]

    for kind in ("conv", "matmul"):
        rows = kernels.sweep(kind, range(8, 73), measure)
        print(f"# {kind}: width:GMAC/s (min latency), 1 thread")
        print(" ".join(f"{r['width']}:{r['gmacs']:.1f}" for r in rows))
        drops = [(a["width"], b["width"], b["gmacs"] / a["gmacs"]) for a, b in zip(rows, rows[1:])
                 if b["gmacs"] < 0.85 * a["gmacs"]]
        print(f"# {kind}: throughput drops > 15 % from one width to the next: "
              + (", ".join(f"{a}->{b} x{r:.2f}" for a, b, r in drops) or "none"))
    source = load_source(args.kernel_model)
    variants = [("dense", source.model)] + [(label, m) for label, _, m in slim_variants(source, [0.8], args.importance)]
    with tempfile.TemporaryDirectory(prefix="edgeprune-kernels.") as tmp:
        paths = {}
        for label, model in variants:
            paths[label] = str(Path(tmp) / f"{label}.onnx")
            _export(source, model, Path(paths[label]), "onnx")
        for label, model in variants:
            per_op = kernels.ops(paths[label])
            conv_macs = sum(v for k, v in layer_macs(model, source.example).items()
                            if isinstance(model.get_submodule(k), torch_conv()))
            conv_ms = sum(v for k, v in per_op.items() if "Conv" in k)
            print(f"# {args.kernel_model} {label}: conv {conv_macs / 1e6:.1f} MMACs in {conv_ms:.3f} ms = "
                  f"{conv_macs / max(conv_ms, 1e-9) / 1e6:.1f} GMAC/s; ms per op type: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in list(per_op.items())[:8]))
        for label, by_level in kernels.levels(paths).items():
            print(f"# {args.kernel_model} {label}: min ms by graph optimisation level: "
                  + ", ".join(f"{lv.replace('ORT_', '')} {ms:.3f}" for lv, ms in by_level.items()))


def torch_conv():
    import torch.nn as nn

    return nn.modules.conv._ConvNd


def main(argv=None) -> int:
    from provenance import stamp

    from edgeprune.latency.joint import KEEP

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="tv-audio,misp-audio")
    p.add_argument("--wsrs", default="0.3,0.4,0.5,0.6,0.7,0.8")
    p.add_argument("--importance", default="l1")
    p.add_argument("--align", type=int, default=0, help="the table also measures multiples of N (profile --align)")
    p.add_argument("--joints", default=",".join(f"{k:g}" for k in KEEP),
                   help="keep fractions of the table's joint cuts (every group at once; '' for none)")
    p.add_argument("--round-to", type=int, default=None, help="slim models keep multiples of N channels")
    p.add_argument("--stat", default="p50", choices=("p50", "p90", "mean", "min"),
                   help="min resists load from other processes best (a shared machine)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0, help="seed of the zoo models' initial weights")
    p.add_argument("--clock", default="wall", choices=("wall", "thread-cpu"),
                   help="thread-cpu: the measuring thread's CPU time, unmoved by other jobs on a shared machine")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--min-runs", type=int, default=20)
    p.add_argument("--min-seconds", type=float, default=0.5)
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--kernels", action="store_true", help="the kernel-step and per-op report instead")
    p.add_argument("--kernel-model", default="misp-audio")
    args = p.parse_args(argv)
    args.wsrs = [float(v) for v in args.wsrs.split(",")]
    args.joints = [float(v) for v in args.joints.split(",") if v.strip()]
    import torch

    torch.set_num_threads(1)
    print("$ " + " ".join(["python", "benchmarks/latency_tables.py", *(argv if argv is not None else sys.argv[1:])]))
    print(f"# {stamp()}", flush=True)
    if args.kernels:
        kernels_report(args)
        return 0
    rows = []
    for name in args.models.split(","):
        rows += evaluate(name, args)
    print(format_rows(rows, args.stat))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
