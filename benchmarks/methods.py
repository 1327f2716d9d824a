"""Benchmark of the pruning methods with `edgeprune slim`'s own defaults (the current training recipe) on synth:
CP, LTH, LTH-IF and CPLR (bn_scale+l1, and --importance l1) on tv-audio, test Score against reached WSR, plus
torch-pruning's own BNScalePruner one-shot pipeline as the peer.

Iterative methods (cplr, lth, lth-if) run once, to the highest target: every round of that run is a retrained,
evaluated model (its own round_NNN/metrics.json), so the run's rounds are the Score-vs-WSR curve, and the table
takes, per target, the round closest to it (the last target: the run's final model, after cplr's fine-tune).
CP is one-shot, so it runs once per target. Every run is an `edgeprune slim` subprocess with one torch thread
(OMP_NUM_THREADS=1), --jobs at a time; run directories are resumable (a finished run is reused).

    python benchmarks/methods.py --out runs/bench-methods            # the recorded budget (~40 run-minutes)
    python benchmarks/methods.py --out /tmp/bench --quick            # a smoke test (tiny data, minutes)

Results: OUT/results.json, OUT/table.md, OUT/methods.png.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from provenance import command, stamp
from slimrun import run_slim_process

TARGETS = (0.5, 0.7, 0.8, 0.9)
# label -> (slim arguments, highest target of its one run); cp is one-shot and gets a run per target.
ITERATIVE = {
    "cplr": ([], None),
    "lth-if": (["--method", "lth-if"], None),
    "lth": (["--method", "lth"], None),
    # CPLR ranking by normalised filter L1 norm: issue 9 asks that it no longer collapse at WSR 0.8
    "cplr-l1": (["--importance", "l1"], 0.8),
}
ORDER = ("cplr", "lth-if", "lth", "cp", "cplr-l1", "tp-BNScalePruner")
# --quick: tiny data and one epoch per phase (a smoke test of the whole pipeline, not a measurement)
QUICK = ["--data-size", "90", "--pretrain-epochs", "1", "--epochs", "1"]
QUICK_PER_METHOD = {"lth-if": ["--first-epochs", "1", "--per-round", "0.15"]}


# ---------------------------------------------------------------- our methods
def slim_args(label: str, target: float, out: Path, model: str, quick: bool) -> list[str]:
    extra = ITERATIVE[label][0] if label in ITERATIVE else ["--method", "cp"]
    if "--method" not in extra:
        extra = ["--method", "cplr", *extra]
    return ["edgeprune", "slim", *extra, "--model", model, "--target-wsr", str(target), "--seed", "0",
            "--out", str(out), "--no-progress", *(QUICK + QUICK_PER_METHOD.get(label, []) if quick else [])]


def run_slim(cmd: list[str], out: Path) -> dict:
    """One `edgeprune slim` run in its own process; returns its rounds' and final metrics."""
    run_slim_process(cmd)
    rounds = [json.loads(p.read_text()) for p in sorted(out.glob("round_*/metrics.json"))]
    final = json.loads((out / "final" / "metrics.json").read_text())
    return {"cmd": " ".join(cmd), "rounds": rounds, "final": final}


def point(label: str, m: dict, where: str) -> dict:
    test, dev = m.get("test") or {}, m.get("dev") or {}
    return {"method": label, "from": where, "wsr": m["wsr"], "params": m["params"], "macs": m["macs"],
            "params_dense": m["params_dense"], "test_score": test.get("score"), "dev_score": dev.get("score"),
            "far_at_frr": test.get("far_at_frr")}


def curve(label: str, run: dict) -> list[dict]:
    """Every round of a run as a point, the final model (after any fine-tune) as the last one."""
    pts = [point(label, m, f"round {m['round']}") for m in run["rounds"]]
    pts.append(point(label, run["final"], "final"))
    return pts


# ---------------------------------------------------------------- the peer
def peer_run(out: Path, model_name: str, targets: list[float], dense_dir: Path, quick: bool) -> None:
    """torch-pruning's own pipeline from our sparse-trained dense model (round 0 of the cplr run: the same
    --pretrain-epochs with the same L1 on BN scales as cp/cplr), one global BNScalePruner step per target
    (pruning ratio searched so that the params cut equals the target), then cp's fine-tune (epochs, lr/10)."""
    from edgeprune import count
    from edgeprune.methods.config import SlimConfig
    from edgeprune.methods.context import Context, resolve
    from edgeprune.methods.seeding import seed_step
    from edgeprune.methods.state import read_state

    dense_model = read_state(dense_dir).model
    kw = dict(data_size=90, epochs=1, pretrain_epochs=1) if quick else {}
    cfg = resolve(SlimConfig(method="cp", model=model_name, target_wsr=max(targets), out=str(out / "ctx"),
                             progress=False, seed=0, **kw))
    ctx = Context(cfg)
    dense = count(dense_model, ctx.example).params
    grid = ratio_grid(dense_model, ctx.example, dense)
    done_rows = []
    for target in targets:
        done = out / f"peer-{target}.json"
        if done.is_file():
            done_rows.append(json.loads(done.read_text()))
            continue
        t0 = time.perf_counter()
        model = copy.deepcopy(dense_model)
        ratio, note = search_cut(model, ctx.example, target, dense, grid)
        same = [r for r in done_rows if r["ratio"] == ratio]
        if same:  # the same cut as a lower target's (it fell short of both): the same fine-tuned model
            r = {**same[0], "target_wsr": target, "note": note}
            done.write_text(json.dumps(r, indent=2))
            done_rows.append(r)
            continue
        seed_step(0, "final")
        fit = ctx.fit(model, "final", epochs=cfg.finetune_epochs, lr=cfg.finetune_lr, desc="peer fine-tune")
        trainer = ctx.trainer(model, "final")
        counts = count(model, ctx.example)
        m = {"wsr": 1 - counts.params / ctx.dense_params, "params": counts.params, "macs": counts.macs,
             "params_dense": ctx.dense_params, "test": trainer.evaluate("test"), "dev": trainer.evaluate("dev")}
        r = point("tp-BNScalePruner", m, "final")
        r.update(target_wsr=target, ratio=ratio, note=note, wall_s=time.perf_counter() - t0,
                 finetune_epochs=cfg.finetune_epochs, finetune_lr=cfg.finetune_lr,
                 best_epoch=(fit or {}).get("best_epoch"))
        out.mkdir(parents=True, exist_ok=True)
        done.write_text(json.dumps(r, indent=2))
        done_rows.append(r)


def _cut(net, example, ratio):
    import torch
    import torch_pruning as tp

    last = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
    imp = tp.importance.BNScaleImportance(normalizer=None)  # PITFALLS 7
    tp.pruner.BNScalePruner(net, example, importance=imp, global_pruning=True, pruning_ratio=ratio,
                            ignored_layers=[last]).step()
    return net


def _widths(net) -> dict:
    import torch

    out = {}
    for name, m in net.named_modules():
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d)):
            out[name] = m.out_channels
        elif isinstance(m, torch.nn.Linear):
            out[name] = m.out_features
        elif isinstance(m, (torch.nn.LSTM, torch.nn.GRU)):
            out[name] = m.hidden_size
    return out


GRID = tuple(round(0.05 * i, 2) for i in range(1, 20)) + (0.97, 0.99)


def ratio_grid(model, example, dense: int) -> list[tuple[float, float, str | None]]:
    """(pruning_ratio, reached WSR, error) on a grid of ratios. Reached WSR is not monotone in the ratio:
    torch-pruning skips a group that the global threshold would empty, so a larger ratio can cut less."""
    from edgeprune import count

    out = []
    for ratio in GRID:
        try:
            out.append((ratio, 1 - count(_cut(copy.deepcopy(model), example, ratio), example).params / dense, None))
        except Exception as exc:  # the peer may fail at some ratio: remember why
            out.append((ratio, -math.inf, f"{type(exc).__name__}: {exc}".splitlines()[0][:160]))
    return out


def search_cut(model, example, target: float, dense: int, grid) -> tuple[float, str]:
    """Cut `model` in place with the smallest pruning ratio (a channel share) that removes `target` of its
    params: the first grid ratio that reaches it, refined by bisection below it. When none does, it cuts at
    the ratio that reached the most, and the note says what was measured there (not a guessed cause)."""
    from edgeprune import count

    reach = next((i for i, (_, w, _e) in enumerate(grid) if w >= target), None)
    if reach is None:
        hi = max(grid, key=lambda g: g[1])[0]
    else:
        lo, hi = (grid[reach - 1][0] if reach else 0.0), grid[reach][0]
        for _ in range(8):  # monotone between neighbouring grid ratios below the first that reaches the target
            mid = (lo + hi) / 2
            try:
                w = 1 - count(_cut(copy.deepcopy(model), example, mid), example).params / dense
            except Exception:
                w = -math.inf
            lo, hi = (mid, hi) if w < target else (lo, mid)
    before = _widths(model)
    _cut(model, example, hi)
    reached = 1 - count(model, example).params / dense
    if reached >= target - 0.02:
        return hi, ""
    failures = [f"ratio {r}: {e}" for r, _w, e in grid if e]
    if failures:
        return hi, f"stopped at WSR {reached:.3f}; torch-pruning failed at {failures[0]}"
    after = _widths(model)
    last = list(after)[-1]  # the output layer, which the peer is told to ignore
    cut = [n for n in after if after[n] != before[n]]
    untouched = [n for n in after if after[n] == before[n] and n != last]
    mods = dict(model.named_modules())
    left = sum(p.numel() for n in untouched for p in mods[n].parameters(recurse=False))
    total = sum(p.numel() for p in model.parameters())
    no_bn = [n for n in untouched if not _group_has_bn(model, example, mods[n])]
    drop = [f"{r} -> {w:.3f}" for r, w, _e in grid if r > hi]
    return hi, (f"the highest WSR any pruning_ratio reached: {reached:.3f} at {hi:.2f} (larger ratios: "
                f"{', '.join(drop) or 'none'}); there it cut "
                f"{', '.join(f'{n} {before[n]}->{after[n]}' for n in cut)} and left "
                f"{', '.join(f'{n} ({after[n]})' for n in untouched)} at full width, {left / total:.1%} of "
                f"the params left; the dependency groups of {', '.join(no_bn) or 'none of them'} hold no "
                f"BatchNorm, so BNScaleImportance gives them no score")


def _group_has_bn(model, example, module) -> bool:
    """Whether torch-pruning's dependency group of `module`'s output channels contains a BatchNorm."""
    import torch
    import torch_pruning as tp

    dg = tp.DependencyGraph().build_dependency(model, example_inputs=example)
    group = dg.get_pruning_group(module, dg.get_pruner_of_module(module).prune_out_channels, idxs=[0])
    return any(isinstance(dep.target.module, torch.nn.modules.batchnorm._BatchNorm) for dep, _ in group)


# ---------------------------------------------------------------- table and plot
def fmt(x, spec):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def closest(points: list[dict], target: float) -> dict:
    """The point whose reached WSR is closest to `target` (later points win ties: the final model)."""
    return min(reversed(points), key=lambda p: abs(p["wsr"] - target))


def rows_for(curves: dict, targets) -> list[dict]:
    rows = []
    for label in ORDER:
        pts = curves.get(label)
        if not pts:
            continue
        top = max(p["wsr"] for p in pts)
        for t in targets:
            if label in ("cp", "tp-BNScalePruner"):
                cand = [p for p in pts if p.get("target_wsr") == t]
                if cand:
                    rows.append({**cand[0], "target_wsr": t})
            elif t <= top + 0.02:
                rows.append({**closest([p for p in pts if p["from"] != "round 0"], t), "target_wsr": t})
    return rows


def table(rows: list[dict], dense: dict) -> str:
    head = ("| method | target WSR | model | reached WSR | params | MACs | test Score | test − dense | "
            "dev Score | note |")
    lines = [head, "|---|---:|---|---:|---:|---:|---:|---:|---:|---|",
             f"| dense | 0 | cplr round 0 | 0.000 | {dense['params']:,} | {dense['macs']:,} | "
             f"{fmt(dense['test_score'], '.4f')} | 0 | {fmt(dense['dev_score'], '.4f')} | reference |"]
    notes: list[str] = []  # long notes once, under the table
    for r in rows:
        diff = None if r["test_score"] is None else r["test_score"] - dense["test_score"]
        note = r.get("note") or ""
        if note:
            if note not in notes:
                notes.append(note)
            note = f"[{notes.index(note) + 1}]"
        lines.append(f"| {r['method']} | {r['target_wsr']} | {r['from']} | {fmt(r['wsr'], '.3f')} | {r['params']:,} | "
                     f"{r['macs']:,} | {fmt(r['test_score'], '.4f')} | {fmt(diff, '+.4f')} | "
                     f"{fmt(r['dev_score'], '.4f')} | {note} |")
    lines += [""] + [f"[{i}] {n}" for i, n in enumerate(notes, 1)]
    return "\n".join(lines)


def plot(curves: dict, dense: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.4))
    for label in ORDER:
        pts = sorted((p["wsr"], p["test_score"]) for p in curves.get(label, [])
                     if p["test_score"] is not None and p["from"] != "round 0")
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=label,
                    ls="none" if label in ("cp", "tp-BNScalePruner") else "-")
    ax.axhline(dense["test_score"], color="grey", ls="--", lw=1, label="dense (cplr round 0)")
    ax.set_title(title)
    ax.set_xlabel("reached WSR (every round of a run; cp and the peer: one run per target)")
    ax.set_ylabel("test Score (FRR + FAR, lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench-methods")
    p.add_argument("--model", default="tv-audio")
    p.add_argument("--quick", action="store_true", help="a smoke test with tiny data instead of the recorded budget")
    p.add_argument("--methods", nargs="+", default=list(ORDER), choices=ORDER)
    p.add_argument("--targets", nargs="+", type=float, default=None,
                   help=f"target WSRs (default {' '.join(map(str, TARGETS))}; --quick 0.5 0.8)")
    p.add_argument("--jobs", type=int, default=2, help="runs at a time (each uses one torch thread)")
    p.add_argument("--peer-worker", nargs=2, metavar=("DENSE_DIR", "TARGETS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    out = Path(args.out) / args.model
    targets = args.targets or ([0.5, 0.8] if args.quick else list(TARGETS))
    if args.peer_worker:  # the peer in its own process (one torch thread), like the slim runs
        import torch

        torch.set_num_threads(1)
        peer_run(out / "peer", args.model, [float(t) for t in args.peer_worker[1].split(",")],
                 Path(args.peer_worker[0]), args.quick)
        return 0

    print(f"command: {command()}")
    print(f"{stamp()} · {args.jobs} runs at a time, one torch thread each", flush=True)
    t_start = time.perf_counter()
    jobs = []  # (label, target, cmd, run dir)
    for label in [m for m in ORDER if m in args.methods and m != "tp-BNScalePruner"]:
        if label == "cp":
            for t in targets:
                d = out / f"cp-{t}"
                jobs.append((label, t, slim_args(label, t, d, args.model, args.quick), d))
        else:
            top = min(max(targets), ITERATIVE[label][1] or 1.0)
            d = out / label
            jobs.append((label, top, slim_args(label, top, d, args.model, args.quick), d))
    if "cplr" not in args.methods:  # cplr's round 0 is the dense reference (and the peer's starting point)
        jobs.insert(0, ("cplr", max(targets), slim_args("cplr", max(targets), out / "cplr", args.model, args.quick),
                        out / "cplr"))
    for label, t, cmd, _ in jobs:
        print("  " + " ".join(cmd), flush=True)

    def work(job):
        label, t, cmd, d = job
        t0 = time.perf_counter()
        run = run_slim(cmd, d)
        print(f"done {label} (target {t}): {len(run['rounds'])} rounds, final WSR {run['final']['wsr']:.3f}, "
              f"test Score {fmt((run['final'].get('test') or {}).get('score'), '.4f')}, "
              f"{run['final'].get('total_wall_s') or time.perf_counter() - t0:.0f} s", flush=True)
        return job, run

    def peer():
        dense_dir = out / "cplr" / "round_000"
        while not (dense_dir / "metrics.json").is_file():  # the cplr job writes it early on
            time.sleep(10)
        cmd = [sys.executable, __file__, "--out", args.out, "--model", args.model, "--peer-worker", str(dense_dir),
               ",".join(map(str, targets)), *(["--quick"] if args.quick else [])]
        print("  peer: " + " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"peer failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        return [json.loads((out / "peer" / f"peer-{t}.json").read_text()) for t in targets]

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(work, j) for j in jobs]
        peer_future = pool.submit(peer) if "tp-BNScalePruner" in args.methods else None
        done = [f.result() for f in futures]
        peer_rows = peer_future.result() if peer_future else []

    curves: dict[str, list] = {}
    runs = []
    for (label, t, cmd, d), run in done:
        runs.append({"method": label, "target_wsr": t, **run})
        if label not in args.methods:
            continue
        if label == "cp":
            curves.setdefault("cp", []).append({**point("cp", run["final"], "final"), "target_wsr": t})
        else:
            curves[label] = curve(label, run)
    if peer_rows:
        curves["tp-BNScalePruner"] = peer_rows
    cplr_run = next(r for r in runs if r["method"] == "cplr")
    dense = point("dense", cplr_run["rounds"][0], "round 0")
    rows = rows_for(curves, targets)
    own0 = {label: pts[0] for label, pts in curves.items() if pts and pts[0]["from"] == "round 0"}
    text = table(rows, dense)
    text += "\n\nown round 0 (each run's dense model): " + ", ".join(
        f"{k} {fmt(v['test_score'], '.4f')}" for k, v in own0.items())
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"dense": dense, "rows": rows, "curves": curves, "runs": runs},
                                                 indent=2))
    (out / "table.md").write_text(text + "\n")
    plot(curves, dense, out / "methods.png", f"{args.model} on synth, `edgeprune slim` defaults")
    print(f"load {os.getloadavg()[0]:.1f} at end; total {(time.perf_counter() - t_start) / 60:.1f} min\n")
    print(f"{args.model}, seed 0; dense = round 0 of the cplr run; test − dense: test Score minus the dense one.\n"
          "cplr, lth-if, lth, cplr-l1: ONE run each to its highest target; a row is the round of that run whose "
          "reached WSR is closest\nto the target (each round is retrained and evaluated; the last row is the "
          "run's final model, after cplr's fine-tune).\ncp and tp-BNScalePruner (the peer) are one-shot: one "
          "cut + fine-tune per target.\n")
    print(text)
    print(f"\nwrote {out}/results.json, table.md, methods.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
