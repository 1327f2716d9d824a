"""Hold the dense network against a logistic regression on pooled FBank statistics, on any data spec.

Trains each --model with the project's recipe (TrainConfig.for_model + the slim config's defaults for the
data, e.g. its synth recipe), fits edgeprune.baseline on the same bundle, and prints a Markdown report:
test Score of both and their ratio (the network should beat the baseline by at least half its Score), and
FAR per SNR at 1-FRR = 98.78 % next to seed 001's Table 1.

    python benchmarks/train_baseline.py                                   # tv-audio on synth
    python benchmarks/train_baseline.py --data folder:/data/tv --model tv-audio --json r.json --plot r.png
    python benchmarks/train_baseline.py --data-size 200 --epochs 2        # a quick smoke run
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from provenance import git_sha

# Seed 001 (ICASSP 2022, Zhou et al.) Table 1: test FAR (%) at 1-FRR = 98.78 %, per SNR (dB).
PAPER_TABLE1 = {
    "Audio": {-5.0: 8.03, 0.0: 2.95, 5.0: 1.60},
    "Video": {-5.0: 6.92, 0.0: 6.92, 5.0: 6.92},
    "Audio-visual": {-5.0: 3.25, 0.0: 1.06, 5.0: 0.56},
}
PAPER_ROW = {"tv-audio": "Audio", "tv-video": "Video", "tv-av": "Audio-visual"}


def run_model(name: str, args) -> dict:
    from edgeprune import models
    from edgeprune.baseline import fit_baseline
    from edgeprune.data import open_data
    from edgeprune.methods.config import SlimConfig
    from edgeprune.train import TrainConfig, Trainer

    spec = models.spec(name)
    slim = SlimConfig(model=name, data=args.data, seed=args.seed, epochs=args.epochs, device=args.device)
    slim = slim.resolve(spec.defaults)
    n = args.data_size
    sizes = {} if n is None else {"train": n, "dev": max(-(-n // 3), 10), "test": max(-(-n // 3), 10)}
    inputs = tuple(dict.fromkeys((*spec.inputs, "fbank")))  # the baseline needs fbank even for a lips-only model
    data = open_data(args.data, inputs=inputs, lip_size=spec.lip_size or 88, seed=args.seed, **sizes)
    start = time.perf_counter()
    baseline = fit_baseline(data)
    baseline_s = time.perf_counter() - start
    model = models.build(name, **args.model_cfg)
    cfg = TrainConfig.for_model(spec, **{**dict(epochs=slim.epochs, lr=slim.lr, batch_size=slim.batch_size,
                                                patience=slim.patience, seed=slim.seed, device=slim.device),
                                         **args.train})
    trainer = Trainer(model, data, spec.inputs, spec.task, cfg)
    start = time.perf_counter()
    fit = trainer.fit(desc=name)
    train_s = time.perf_counter() - start
    dense = trainer.evaluate("test")
    if args.save_dir:  # as slim's rounds do: data spec, training feature stats, dev threshold (for `edgeprune eval`)
        import edgeprune

        edgeprune.save(model, Path(args.save_dir) / f"{name}.safetensors", data=args.data, feature_stats=data.stats,
                       threshold=dense["threshold"], method="dense")
    return {
        "model": name,
        "params": sum(p.numel() for p in model.parameters()),
        "model_cfg": args.model_cfg,
        "sizes": {"train": len(data.train), "dev": len(data.dev), "test": len(data.test)},
        "train_config": cfg.to_dict(),
        "fit": {k: v for k, v in fit.to_dict().items() if k != "history"},
        "train_seconds": train_s,
        "dense": dense,
        "baseline": baseline,
        "baseline_seconds": baseline_s,
    }


def _label(r: dict) -> str:
    """The model's name, with its config overrides when there are any."""
    return r["model"] + (f" {json.dumps(r['model_cfg'])}" if r.get("model_cfg") else "")


def _pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def header(argv) -> list[str]:
    import torch

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return [
        f"- command: `python benchmarks/train_baseline.py {shlex.join(argv)}`",
        f"- git: {git_sha()}; date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads); load average {load}",
    ]


def score_table(rows: list[dict]) -> list[str]:
    out = ["| model | data (train/dev/test) | params | epochs (best) | dense test Score | LR test Score | dense / LR | "
           "beats LR by half? | dense FRR / FAR % | LR FRR / FAR % | train s |",
           "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        d, b, s = r["dense"], r["baseline"], r["sizes"]
        ratio = d["score"] / b["score"] if b["score"] > 0 else math.inf
        out.append(
            f"| {_label(r)} | {s['train']}/{s['dev']}/{s['test']} | {r['params']:,} | {r['fit']['epochs_run']} "
            f"({r['fit']['best_epoch']}) | {d['score']:.3f} | {b['score']:.3f} (C={b['C']:g}) | {ratio:.2f} | "
            f"{'yes' if ratio <= 0.5 else 'no'} | {_pct(d['frr'])} / {_pct(d['far'])} | "
            f"{_pct(b['frr'])} / {_pct(b['far'])} | {r['train_seconds']:.0f} |")
    return out


def _snrs(rows) -> list:
    keys = {-5.0, 0.0, 5.0}
    for r in rows:
        for res in (r["dense"], r["baseline"]):
            keys |= {k for k in res["per_snr"] if isinstance(k, float) and math.isfinite(k)}
    return sorted(keys)


def far_table(rows: list[dict]) -> list[str]:
    snrs = _snrs(rows)
    out = ["| system | " + " | ".join(f"FAR % at {s:+g} dB" for s in snrs) + " |",
           "|---|" + "---:|" * len(snrs)]
    for label, far in PAPER_TABLE1.items():
        cells = [f"{far[s]:.2f}" if s in far else "-" for s in snrs]
        out.append(f"| seed 001 Table 1: {label} | " + " | ".join(cells) + " |")
    for r in rows:
        for what, res in (("dense", r["dense"]), ("logistic regression", r["baseline"])):
            per = res["per_snr"]
            cells = [_pct(per[s].get("far_at_frr")) if s in per else "-" for s in snrs]
            out.append(f"| ours: {r['model']} {what} | " + " | ".join(cells) + " |")
    return out


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    snrs = _snrs(rows)
    series = [(f"paper {k}", [v.get(s, np.nan) for s in snrs]) for k, v in PAPER_TABLE1.items()]
    for r in rows:
        for what, res in (("dense", r["dense"]), ("LR", r["baseline"])):
            far = [100 * res["per_snr"].get(s, {}).get("far_at_frr", np.nan) for s in snrs]
            series.append((f"{r['model']} {what}", far))
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series):
        ax.bar(np.arange(len(snrs)) + i * width - 0.4 + width / 2, values, width, label=label)
    ax.set_xticks(np.arange(len(snrs)), [f"{s:+g} dB" for s in snrs])
    ax.set_ylabel("FAR % at 1-FRR = 98.78 %")
    ax.set_title("Test FAR per SNR: seed 001 Table 1 vs this run")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="synth", help="data SPEC: synth, folder:PATH or misp2021:PATH")
    p.add_argument("--model", "--models", dest="model", nargs="+", default=["tv-audio"],
                   help="zoo model(s) to train (tv-av and tv-video need a GPU at the default sizes)")
    p.add_argument("--data-size", type=int, default=None, help="synth: training clips, dev and test a third each")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs (default: the slim config's)")
    p.add_argument("--model-cfg", type=json.loads, default={}, help="zoo model config overrides as JSON, as slim's")
    p.add_argument("--train", type=json.loads, default={}, help="TrainConfig fields as JSON, over the recipe's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="write all results to this JSON file (NaN as null)")
    p.add_argument("--plot", default=None, help="write a PNG of FAR per SNR next to seed 001's Table 1")
    p.add_argument("--save-dir", default=None, help="save each trained dense model here as MODEL.safetensors "
                   "(with data spec, feature stats and dev threshold, ready for `edgeprune eval`)")
    args = p.parse_args(argv)
    from edgeprune.errors import EdgepruneError

    try:
        rows = [run_model(name, args) for name in args.model]
    except EdgepruneError as exc:
        print(f"train_baseline: error: {exc}", file=sys.stderr)
        return 2
    lines = ["## Dense network vs logistic-regression baseline", "", *header(argv), "",
             *score_table(rows), "", "FAR at 1-FRR = 98.78 % (each SNR's operating point set on its own test clips, as the paper reports):",
             "", *far_table(rows)]
    print("\n".join(lines))
    if args.json:
        from edgeprune.atomic import write_json

        write_json(Path(args.json), _jsonable({"argv": argv, "git": git_sha(), "rows": rows}), allow_nan=False)
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
