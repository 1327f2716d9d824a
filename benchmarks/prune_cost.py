"""Cost of one 30 % pruning step per zoo model, in forward passes of that model, beside torch-pruning alone.

Run: `python benchmarks/prune_cost.py [--frames 128 --lip-frames 32 --repeat 3]` (one thread). Prints the
command, date, machine and load, then per model: one forward (s); the pruner's analysis (trace, groups,
probe) once per model; a 30 % step with verify on and off (the analysis already done, as in every step of
an iterative method); torch-pruning 1.6.1 alone (graph build + one global 30 % L2 step); and the ratio of
the verified step to torch-pruning. Each run is timed against a forward measured just before it (the
machine's load drifts); figures are medians of --repeat runs. Timings are for reading, never for pass/fail.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import shlex
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch_pruning as tp

from edgeprune import models
from edgeprune.pruning import ChannelPruner
from edgeprune.pruning.layers import LSTM_PRUNER


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _forward_seconds(model, x, repeat: int) -> float:
    model.eval()
    with torch.no_grad():
        model(*x)  # warm-up
        return _median_time(lambda: model(*x), max(5, repeat))


def _trained_like(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = models.build(name)
    for m in model.modules():  # trained-like gammas: untrained ones all tie at 1.0
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.uniform_(m.weight, 0.1, 1.0)
    return model.eval()


def _torch_pruning_step(model, x) -> None:
    """torch-pruning alone: graph build and one global 30 % L2 step (our LSTM pruner: its own crashes)."""
    out_layers = [m for m in model.modules() if isinstance(m, nn.Linear)][-1:]
    pruner = tp.pruner.MetaPruner(model, x, importance=tp.importance.MagnitudeImportance(p=2), pruning_ratio=0.3,
                                  global_pruning=True, ignored_layers=out_layers,
                                  customized_pruners={nn.LSTM: LSTM_PRUNER})
    pruner.step()


def _fresh_forward(dense, x) -> float:
    """One forward of the dense model right before a measured run (median of 3), so load drifts cancel."""
    return _forward_seconds(dense, x, 3)


def _tp_ratio(dense, x, repeat: int) -> float:
    ratios = []
    for _ in range(repeat):
        model, fwd = copy.deepcopy(dense), _fresh_forward(dense, x)
        t = time.perf_counter()
        _torch_pruning_step(model, x)
        ratios.append((time.perf_counter() - t) / fwd)
    return statistics.median(ratios)


def _edgeprune_ratios(dense, x, verify: bool, repeat: int) -> tuple[float, float]:
    """(analysis, step) in forward passes: medians over fresh copies, each timed against a fresh forward."""
    analysis, step = [], []
    for _ in range(repeat):
        model, fwd = copy.deepcopy(dense), _fresh_forward(dense, x)
        t0 = time.perf_counter()
        pruner = ChannelPruner(model, x, importance="l2", verify=verify)
        t1 = time.perf_counter()
        pruner.prune(0.3)
        t2 = time.perf_counter()
        analysis.append((t1 - t0) / fwd)
        step.append((t2 - t1) / fwd)
    return statistics.median(analysis), statistics.median(step)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=128, help="fbank frames (1.3 s clip)")
    ap.add_argument("--lip-frames", type=int, default=32, help="lip frames (1.3 s at 25 fps)")
    ap.add_argument("--models", nargs="*", default=["misp-audio", "misp-video", "tv-av", "tv-video"],
                    help="zoo names")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"$ python {' '.join(shlex.quote(a) for a in sys.argv)}")
    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} CPUs, load {' '.join(f'{v:.1f}' for v in os.getloadavg())}, torch {torch.__version__}, "
          f"torch-pruning {tp.__version__}, 1 thread")
    print(f"{'model':<12} {'forward s':>9} {'analysis':>9} {'step on':>8} {'step off':>9} {'tp alone':>9} "
          f"{'on/tp':>6}   (all but forward s in forward passes)")
    for name in args.models:
        dense = _trained_like(name)
        x = models.example_inputs(name, batch=1, frames=args.frames, lip_frames=args.lip_frames)
        fwd = _forward_seconds(dense, x, args.repeat)
        analysis, on = _edgeprune_ratios(dense, x, True, args.repeat)
        _, off = _edgeprune_ratios(dense, x, False, args.repeat)
        try:
            tp_r = _tp_ratio(dense, x, args.repeat)
            tp_col, ratio = f"{tp_r:>9.1f}", f"{on / tp_r:>6.2f}"
        except Exception as exc:  # noqa: BLE001 - the baseline library may fail on a model; say so
            tp_col, ratio = f"{'fails':>9}", f"{'-':>6}"
            print(f"# torch-pruning on {name}: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
        print(f"{name:<12} {fwd:>9.4f} {analysis:>9.1f} {on:>8.2f} {off:>9.2f} {tp_col} {ratio}", flush=True)


if __name__ == "__main__":
    main()
