"""Does slimming to a measured latency budget beat slimming by parameters or MACs? (issue 12) One method, one seed,
three kinds of run, and every final model measured again by `edgeprune bench` in one separate interleaved run.

    python benchmarks/budget_compare.py --model misp-audio --out runs/bench-budget        # budget: 0.5 x dense p90
    python benchmarks/budget_compare.py --model tv-audio --data-size 300 --pretrain-epochs 3 --epochs 1 --out /tmp/bb

- budget:   `slim --latency-budget` at `--share` x the dense p90 of the latency table (`edgeprune profile`).
- params:   the same method to the budget run's final WSR (`--target-wsr`: same final parameters).
- sweep:    the same method by parameters to `--sweep-wsr`; every round's model is exported and measured, and the
            round where the p90 crosses the budget gives the MACs a parameter/MAC-driven cut removes to reach the
            same latency (linear between the two rounds around the crossing).
- matched:  the same method to the WSR of that crossing (a full run, so its Score is comparable with the budget run's).

Runs are `edgeprune slim` subprocesses with one torch thread (`--jobs` at a time); run directories are resumable.
`--clock thread-cpu` (the default here) times with the measuring thread's CPU time, as on a shared machine; use
`--clock wall` on a quiet one. Results: OUT/results.json and OUT/table.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from provenance import command, stamp
from slimrun import run_slim_process


def slim(args, out: Path, *extra: str) -> dict:
    cmd = ["edgeprune", "slim", "--method", args.method, "--model", args.model, "--seed", str(args.seed),
           "--out", str(out), "--no-progress", *args.slim_args, *extra]
    run_slim_process(cmd)
    return json.loads((out / "final" / "metrics.json").read_text())


def edgeprune(*argv: str) -> None:
    proc = subprocess.run(["edgeprune", *argv], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"edgeprune {' '.join(argv)} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")


def export(folder: Path, onnx: Path) -> Path:
    ckpt = folder / "model.safetensors"
    if not onnx.exists() or onnx.stat().st_mtime < ckpt.stat().st_mtime:
        edgeprune("export", str(ckpt), "--format", "onnx", "--out", str(onnx))
    return onnx


def bench(paths: list[Path], args, json_out: Path, reuse: bool = False) -> list[dict]:
    """One interleaved `edgeprune bench` run of `paths` -> their latency_ms blocks (`reuse`: a finished one of
    the same files is read back, so that a resumed run keeps the sweep's crossing)."""
    if reuse and json_out.exists():
        models = json.loads(json_out.read_text())["bench"]["models"]
        if [m["path"] for m in models] == list(map(str, paths)):
            return [m["latency_ms"] for m in models]
    edgeprune("bench", *map(str, paths), "--threads", "1", "--clock", args.clock, "--min-seconds", "3",
              "--json", str(json_out))
    return [m["latency_ms"] for m in json.loads(json_out.read_text())["bench"]["models"]]


def crossing(rounds: list[dict], budget: float) -> dict:
    """Where the sweep's measured p90 first falls to the budget: WSR and MACs, linear between the two rounds."""
    for a, b in zip(rounds, rounds[1:]):
        if a["p90"] > budget >= b["p90"]:
            t = (a["p90"] - budget) / (a["p90"] - b["p90"])
            return {"wsr": a["wsr"] + t * (b["wsr"] - a["wsr"]), "macs": a["macs"] + t * (b["macs"] - a["macs"]),
                    "between_rounds": [a["round"], b["round"]]}
    raise SystemExit(f"the sweep never crosses the budget {budget:.3f} ms (p90 per round: "
                     f"{[round(r['p90'], 3) for r in rounds]}); raise --sweep-wsr")


def row(name: str, final: dict, p: dict, macs_dense: int) -> dict:
    return {"run": name, "wsr": final["wsr"], "params": final["params"], "macs": final["macs"],
            "macs_removed": macs_dense - final["macs"], "dev_score": (final.get("dev") or {}).get("score"),
            "test_score": (final.get("test") or {}).get("score"), "p50": p["p50"], "p90": p["p90"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="misp-audio")
    ap.add_argument("--method", default="cplr")
    ap.add_argument("--share", type=float, default=0.5, help="budget = share x the dense p90 of the latency table")
    ap.add_argument("--sweep-wsr", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clock", default="thread-cpu", choices=("wall", "thread-cpu"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    args, args.slim_args = ap.parse_known_args(argv)
    out = args.out
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    print(f"command: {command()}\n{stamp()}")
    table = out / "table.json"
    if not table.exists():
        edgeprune("profile", args.model, "--clock", args.clock, "--out", str(table))
    dense_p90 = json.loads(table.read_text())["dense"]["p90"]
    budget = args.share * dense_p90
    opts = json.dumps({"clock": args.clock})
    print(f"latency table: dense p90 {dense_p90:.3f} ms; budget {budget:.3f} ms ({args.share} x)")

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        fb = pool.submit(slim, args, out / "budget", "--latency-budget", f"{budget:.6f}", "--latency-table", str(table),
                         "--latency-options", opts)
        fs = pool.submit(slim, args, out / "sweep", "--target-wsr", str(args.sweep_wsr))
        f_budget = fb.result()
        fs.result()
        sweep_dirs = sorted(p for p in (out / "sweep").glob("round_*") if (p / "model.safetensors").exists())
        lat = bench([export(d, out / "onnx" / f"sweep-{d.name}.onnx") for d in sweep_dirs], args, out / "sweep.json", reuse=True)
        rounds = [dict(json.loads((d / "metrics.json").read_text()), p90=x["p90"]) for d, x in zip(sweep_dirs, lat)]
        cross = crossing(rounds, budget)
        fp = pool.submit(slim, args, out / "params", "--target-wsr", f"{f_budget['wsr']:.4f}")
        fm = pool.submit(slim, args, out / "matched", "--target-wsr", f"{cross['wsr']:.4f}")
        f_params, f_matched = fp.result(), fm.result()

    names = ("dense", "budget", "params", "matched")
    folders = (out / "budget" / "round_000", out / "budget" / "final", out / "params" / "final",
               out / "matched" / "final")
    lat = bench([export(f, out / "onnx" / f"{n}.onnx") for n, f in zip(names, folders)], args, out / "final.json")
    dense = json.loads((folders[0] / "metrics.json").read_text())
    macs_dense = dense["macs"]
    rows = [row(n, m, x, macs_dense) for n, m, x in zip(names, (dense, f_budget, f_params, f_matched), lat)]
    sweep_rows = [{"round": r["round"], "wsr": r["wsr"], "macs": r["macs"], "p90": r["p90"]} for r in rounds]
    lines = [f"{args.model}, {args.method}, seed {args.seed}, budget p90 {budget:.3f} ms ({args.share} x the "
             f"table's dense {dense_p90:.3f} ms), clock {args.clock}; latencies from one `edgeprune bench` run "
             "of the four exported models", "",
             "| model | WSR | params | MACs | MACs removed | p50 ms | p90 ms | within budget | dev Score | test Score |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        ok = "-" if r["run"] == "dense" else ("yes" if r["p90"] <= budget else "no")
        lines.append(f"| {r['run']} | {r['wsr']:.3f} | {r['params']:,} | {r['macs']:,} | {r['macs_removed']:,} | "
                     f"{r['p50']:.3f} | {r['p90']:.3f} | {ok} | {r['dev_score']:.4f} | {r['test_score']:.4f} |")
    lines += ["", f"budget / dense p90 measured in this bench run: {budget / rows[0]['p90']:.2f} (the budget was set "
              f"from the table's dense p90, {dense_p90:.3f} ms)",
              "", "sweep (same method by parameters; each round measured): "
              + ", ".join(f"r{r['round']} WSR {r['wsr']:.3f} {r['macs']:,} MACs p90 {r['p90']:.3f}" for r in sweep_rows),
              f"the sweep reaches the budget at WSR {cross['wsr']:.3f} with {macs_dense - cross['macs']:,.0f} MACs "
              f"removed (between rounds {cross['between_rounds']}); the budget run removed {rows[1]['macs_removed']:,}: "
              f"{(macs_dense - cross['macs']) / max(1, rows[1]['macs_removed']):.2f}x as many for the same latency"]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    (out / "table.md").write_text(text)
    (out / "results.json").write_text(json.dumps({"stamp": stamp(), "budget_ms": budget, "dense_table_p90": dense_p90,
                                                  "rows": rows, "sweep": sweep_rows, "crossing": cross,
                                                  "slim_args": args.slim_args}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
