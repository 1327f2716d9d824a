"""onnxruntime's depthwise conv against its width: one 3x3 depthwise Conv (groups = channels) timed alone, one
thread, thread-CPU clock (min of --runs), at widths on and off multiples of 4 and 16 (issue 11: why pruned
MobileNetV2 models got slower than dense).

    python benchmarks/depthwise.py                       # 32 x C x 22 x 22, C = 96 ... 47
    python benchmarks/depthwise.py --hw 44 --widths 32 31 30 28
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from provenance import stamp


def depthwise_ms(channels: int, batch: int, hw: int, runs: int) -> float:
    from edgeprune.latency.nodes import conv_model, session

    blob = conv_model({"in": channels, "out": channels, "kernel": [3, 3], "group": channels, "strides": [1, 1],
                       "pads": [1, 1, 1, 1], "dilations": [1, 1], "bias": True}, batch, [hw, hw])
    sess = session(blob, 1)
    arg = sess.get_inputs()[0]
    x = np.random.default_rng(0).standard_normal(arg.shape).astype(np.float32)
    sess.run(None, {arg.name: x})
    best = float("inf")
    for _ in range(runs):
        t0 = time.thread_time()
        sess.run(None, {arg.name: x})
        best = min(best, time.thread_time() - t0)
    return best * 1e3


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--widths", nargs="+", type=int, default=[96, 95, 94, 92, 88, 80, 64, 63, 60, 57, 48, 47])
    p.add_argument("--batch", type=int, default=32, help="frames per clip (tv-video: 32 lip frames)")
    p.add_argument("--hw", type=int, default=22)
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args(argv)
    print(f"{stamp()}\n3x3 depthwise conv, {args.batch} x C x {args.hw} x {args.hw}, onnxruntime, 1 thread, "
          f"thread-CPU min of {args.runs}\n")
    times = {c: depthwise_ms(c, args.batch, args.hw, args.runs) for c in args.widths}
    print("| C | C mod 4 | ms | x the next multiple of 4 above or at C |\n|---:|---:|---:|---:|")
    for c, ms in times.items():
        up = 4 * -(-c // 4)
        ref = times.get(up)
        print(f"| {c} | {c % 4} | {ms:.3f} | {'' if ref is None else f'{ms / ref:.2f}'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
