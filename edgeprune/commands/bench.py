"""`edgeprune bench`: latency and memory of exported models here or on a board over SSH, side by side."""

from __future__ import annotations

import math
import os
import sys

from edgeprune.errors import EdgepruneError
from edgeprune.local_bench import bench_local

HELP = "measure latency and memory of .onnx/.tflite models, locally or on a board over SSH"
DESCRIPTION = (
    "Measure models with onnxruntime, ai-edge-litert or tflite-runtime: load time, warm-up, then interleaved "
    "runs until a minimum count and duration; min/mean/p50/p90/p99/max/std, inferences per second, peak RSS. "
    "Several models are compared to the first: latency ratio next to the params and MACs ratios of the ONNX "
    "metadata written by edgeprune export. --target ssh://user@host[:port] runs the same measurement on a "
    "board that has only numpy and one runtime."
)
SCHEMA = "edgeprune.bench/1"
MAX_REMOTE_THREADS = 1024  # a board has far fewer cores; device_bench there checks against its own
_EXTENSIONS = {".onnx": ("ort",), ".tflite": ("litert", "tflite-runtime")}


def add_arguments(parser) -> None:
    parser.add_argument("models", nargs="+", metavar="MODEL", help=".onnx or .tflite files; the first is the baseline")
    parser.add_argument("--runtime", default="auto", choices=("auto", "ort", "litert", "tflite-runtime"),
                        help="auto: ort for .onnx; litert (else tflite-runtime) for .tflite")
    parser.add_argument("--threads", default="1", help="intra-op threads: a number (at most 4 per core of the "
                        "machine that measures), or 'all' for its cores")
    parser.add_argument("--target", default="local", help="'local' or ssh://user@host[:port]")
    parser.add_argument("--remote-python", default="python3",
                        help="python on the board (with numpy and a runtime); absolute, on PATH, or ~/...")
    parser.add_argument("--remote-tmp", default=None, help="folder on the board for the temporary copy "
                        "(default: $TMPDIR or /tmp)")
    parser.add_argument("--ssh-key", default=None, metavar="FILE", help="private key for SSH (key auth only)")
    parser.add_argument("--connect-timeout", type=int, default=10, help="SSH connect timeout in seconds")
    parser.add_argument("--strict-host-key-checking", default="accept-new", choices=("accept-new", "yes", "no"),
                        help="OpenSSH StrictHostKeyChecking for the board")
    parser.add_argument("--known-hosts", default=None, metavar="FILE", help="UserKnownHostsFile for the board")
    parser.add_argument("--ssh-option", action="append", default=[], metavar="KEY=VALUE",
                        help="extra OpenSSH -o option (repeatable)")
    parser.add_argument("--remote-timeout", type=float, default=900.0, help="seconds the remote run may take")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up runs per model")
    parser.add_argument("--min-runs", type=int, default=50, help="at least this many timed runs per model")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="and at least this much timed time per model")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="stop warm-up and timed runs this long after the start (each model keeps one timed run)")
    parser.add_argument("--block", type=int, default=10, help="runs per interleaved round of the model that needs "
                        "the most; each other model runs its share, sized by its own latency")
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=D0,D1,...",
                        help="shape for an input with dynamic axes (they default to 1)")
    parser.add_argument("--clock", default="wall", choices=("wall", "thread-cpu"),
                        help="wall: wall-clock time; thread-cpu: the measuring thread's CPU time, unmoved by other "
                             "processes on a shared or loaded machine (onnxruntime and --threads 1 only)")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the JSON result here")
    parser.add_argument("--max-latency-ms", type=float, default=None, metavar="X",
                        help="exit 1 when any model's p90 latency exceeds X ms (a CI gate)")


def _check_models(models: list[str], runtime: str) -> None:
    for path in models:
        if not os.path.isfile(path):
            raise EdgepruneError(f"model file not found: {path}")
        ext = os.path.splitext(path)[1].lower()
        if ext not in _EXTENSIONS:
            raise EdgepruneError(f"{path}: unknown model type {ext or '(no extension)'!r}; expected .onnx or .tflite")
        if runtime != "auto" and runtime not in _EXTENSIONS[ext]:
            raise EdgepruneError(f"{path}: runtime {runtime!r} cannot run a {ext} model")


def _check_threads(value: str, local: bool) -> str:
    """'all' or a positive integer: at most max_threads() of this machine when it measures, else
    MAX_REMOTE_THREADS (the board checks against its own cores)."""
    from edgeprune.device_bench.machine import max_threads

    threads = str(value).strip().lower()
    if threads != "all" and not (threads.isdigit() and int(threads) >= 1):
        raise EdgepruneError(f"bad --threads {value!r}: expected a positive integer or 'all'")
    ceiling = max_threads() if local else MAX_REMOTE_THREADS
    if threads != "all" and int(threads) > ceiling:
        where = "on this machine (4 per logical core)" if local else "for a board"
        raise EdgepruneError(f"bad --threads {value!r}: at most {ceiling} {where}")
    return threads


def _device_args(args, local: bool = True) -> list[str]:
    """The device_bench options (before `--` and the model names), checked here so errors stay local."""
    from edgeprune.device_bench.budget import Budget
    from edgeprune.device_bench.errors import BenchError

    threads = _check_threads(args.threads, local)
    try:
        Budget(args.warmup, args.min_runs, args.min_seconds, args.max_seconds, args.block)
        from edgeprune.device_bench.inputs import parse_shape_overrides  # numpy: after the cheap checks

        parse_shape_overrides(args.shape)
    except BenchError as exc:
        raise EdgepruneError(str(exc)) from None
    if args.clock == "thread-cpu" and (threads == "all" or int(threads) != 1 or args.runtime not in ("auto", "ort")
                                       or any(not m.lower().endswith(".onnx") for m in args.models)):
        raise EdgepruneError("--clock thread-cpu needs onnxruntime (.onnx files) and --threads 1: other runtimes "
                             "and more threads compute on threads this clock does not see")
    out = ["--runtime", args.runtime, "--threads", threads, "--clock", args.clock, "--warmup", str(args.warmup),
           "--min-runs", str(args.min_runs), "--min-seconds", repr(args.min_seconds),
           "--max-seconds", repr(args.max_seconds), "--block", str(args.block)]
    for item in args.shape:
        out += ["--shape", item]
    return out


def read_counts(path: str) -> dict:
    """`params` and `macs` from an ONNX file's metadata_props (edgeprune export writes them); None when absent."""
    counts = {"params": None, "macs": None}
    if not path.lower().endswith(".onnx"):
        return counts
    try:
        import onnx

        props = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
    except Exception:  # an unreadable file is reported by the runtime, with its own message
        return counts
    for key in counts:
        try:
            counts[key] = int(float(props[key]))
        except (KeyError, ValueError):
            counts[key] = None
    return counts


def _ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def compare(result: dict) -> list[dict]:
    """One row per model against the first: p50/p90, latency ratio (p50), params and MACs with their ratios."""
    rows = []
    base = None
    for entry in result["models"]:
        counts = read_counts(entry["path"])
        row = {"model": entry["path"], "runtime": entry["runtime"], "p50_ms": entry["latency_ms"]["p50"],
               "p90_ms": entry["latency_ms"]["p90"], **counts}
        base = base or row
        row["latency_ratio"] = _ratio(row["p50_ms"], base["p50_ms"])
        row["params_ratio"] = _ratio(row["params"], base["params"])
        row["macs_ratio"] = _ratio(row["macs"], base["macs"])
        rows.append(row)
    return rows


def format_comparison(rows: list[dict]) -> str:
    from edgeprune.device_bench.table import format_rows

    def num(v, fmt):
        return "n/a" if v is None else format(v, fmt)

    header = ("model", "p50 ms", "p90 ms", "latency x", "params", "params x", "MACs", "MACs x")
    body = [(os.path.basename(r["model"]), num(r["p50_ms"], ".3f"), num(r["p90_ms"], ".3f"),
             num(r["latency_ratio"], ".3f"), num(r["params"], ","), num(r["params_ratio"], ".3f"),
             num(r["macs"], ","), num(r["macs_ratio"], ".3f")) for r in rows]
    return format_rows(header, body)


def check_json_path(path: str) -> None:
    """One line, before anything is measured, unless the report can be written at `path`."""
    from edgeprune.device_bench.errors import BenchError
    from edgeprune.device_bench.output import check_output

    try:
        check_output(path)
    except BenchError as exc:
        raise EdgepruneError(str(exc)) from None


def write_json(data: dict, path: str) -> None:
    """Write through a temporary file in the target folder, then rename."""
    check_json_path(path)
    from edgeprune import atomic

    atomic.write_json(path, data)


def run(args) -> int:
    """The command; SIGTERM/SIGHUP stop the measuring child (local or the ssh session), clean up, exit 143."""
    from edgeprune.tied import Terminated, terminating

    with terminating():
        try:
            return _run(args)
        except Terminated as exc:
            print(f"edgeprune bench: terminated ({exc})", file=sys.stderr)
            return 128 + exc.signum


def _check_flags(args) -> None:
    for flag, value in (("--max-latency-ms", args.max_latency_ms), ("--remote-timeout", args.remote_timeout)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise EdgepruneError(f"{flag} must be positive, got {value}")


def _run(args) -> int:
    from edgeprune.remote import SshOptions, bench_remote, parse_target

    target = parse_target(args.target)
    _check_flags(args)
    device_args = _device_args(args, local=target is None)
    if args.json:
        check_json_path(args.json)
    _check_models(args.models, args.runtime)
    from edgeprune.device_bench.table import format_table

    if target is None:
        result = bench_local(args.models, device_args)
    else:
        opts = SshOptions(key=args.ssh_key, connect_timeout=args.connect_timeout,
                          strict_host_key_checking=args.strict_host_key_checking, known_hosts=args.known_hosts,
                          extra=tuple(args.ssh_option), command_timeout=args.remote_timeout)
        result = bench_remote(target, opts, args.models, device_args, args.remote_python, args.remote_tmp)
    rows = compare(result)
    gate = None
    if args.max_latency_ms is not None:
        failing = [r["model"] for r in rows if r["p90_ms"] > args.max_latency_ms]
        gate = {"max_latency_ms": args.max_latency_ms, "statistic": "p90", "passed": not failing, "failing": failing}
    report = {"schema": SCHEMA, "target": args.target, "comparison": rows, "gate": gate, "bench": result}
    if args.json:
        write_json(report, args.json)
    print(format_table(result))
    if len(rows) > 1:
        print()
        print(format_comparison(rows))
    if gate and not gate["passed"]:
        worst = ", ".join(f"{os.path.basename(r['model'])} p90 {r['p90_ms']:.3f} ms" for r in rows
                          if r["model"] in gate["failing"])
        print(f"edgeprune bench: latency gate failed: {worst} > --max-latency-ms {args.max_latency_ms}",
              file=sys.stderr)
        return 1
    return 0
