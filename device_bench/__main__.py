"""`python -m device_bench` (or edgeprune.device_bench): measure models on this machine, print a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from .errors import BenchError, NoRuntimeError


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (exit 2), like every other error of device_bench."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="device_bench",
        description="Latency and memory of ONNX/TFLite models on this machine (needs numpy and one runtime).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help=".onnx or .tflite files, measured interleaved")
    p.add_argument("--runtime", default="auto", choices=("auto", "ort", "litert", "tflite-runtime"),
                   help="auto: ort for .onnx; litert, else tflite-runtime, for .tflite")
    p.add_argument("--threads", default="1", help="intra-op threads: a number (at most 4 per core), or 'all' for "
                   "the usable cores")
    p.add_argument("--warmup", type=int, default=10, help="warm-up runs per model, not in the statistics")
    p.add_argument("--min-runs", type=int, default=50, help="at least this many timed runs per model")
    p.add_argument("--min-seconds", type=float, default=2.0, help="and at least this much timed run time per model")
    p.add_argument("--max-seconds", type=float, default=120.0,
                   help="stop warm-up and timed runs this long after the start, whatever is left (each model "
                        "keeps one timed run)")
    p.add_argument("--block", type=int, default=10,
                   help="runs per round of the model that needs the most; the others run their own share")
    p.add_argument("--shape", action="append", metavar="NAME=D0,D1,...",
                   help="concrete shape for an input with dynamic axes (dynamic axes default to 1)")
    p.add_argument("--clock", default="wall", choices=("wall", "thread-cpu"),
                   help="wall: wall-clock time; thread-cpu: the measuring thread's CPU time, for a shared or loaded "
                        "machine (onnxruntime, --threads 1 only)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthesised inputs")
    p.add_argument("--json", metavar="FILE", help="write the JSON result here ('-' for stdout instead of the table)")
    p.add_argument("--watch-stdin", action="store_true",
                   help="exit at once when stdin closes (set by edgeprune bench: the run dies with its caller)")
    return p


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    if args.watch_stdin:
        from .lifeline import watch_stdin

        watch_stdin()
    # Everything that can be checked without numpy or a runtime, before the first model loads.
    from .budget import Budget
    from .machine import resolve_threads
    from .output import check_output

    budget = Budget(args.warmup, args.min_runs, args.min_seconds, args.max_seconds, args.block)
    resolve_threads(args.threads)
    if args.json and args.json != "-":
        check_output(args.json)
    try:
        import numpy  # noqa: F401  (the one dependency besides a runtime)
    except ImportError:
        raise NoRuntimeError(f"numpy is not installed for {sys.executable} (pip install numpy)") from None
    from .bench import bench
    from .output import write_json
    from .table import format_table

    result = bench(args.models, args.runtime, args.threads, budget, args.shape, args.seed, clock_name=args.clock)
    if args.json == "-":
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        if args.json:
            try:
                write_json(result, args.json)
            except OSError as exc:
                raise BenchError(f"cannot write {args.json}: {exc.strerror or exc}") from None
        print(format_table(result))
    return 0


def main(argv=None) -> int:
    try:
        return _main(argv)
    except BenchError as exc:
        print(f"device_bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("device_bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
