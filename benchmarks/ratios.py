"""Benchmark of `slim --ratios auto` against `--ratios global`: the same CPLR run (same seed, same dense round 0)
on tv-audio / synth to one WSR, compared on test Score, MACs and the per-group widths each reaches.

Every run is an `edgeprune slim` subprocess with one torch thread; run directories are resumable (a finished run is
reused). The default size is a quick look (small synth corpus, few epochs), not the recorded budget of methods.py.

    python benchmarks/ratios.py --out /tmp/bench-ratios                       # quick look, WSR 0.8
    python benchmarks/ratios.py --out runs/bench-ratios --data-size 1000 --epochs 6 --pretrain-epochs 15

Results: OUT/results.json, OUT/table.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from provenance import stamp
from slimrun import run_slim_process

GROUPS = ("backend.convs.0", "backend.convs.3", "backend.lstm", "backend.fc1")


def widths(folder: Path) -> dict:
    arch = json.loads((folder / "arch.json").read_text())["widths"]
    keys = ("out_channels", "out_features", "hidden_size")
    return {n: next(e[k] for k in keys if k in e) for n, e in arch.items() if any(k in e for k in keys)}


def one(mode: str, args, out: Path) -> dict:
    cmd = ["edgeprune", "slim", "--method", args.method, "--ratios", mode, "--model", "tv-audio", "--target-wsr",
           str(args.target_wsr), "--seed", str(args.seed), "--data-size", str(args.data_size), "--epochs",
           str(args.epochs), "--pretrain-epochs", str(args.pretrain_epochs), "--out", str(out), "--no-progress"]
    t0 = time.perf_counter()
    run_slim_process(cmd)
    final = json.loads((out / "final" / "metrics.json").read_text())
    test, dev = final.get("test") or {}, final.get("dev") or {}
    return {"mode": mode, "cmd": " ".join(cmd), "wall_s": time.perf_counter() - t0, "wsr": final["wsr"],
            "params": final["params"], "macs": final["macs"], "macs_dense": final["macs_dense"],
            "dev_score": dev.get("score"), "test_score": test.get("score"), "far_at_frr": test.get("far_at_frr"),
            "widths_dense": widths(out / "round_000"), "widths": widths(out / "final"),
            "selection": final.get("auto_ratios")}


def table(rows: list[dict]) -> str:
    head = ("| ratios | WSR | params | MACs | dev Score | test Score | FAR@FRR | "
            + " | ".join(GROUPS) + " |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(GROUPS)]
    for r in rows:
        w = " | ".join(f"{r['widths_dense'][g]}->{r['widths'][g]}" for g in GROUPS)
        f = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
        lines.append(f"| {r['mode']} | {r['wsr']:.3f} | {r['params']:,} | {r['macs']:,} | {f(r['dev_score'])} | "
                     f"{f(r['test_score'])} | {f(r['far_at_frr'])} | {w} |")
    auto = next((r for r in rows if r["selection"]), None)
    if auto:
        sel = auto["selection"]
        picks = ", ".join(f"{g} {sel['groups'][g]['ratio']:.0%}" for g in GROUPS if g in sel["groups"])
        lines += ["", f"auto's selection: {picks} (bound: {sel['bound']:+.4f} {sel['metric']} loss per group, "
                      f"reached: {sel['reached']})"]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--method", default="cplr")
    p.add_argument("--target-wsr", type=float, default=0.8)
    p.add_argument("--data-size", type=int, default=300)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--pretrain-epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = stamp()
    rows = [one(mode, args, args.out / mode) for mode in ("global", "auto")]
    text = table(rows)
    (args.out / "results.json").write_text(json.dumps({"stamp": started, "rows": rows}, indent=2))
    (args.out / "table.md").write_text(f"({started})\n\n{text}")
    print(f"({started})\n\n{text}", end="")


if __name__ == "__main__":
    main()
