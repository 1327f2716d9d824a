"""Does pruning keep the Score? `edgeprune slim` (every default but the ones given) for several methods and seeds at
one target WSR, and the final test Score against the dense model's: mean and spread over seeds, from one run.

The dense reference of a seed is round 0 of its CPLR run: the dense model trained `--pretrain-epochs` (synth: 15)
and chosen on dev Score, which is what every method should be held against (LTH-IF's own round 0 is only its first
iteration of E = 5 epochs and is shown for reference). Without cplr in --methods the reference is a CPLR run that
stops after round 0 (`--max-rounds 0 --finetune-epochs 0`: the same model, trained the same way, without the
rounds).

    python benchmarks/seeds.py                                   # cplr and lth-if, tv-audio, WSR 0.8, seeds 0-2
    python benchmarks/seeds.py --methods cplr --seeds 0 1 --target-wsr 0.5 --jobs 2
    python benchmarks/seeds.py --methods cplr "cplr --ratios auto"    # a method entry may carry its own slim flags
    python benchmarks/seeds.py --model misp-audio --seeds 0 1 --baseline --data-size 1000 --pretrain-epochs 8 --epochs 3

Arguments it does not know (--pretrain-epochs 8 ...) go to every `edgeprune slim` run. --baseline also fits the
logistic regression on pooled FBank statistics (edgeprune.baseline) on each seed's data and prints it next to the
dense model (issue 9: the network should beat it by at least half its Score).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from provenance import command, stamp
from slimrun import run_slim_process


DENSE = "dense"  # pseudo-method: the reference run that stops after round 0


def _slug(entry: str) -> str:
    """Run-directory name of a --methods entry: "cplr --ratios auto" -> "cplr-ratios-auto"."""
    return "-".join(w.strip("-") for w in shlex.split(entry) if w.strip("-"))


def _run(out: Path, method: str, seed: int, args) -> dict:
    """One slim run in its own process (one torch thread each, so --jobs runs share the cores fairly)."""
    run_dir = out / f"{_slug(method)}-{args.model}-s{seed}"
    sizes = [] if args.data_size is None else ["--data-size", str(args.data_size)]
    name, *own = shlex.split(method)
    # flags in order of precedence, last wins: the common ones, the entry's own, and for "dense" (CPLR's round 0
    # alone, the reference when cplr itself is not compared) the stop after round 0
    only = ["--max-rounds", "0", "--finetune-epochs", "0"] if method == DENSE else []
    cmd = ["edgeprune", "slim", "--method", "cplr" if method == DENSE else name, "--model", args.model,
           "--target-wsr", str(args.target_wsr), "--seed", str(seed), "--out", str(run_dir), "--no-progress", *sizes,
           *args.extra, *own, *only]
    t0 = time.perf_counter()
    run_slim_process(cmd)
    final = json.loads((run_dir / "final" / "metrics.json").read_text())
    first = json.loads((run_dir / "round_000" / "metrics.json").read_text())
    return {"method": method, "seed": seed, "wsr": final["wsr"], "params": final["params"],
            "round0_test": first["test"]["score"], "final_test": final["test"]["score"],
            "final_dev": final["dev"]["score"], "dir": str(run_dir),
            # the run's own compute time (also when this call reused a finished run or waited for one)
            "wall_s": final.get("total_wall_s") or time.perf_counter() - t0}


def _baseline(seed: int, args) -> dict:
    """The logistic regression on the data a slim run of this seed trains on (the sizes slim's Context uses)."""
    from edgeprune import models
    from edgeprune.baseline import fit_baseline
    from edgeprune.data import open_data

    spec = models.spec(args.model)
    n = args.data_size
    sizes = {} if n is None else {"train": n, "dev": max(-(-n // 3), 10), "test": max(-(-n // 3), 10)}
    data = open_data("synth", inputs=("fbank",), lip_size=spec.lip_size or 88, seed=seed, **sizes)
    return fit_baseline(data)


def _ms(values) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=["cplr", "lth-if"],
                   help='slim methods; an entry may carry its own slim flags, e.g. "cplr --ratios auto"')
    p.add_argument("--model", default="tv-audio")
    p.add_argument("--target-wsr", type=float, default=0.8)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=2, help="runs at a time (each uses one torch thread)")
    p.add_argument("--out", default="runs/bench-seeds", help="run directories (resumable: finished runs are reused)")
    p.add_argument("--data-size", type=int, default=None, help="training clips of every run (default: synth's)")
    p.add_argument("--baseline", action="store_true",
                   help="also fit the logistic-regression baseline on each seed's data and print it")
    p.add_argument("--json", default=None)
    args, args.extra = p.parse_known_args(argv)
    reference = "cplr" if "cplr" in args.methods else DENSE  # its round 0 is the dense reference
    methods = list(dict.fromkeys(args.methods))
    out = Path(args.out)
    print(f"command: {command()}")
    print(f"{stamp()} · {args.jobs} runs at a time")
    jobs = [(m, s) for s in args.seeds for m in dict.fromkeys([reference, *methods])]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(lambda ms: _run(out, ms[0], ms[1], args), jobs))
    baseline = {s: _baseline(s, args)["score"] for s in args.seeds} if args.baseline else {}
    print(f"load {os.getloadavg()[0]:.1f} at end\n")
    dense = {r["seed"]: r["round0_test"] for r in rows if r["method"] == reference}
    ref_text = "round 0 of the seed's cplr run" if reference == "cplr" else "a cplr run stopped after round 0"
    print(f"{args.model}, target WSR {args.target_wsr}, seeds {' '.join(map(str, args.seeds))}; dense = {ref_text}\n")
    print("| method | reached WSR | params | dense test Score | final test Score | final - dense | own round 0 | min/run |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        diff = [r["final_test"] - dense[r["seed"]] for r in rs]
        print(f"| {m} | {_ms([r['wsr'] for r in rs])} | {round(statistics.mean(r['params'] for r in rs)):,} | "
              f"{_ms([dense[r['seed']] for r in rs])} | {_ms([r['final_test'] for r in rs])} | {_ms(diff)} | "
              f"{_ms([r['round0_test'] for r in rs])} | {statistics.mean(r['wall_s'] for r in rs) / 60:.1f} |")
    print("\nper seed, dense -> final test Score (final - dense):")
    for m in methods:
        rs = sorted((r for r in rows if r["method"] == m), key=lambda r: r["seed"])
        print(f"  {m}: " + ", ".join(f"s{r['seed']} {dense[r['seed']]:.3f} -> {r['final_test']:.3f} "
                                    f"({r['final_test'] - dense[r['seed']]:+.3f})" for r in rs))
    if baseline:
        d = [dense[s] for s in args.seeds]
        b = [baseline[s] for s in args.seeds]
        print(f"\ndense network (cplr round 0) test Score {_ms(d)}; logistic regression on pooled FBank statistics "
              f"(same data) {_ms(b)}; dense / baseline {_ms([x / y for x, y in zip(d, b)])} "
              f"(issue 9's bar: <= 0.50)")
        print("per seed (dense / baseline): "
              + ", ".join(f"s{s} {dense[s]:.3f} / {baseline[s]:.3f}" for s in args.seeds))
    if args.json:
        from edgeprune.atomic import write_json

        write_json(args.json, {"rows": rows, "target_wsr": args.target_wsr, "model": args.model,
                               "baseline": baseline, "data_size": args.data_size, "extra": args.extra})
    return 0


if __name__ == "__main__":
    sys.exit(main())
