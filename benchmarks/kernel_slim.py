"""How much of the MAC cut becomes onnxruntime time with `edgeprune slim --kernel-widths` and `edgeprune export
--fixed-shape` (issue 11, item 1), from `edgeprune` commands only, one `edgeprune bench` run for every file.

For each model and target WSR: `edgeprune slim --method cp` with and without `--kernel-widths` (the same seed,
data and training; latency depends on the widths, so a small training budget is enough), each final model
exported as it is and with `--fixed-shape`, the dense model (round 0) too; then every file measured in one
interleaved `edgeprune bench` (1 thread). Efficiency = speed-up over the dense file of the same export kind /
MACs reduction.

    python benchmarks/kernel_slim.py --out runs/bench-kernel-slim                      # misp-video, misp-audio
    python benchmarks/kernel_slim.py --models tv-audio --wsr 0.5 --out /tmp/ks --data-size 48   # a smoke test

`--clock thread-cpu` (the default) times the measuring thread's CPU, for a shared machine; `--clock wall` on a
quiet one. Run directories are resumable. Results: OUT/results.json, OUT/table.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from provenance import command, stamp
from slimrun import run_slim_process


def edgeprune(*argv: str) -> None:
    proc = subprocess.run(["edgeprune", *argv], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"edgeprune {' '.join(argv)} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")


def slim(args, model: str, wsr: float, out: Path, kernel: bool) -> Path:
    cmd = ["edgeprune", "slim", "--method", "cp", "--model", model, "--target-wsr", str(wsr), "--seed", str(args.seed),
           "--data-size", str(args.data_size), "--pretrain-epochs", str(args.pretrain_epochs), "--epochs",
           str(args.epochs), "--batch-size", str(args.batch_size), "--out", str(out), "--no-progress",
           *(["--kernel-widths"] if kernel else [])]
    run_slim_process(cmd)
    return out


def export(ckpt: Path, onnx: Path, fixed: bool) -> Path:
    if not onnx.exists():
        edgeprune("export", str(ckpt), "--format", "onnx", "--out", str(onnx), *(["--fixed-shape"] if fixed else []))
    return onnx


def counts(path: Path) -> dict:
    from edgeprune.commands.bench import read_counts

    return read_counts(str(path))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["misp-video", "misp-audio"])
    p.add_argument("--wsr", nargs="+", type=float, default=[0.5, 0.8])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-size", type=int, default=12, help="training clips of every slim run")
    p.add_argument("--pretrain-epochs", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--clock", choices=("thread-cpu", "wall"), default="thread-cpu")
    p.add_argument("--min-seconds", type=float, default=3.0, help="per file in the bench run")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"command: {command()}\n{stamp()}", flush=True)
    rows = []
    for model in args.models:
        files = []  # (variant, wsr target, path)
        for wsr in args.wsr:
            for kernel in (False, True):
                run = slim(args, model, wsr, out / model / f"cp-{wsr}{'-kw' if kernel else ''}", kernel)
                if not files:
                    dense = run / "round_000" / "model.safetensors"
                    files += [("dense", 0.0, export(dense, out / model / "dense.onnx", False)),
                              ("dense fixed", 0.0, export(dense, out / model / "dense-fixed.onnx", True))]
                label = f"wsr{wsr}{'+kw' if kernel else ''}"
                ckpt = run / "final" / "model.safetensors"
                files += [(label, wsr, export(ckpt, out / model / f"{label}.onnx", False)),
                          (f"{label} fixed", wsr, export(ckpt, out / model / f"{label}-fixed.onnx", True))]
        bench_json = out / model / "bench.json"
        edgeprune("bench", *(str(f[2]) for f in files), "--threads", "1", "--clock", args.clock,
                  "--min-seconds", str(args.min_seconds), "--json", str(bench_json))
        measured = [m["latency_ms"] for m in json.loads(bench_json.read_text())["bench"]["models"]]
        base = {False: measured[0], True: measured[1]}
        dense_counts = counts(files[0][2])
        macs_dense = dense_counts["macs"]
        for (label, wsr, path), lat in zip(files, measured):
            fixed = label.endswith("fixed")
            c = counts(path)
            speedup = base[fixed]["p50"] / lat["p50"]
            reduction = macs_dense / c["macs"]
            rows.append({"model": model, "variant": label, "target_wsr": wsr,
                         "wsr": 1 - c["params"] / dense_counts["params"], "params": c["params"], "macs": c["macs"],
                         "macs_reduction": reduction, "p50_ms": lat["p50"], "p90_ms": lat["p90"], "speedup": speedup,
                         "efficiency": speedup / reduction if label not in ("dense", "dense fixed") else None,
                         "vs_plain_dense": measured[0]["p50"] / lat["p50"], "file": str(path)})
    lines = [f"clock {args.clock}, 1 thread, onnxruntime; every file of a model in one interleaved `edgeprune bench` "
             f"run; speed-up over the dense file of the same kind (plain or --fixed-shape); efficiency = speed-up / "
             f"MACs reduction; 'vs dense' = plain dense p50 / this p50", "",
             "| model | variant | WSR | MACs | MACs x | p50 ms | p90 ms | speed-up | efficiency | vs dense |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        eff = "" if r["efficiency"] is None else f"{r['efficiency']:.2f}"
        wsr = f"{r['wsr']:.3f}"
        lines.append(f"| {r['model']} | {r['variant']} | {wsr} | {r['macs']:,} | {r['macs_reduction']:.2f} | "
                     f"{r['p50_ms']:.3f} | {r['p90_ms']:.3f} | {r['speedup']:.2f} | {eff} | {r['vs_plain_dense']:.2f} |")
    table = "\n".join(lines)
    print("\n" + table)
    (out / "table.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=2))
    print(f"\nwrote {out / 'results.json'}, {out / 'table.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
