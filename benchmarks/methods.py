"""Benchmark of the pruning methods on the built-in synth data: CP, LTH, LTH-IF and CPLR at several target
WSRs (Score and params in one table and one plot), torch-pruning's own BNScalePruner one-shot pipeline as
the peer, and CPLR with --residual couple vs skip on a ResNet model (misp-video, budget-sized data).

    python benchmarks/methods.py --out runs/bench-methods            # the recorded budget (~20 min, 2 cores)
    python benchmarks/methods.py --out /tmp/bench --quick            # a smoke test (minutes)

Every slim run is an ordinary resumable run directory under --out, so an interrupted benchmark re-run
continues where it stopped. Results: OUT/results.json, OUT/table.md, OUT/methods.png.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

METHODS = ("cp", "lth", "lth-if", "cplr")
# Rows beyond the four methods' defaults: CPLR ranking by filter L1 norm, which (unlike BN scale) also ranks
# the LSTM and FC groups, so it can go past the WSR cap of BN-only ranking.
VARIANTS = {"cplr-l1": dict(method="cplr", importance="l1")}


def budgets(quick: bool) -> dict:
    """Settings per part. The papers' learning rates (1e-4, 2e-4) barely move these models in a few epochs
    on synth, so the benchmark trains at 1e-3 with few epochs; every method gets the same per-fit budget."""
    if quick:
        return {
            "tv-audio": dict(targets=(0.5, 0.8), common=dict(epochs=1, lr=1e-3, data_size=90, first_epochs=1),
                             per_round={"lth-if": 0.15}),
            "misp-audio": dict(targets=(0.5,), common=dict(epochs=1, lr=1e-3, data_size=60, first_epochs=1),
                               per_round={"lth-if": 0.2}),
            "residual": dict(model="misp-video", target=0.3, common=dict(epochs=1, lr=1e-3, data_size=12,
                                                                         batch_size=4, per_round=0.3)),
        }
    small = budgets(True)
    return {
        "tv-audio": dict(targets=(0.5, 0.7, 0.8, 0.9), common=dict(epochs=3, lr=1e-3, first_epochs=3),
                         per_round={}),
        # the 2.68 M-param MISP audio model and the 13 M-param ResNet-18 video model get the smoke budget
        # so that the whole benchmark stays under 25 minutes on 2 shared cores
        "misp-audio": small["misp-audio"],
        "residual": small["residual"],
    }


def _short_of_target(model, params: int, dense: int, ratio: float) -> str:
    """What was measured when the peer fell short (not a guessed cause): where it stopped, at which channel
    ratio, and how much of what is left sits in layers that BN-scale importance cannot rank (no BatchNorm)."""
    import torch

    no_bn = sum(p.numel() for m in model.modules() if isinstance(m, (torch.nn.LSTM, torch.nn.GRU, torch.nn.Linear))
                for p in m.parameters(recurse=False))
    return (f"stopped at WSR {1 - params / dense:.3f} (pruning_ratio {ratio:.2f}); {no_bn / params:.0%} of the "
            f"params left are in LSTM/GRU/Linear layers, which have no BatchNorm scale to rank")


# ---------------------------------------------------------------- our methods
def slim(out: Path, **kw) -> dict:
    from edgeprune.methods import run
    from edgeprune.methods.config import SlimConfig

    t0 = time.perf_counter()
    res = run(SlimConfig(out=str(out), progress=False, **kw))
    m = res["final"]
    wall = m.get("total_wall_s") or time.perf_counter() - t0  # the run's own time, also when it was cached
    return row(kw["method"], kw["model"], kw["target_wsr"], m, wall, str(out),
               residual=kw.get("residual", "skip"), stop=m.get("stop_reason"))


def row(method, model, target, m, wall, where, **extra) -> dict:
    test = m.get("test") or {}
    return {"method": method, "model": model, "target_wsr": target, "wsr": m["wsr"], "params": m["params"],
            "macs": m["macs"], "params_dense": m["params_dense"], "test_score": test.get("score"),
            "dev_score": (m.get("dev") or {}).get("score"), "far_at_frr": test.get("far_at_frr"),
            "wall_s": wall, "run": where, **extra}


# ---------------------------------------------------------------- the peer
def peer_bnscale(out: Path, model_name: str, target: float, common: dict, seed: int = 0) -> dict:
    """torch-pruning's own pipeline: sparse training (same L1 and budget as cp), BNScalePruner one-shot
    global cut (pruning ratio searched so that the params cut equals the target), fine-tune at lr/10."""
    import torch
    import torch_pruning as tp

    from edgeprune import count
    from edgeprune.methods.config import SlimConfig
    from edgeprune.methods.context import Context, resolve
    from edgeprune.methods.seeding import seed_step

    done = out / "peer.json"
    if done.is_file():
        return json.loads(done.read_text())
    t0 = time.perf_counter()
    cfg = resolve(SlimConfig(method="cp", model=model_name, target_wsr=target, out=str(out), progress=False,
                             seed=seed, **{k: v for k, v in common.items() if k != "first_epochs"}))
    ctx = Context(cfg)
    seed_step(seed, 0)
    model = ctx.build()
    ctx.fit(model, 0, epochs=cfg.epochs, lr=cfg.lr, l1_bn=cfg.l1, desc="peer sparse train")
    dense = count(model, ctx.example).params
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]

    def cut(net, ratio):
        imp = tp.importance.BNScaleImportance(normalizer=None)  # PITFALLS 7
        pr = tp.pruner.BNScalePruner(net, ctx.example, importance=imp, global_pruning=True, pruning_ratio=ratio,
                                     ignored_layers=[_same(net, model, last)])
        pr.step()
        return net

    lo, hi = 0.0, 0.99
    failures = []
    for _ in range(14):  # pruning_ratio is a channel share; search the one that removes `target` of params
        mid = (lo + hi) / 2
        try:
            trial = cut(copy.deepcopy(model), mid)
            wsr = 1 - count(trial, ctx.example).params / dense
        except Exception as exc:  # the peer may fail beyond some ratio: search lower, remember why
            wsr = math.inf
            failures.append(f"ratio {mid:.3f}: {type(exc).__name__}: {exc}".splitlines()[0][:160])
        if wsr < target:
            lo = mid
        else:
            hi = mid
    error = None
    try:
        cut(model, hi)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:200]
    result_params = count(model, ctx.example).params
    if error is None and 1 - result_params / dense < target - 0.02:
        error = failures[0] if failures else _short_of_target(model, result_params, dense, hi)
    seed_step(seed, "final")
    if error is None:
        ctx.fit(model, "final", epochs=cfg.finetune_epochs, lr=cfg.finetune_lr, desc="peer fine-tune")
    trainer = ctx.trainer(model, "final")
    test, dev = trainer.evaluate("test"), trainer.evaluate("dev")
    m = {"wsr": 1 - result_params / ctx.dense_params, "params": result_params,
         "macs": count(model, ctx.example).macs, "params_dense": ctx.dense_params, "test": test, "dev": dev}
    r = row("tp-BNScalePruner", model_name, target, m, time.perf_counter() - t0, str(out), ratio=hi, error=error)
    out.mkdir(parents=True, exist_ok=True)
    done.write_text(json.dumps(r, indent=2))
    return r


def _same(net, original, module):
    """The module of `net` at the position `module` has in `original` (deepcopies keep names)."""
    name = next(n for n, m in original.named_modules() if m is module)
    return dict(net.named_modules())[name]


# ---------------------------------------------------------------- table and plot
def fmt(x, spec):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def table(rows: list[dict]) -> str:
    head = "| model | method | target WSR | reached WSR | params | MACs | test Score | dev Score | wall s | note |"
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        note = r.get("error") or (r.get("stop") if r.get("stop") not in (None, "target WSR reached") else "")
        if r.get("residual") and r["method"] == "cplr" and r["model"] == "misp-video":
            note = f"--residual {r['residual']}" + (f"; {note}" if note else "")
        lines.append(f"| {r['model']} | {r['method']} | {r['target_wsr']} | {fmt(r['wsr'], '.3f')} | "
                     f"{r['params']:,} | {r['macs']:,} | {fmt(r['test_score'], '.4f')} | {fmt(r['dev_score'], '.4f')} | "
                     f"{fmt(r['wall_s'], '.0f')} | {note} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model_names = [m for m in ("tv-audio", "misp-audio") if any(r["model"] == m for r in rows)]
    fig, axes = plt.subplots(1, len(model_names), figsize=(6 * len(model_names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], model_names):
        for method in (*METHODS, *VARIANTS, "tp-BNScalePruner"):
            pts = sorted((r["wsr"], r["test_score"]) for r in rows
                         if r["model"] == name and r["method"] == method and r["test_score"] is not None)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=method)
        ax.set_title(f"{name} on synth")
        ax.set_xlabel("reached WSR")
        ax.set_ylabel("test Score (FRR + FAR)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench-methods")
    p.add_argument("--quick", action="store_true", help="a few-minute smoke test instead of the recorded budget")
    p.add_argument("--parts", default="tv-audio,peer,misp-audio,residual",
                   help="comma list of tv-audio, peer, misp-audio, residual")
    args = p.parse_args(argv)
    out = Path(args.out)
    parts = set(args.parts.split(","))
    b = budgets(args.quick)
    rows = []
    t_start = time.perf_counter()
    for model in ("tv-audio", "misp-audio"):
        if model not in parts:
            continue
        spec = b[model]
        for target in spec["targets"]:
            for label in (*METHODS, *VARIANTS):
                kw = dict(spec["common"], model=model, target_wsr=target, **VARIANTS.get(label, {"method": label}))
                if label in spec["per_round"]:
                    kw["per_round"] = spec["per_round"][label]
                r = slim(out / model / f"{label}-{target}", **kw)
                r["method"] = label
                rows.append(r)
                print(f"{model} {label} target {target}: WSR {r['wsr']:.3f} params {r['params']:,} "
                      f"test Score {fmt(r['test_score'], '.4f')} ({r['wall_s']:.0f} s)", flush=True)
            if "peer" in parts and model == "tv-audio":
                r = peer_bnscale(out / model / f"peer-{target}", model, target, spec["common"])
                rows.append(r)
                print(f"{model} peer target {target}: WSR {r['wsr']:.3f} test Score {fmt(r['test_score'], '.4f')}",
                      flush=True)
    if "residual" in parts:
        spec = b["residual"]
        for residual in ("skip", "couple"):
            kw = dict(spec["common"], method="cplr", model=spec["model"], target_wsr=spec["target"], residual=residual)
            r = slim(out / spec["model"] / f"cplr-{residual}", **kw)
            rows.append(r)
            print(f"{spec['model']} cplr --residual {residual}: WSR {r['wsr']:.3f} params {r['params']:,} "
                  f"test Score {fmt(r['test_score'], '.4f')} ({r['wall_s']:.0f} s)", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    (out / "table.md").write_text(table(rows) + "\n")
    plot(rows, out / "methods.png")
    print(table(rows))
    print(f"total {time.perf_counter() - t_start:.0f} s; wrote {out}/results.json, table.md, methods.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
