"""The README's figures: run the first README command (`edgeprune slim --method cplr`, every default) once, time it,
and print its round table next to the logistic-regression baseline on the same data, with command, git SHA, date,
machine and load, ready to paste.

    python benchmarks/default_run.py                      # uses the shared corpus cache (~/.cache/edgeprune)
    python benchmarks/default_run.py --fresh-cache        # also times generating the corpus, as a first run does
    python benchmarks/default_run.py --method lth-if --target-wsr 0.8 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import command, stamp


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fresh-cache", action="store_true", help="generate the synth corpus into an empty cache")
    p.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                   help="also fit the logistic-regression baseline on the same data")
    p.add_argument("--json", default=None, help="write the figures as JSON")
    args, slim_args = p.parse_known_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgeprune-default-") as tmp:
        env = dict(os.environ, EDGEPRUNE_NO_PROGRESS="1")
        if args.fresh_cache:
            env["EDGEPRUNE_CACHE"] = str(Path(tmp) / "cache")
        out = Path(tmp) / "run"
        cmd = ["edgeprune", "slim", "--method", "cplr", *slim_args, "--out", str(out)]
        print(f"command: {' '.join(cmd[:-2])}   (via {command()})")
        print(f"{stamp()}{' · fresh corpus cache' if args.fresh_cache else ''}")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "slim failed", file=sys.stderr)
            return proc.returncode
        print(f"wall time {wall / 60:.1f} min · load {os.getloadavg()[0]:.1f} at end\n")
        print("\n".join(line for line in proc.stdout.splitlines() if not line.startswith("target WSR")
                        and "Results:" not in line))
        final = json.loads((out / "final" / "metrics.json").read_text())
        dense = json.loads((out / "round_000" / "metrics.json").read_text())
        figures = {"wall_s": wall, "dense": dense["test"], "final": final["test"], "final_wsr": final["wsr"]}
        if args.baseline:
            from edgeprune.baseline import fit_baseline
            from edgeprune.data import open_data

            os.environ.update({k: v for k, v in env.items() if k.startswith("EDGEPRUNE_")})
            cfg = json.loads((out / "config.json").read_text())
            lr = fit_baseline(open_data(cfg["data"], inputs=("fbank",), seed=cfg["seed"]))
            figures["baseline"] = {"score": lr["score"], "C": lr["C"]}
            print(f"\nlogistic regression on pooled FBank statistics (same data): test Score {lr['score']:.3f}")
            print(f"dense network / baseline: {dense['test']['score'] / lr['score']:.2f} "
                  f"(the network beats it by at least half its Score when <= 0.50)")
        print("\nFAR % at 1-FRR = 98.78 % per SNR (dense -> final):")
        for snr, entry in sorted(dense["test"].get("per_snr", {}).items(), key=lambda kv: float(kv[0])):
            after = final["test"]["per_snr"].get(snr, {})
            fmt = lambda v: "n/a" if v is None else f"{100 * v:.1f}"  # noqa: E731
            print(f"  {float(snr):+.0f} dB: {fmt(entry.get('far_at_frr'))} -> {fmt(after.get('far_at_frr'))}")
        if args.json:
            from edgeprune.atomic import write_json

            write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
