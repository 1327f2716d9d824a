"""Train tv-audio and tv-av from scratch on `synth` with the papers' defaults; print test Score and FAR per SNR.

    python benchmarks/train_baseline.py                       # default synth sizes, spec defaults
    python benchmarks/train_baseline.py --models tv-audio --train 200 --epochs 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time


def _fmt(x) -> str:
    return "  nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:5.1f}"


def run_one(name: str, args) -> dict:
    from edgeprune import models
    from edgeprune.data import open_data
    from edgeprune.train import TrainConfig, Trainer

    spec = models.spec(name)
    sizes = {k: v for k, v in (("train", args.train), ("dev", args.dev), ("test", args.test)) if v is not None}
    data = open_data("synth", inputs=spec.inputs, lip_size=spec.lip_size or 88, seed=args.seed, cache_dir=args.cache_dir, **sizes)
    model = models.build(name)
    cfg = TrainConfig.for_model(spec, epochs=args.epochs, seed=args.seed, device=args.device, patience=args.patience)
    trainer = Trainer(model, data, spec.inputs, spec.task, cfg)
    start = time.perf_counter()
    fit = trainer.fit(desc=name)
    res = trainer.evaluate("test")
    return {
        "model": name,
        "params": sum(p.numel() for p in model.parameters()),
        "sizes": {"train": len(data.train), "dev": len(data.dev), "test": len(data.test)},
        "config": cfg.to_dict(),
        "fit": fit.to_dict(),
        "train_seconds": time.perf_counter() - start,
        "test": res,
    }


def print_table(rows: list[dict]) -> None:
    print(f"{'model':10} {'params':>9} {'ep':>3} {'Score%':>7} {'FRR%':>6} {'FAR%':>6} {'FAR@FRR%':>9}  per SNR: FAR% (Score%)")
    for r in rows:
        t = r["test"]
        snr = "  ".join(
            f"{k:>5} dB {_fmt(v['far'])} ({_fmt(v['score'])})"
            for k, v in sorted(t["per_snr"].items(), key=lambda kv: float("inf") if isinstance(kv[0], str) else kv[0])
        )
        print(
            f"{r['model']:10} {r['params']:>9} {r['fit']['epochs_run']:>3} {_fmt(t['score']):>7} {_fmt(t['frr']):>6}"
            f" {_fmt(t['far']):>6} {_fmt(t['far_at_frr']):>9}  {snr}"
        )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["tv-audio", "tv-av"], help="zoo models to train")
    p.add_argument("--train", type=int, default=None, help="synth training clips (default: synth's default)")
    p.add_argument("--dev", type=int, default=None, help="synth dev clips")
    p.add_argument("--test", type=int, default=None, help="synth test clips (each at every test SNR)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the model's paper default)")
    p.add_argument("--patience", type=int, default=3, help="early-stopping patience on dev loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--cache-dir", default=None, help="where synth caches its corpus")
    p.add_argument("--json", default=None, help="write all results to this JSON file")
    args = p.parse_args(argv)
    rows = []
    for name in args.models:
        rows.append(run_one(name, args))
        print_table(rows[-1:])
        sys.stdout.flush()
    print()
    print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
