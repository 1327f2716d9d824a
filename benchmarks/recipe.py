"""Which parts of the training recipe make tv-audio a working detector: one table from one run.

Trains the dense tv-audio model on the synth corpus under several recipes (the old one: max pooling, no
augmentation, constant rate, early stop on dev loss; then one change at a time up to today's defaults) and
prints test Score, Score per SNR and FAR at 1-FRR = 98.78 % next to the logistic-regression baseline on pooled
FBank statistics, with the command, git SHA, date, machine and load.

    python benchmarks/recipe.py                 # every variant, 12 epochs each (~10 min on 2 cores)
    python benchmarks/recipe.py --variants old,default --epochs 6
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from provenance import command, stamp

os.environ.setdefault("EDGEPRUNE_NO_PROGRESS", "1")

OLD = dict(pool="max", augment=False, schedule="constant", warmup_epochs=0, select="loss", optimizer="adam",
           weight_decay=0.0, grad_clip=0.0)
# name -> (model cfg, TrainConfig overrides, training clips)
VARIANTS = {
    "old": ({"pool": "max"}, {k: v for k, v in OLD.items() if k != "pool"}, 2000),
    "old+lse": ({"pool": "lse"}, {k: v for k, v in OLD.items() if k != "pool"}, 2000),
    "default@2000": ({}, {}, 2000),
    "default-no-aug": ({}, {"augment": False}, 6000),
    "default-noise-only": ({}, {"aug_shift_s": 0.0, "aug_gain_db": 0.0, "aug_time_masks": 0, "aug_freq_masks": 0}, 6000),
    "default-no-masks": ({}, {"aug_time_masks": 0, "aug_freq_masks": 0}, 6000),
    "default": ({}, {}, 6000),
}


def _train(name: str, epochs: int, seed: int) -> dict:
    import torch

    from edgeprune import models
    from edgeprune.data import open_data
    from edgeprune.methods.config import SYNTH_RECIPE
    from edgeprune.train import TrainConfig, Trainer

    model_cfg, overrides, n_train = VARIANTS[name]
    data = open_data("synth", inputs=("fbank",), seed=0, train=n_train)
    torch.manual_seed(seed)
    model = models.build("tv-audio", **model_cfg)
    cfg = TrainConfig.for_model(models.spec("tv-audio"), lr=SYNTH_RECIPE["lr"], batch_size=SYNTH_RECIPE["batch_size"],
                                epochs=epochs, patience=0, seed=seed, progress=False, **overrides)
    trainer = Trainer(model, data, ("fbank",), "binary", cfg)
    t0 = time.perf_counter()
    fit = trainer.fit()
    test = trainer.evaluate("test")
    train = trainer._summary("train")
    return {"variant": name, "train_clips": n_train, "best_epoch": fit.best_epoch, "test_score": test["score"],
            "per_snr": {k: v["score"] for k, v in test["per_snr"].items()},
            "far_at_frr": {k: v.get("far_at_frr") for k, v in test["per_snr"].items()},
            "train_score": train["train_score"], "seconds": time.perf_counter() - t0}


def _baseline() -> dict:
    from edgeprune.baseline import fit_baseline
    from edgeprune.data import open_data

    res = fit_baseline(open_data("synth", inputs=("fbank",), seed=0))
    return {"variant": "logistic regression", "train_clips": 6000, "test_score": res["score"],
            "train_score": res["train_score"],
            "per_snr": {k: v["score"] for k, v in res["per_snr"].items()},
            "far_at_frr": {k: v.get("far_at_frr") for k, v in res["per_snr"].items()}}


def _fmt(v, pct=False) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:.1f}" if pct else f"{v:.3f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of " + ", ".join(VARIANTS))
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: the small model gains nothing from more)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant {unknown[0]!r}")
    import torch

    torch.set_num_threads(args.threads)
    print(f"command: {command()}")
    print(stamp())
    rows = [_baseline()] + [_train(n, args.epochs, args.seed) for n in names]
    print(f"load {os.getloadavg()[0]:.1f} at end\n")
    print("| recipe | train clips | test Score | Score -5/0/5 dB | FAR % at 1-FRR=98.78 % (-5/0/5 dB) | train Score | best epoch | s |")
    print("|---|---:|---:|---|---|---:|---:|---:|")
    for r in rows:
        snr = sorted(r["per_snr"], key=float)
        seconds = f"{r['seconds']:.0f}" if "seconds" in r else ""
        print(f"| {r['variant']} | {r['train_clips']} | {_fmt(r['test_score'])} | "
              f"{' / '.join(_fmt(r['per_snr'][k]) for k in snr)} | "
              f"{' / '.join(_fmt(r['far_at_frr'][k], pct=True) for k in snr)} | {_fmt(r.get('train_score'))} | "
              f"{r.get('best_epoch', '')} | {seconds} |")
    if args.json:
        from edgeprune.atomic import write_json

        write_json(args.json, {"epochs": args.epochs, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
