"""Cost of pruning each zoo model: graph build + analysis and a 30 % prune, as ratios to one forward pass.

Run: `OMP_NUM_THREADS=1 python benchmarks/prune_cost.py [--frames 128 --lip-frames 32]`. One run, one table;
timings are for reading, never for pass/fail.
"""

from __future__ import annotations

import argparse
import time

import torch

from edgeprune import models
from edgeprune.pruning import ChannelPruner


def _forward_seconds(model, x) -> float:
    model.eval()
    with torch.no_grad():
        model(*x)  # warm-up
        t = time.perf_counter()
        model(*x)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=128, help="fbank frames (1.3 s clip)")
    ap.add_argument("--lip-frames", type=int, default=32, help="lip frames (1.3 s at 25 fps)")
    ap.add_argument("--models", nargs="*", default=None, help="zoo names (default: all)")
    args = ap.parse_args()
    print(f"{'model':<14} {'forward s':>10} {'build/fwd':>10} {'prune/fwd':>10} {'verify':>9} {'params cut':>10}")
    for name in args.models or models.names():
        torch.manual_seed(0)
        model = models.build(name)
        for m in model.modules():  # trained-like gammas: untrained ones all tie at 1.0
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                torch.nn.init.uniform_(m.weight, 0.1, 1.0)
        x = models.example_inputs(name, batch=1, frames=args.frames, lip_frames=args.lip_frames)
        fwd = _forward_seconds(model, x)
        t0 = time.perf_counter()
        pruner = ChannelPruner(model, x, importance="l2")
        t1 = time.perf_counter()
        report = pruner.prune(0.3)
        t2 = time.perf_counter()
        print(f"{name:<14} {fwd:>10.4f} {(t1 - t0) / fwd:>10.1f} {(t2 - t1) / fwd:>10.1f} "
              f"{report.max_diff:>9.1e} {report.achieved:>10.3f}")


if __name__ == "__main__":
    main()
