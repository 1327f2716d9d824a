"""`edgeprune profile`: a latency table of a model's prunable groups, measured on the target (cached)."""

from __future__ import annotations

import math
import sys

from edgeprune.errors import EdgepruneError

HELP = "measure whole-model latency with each prunable group alone at a grid of widths (a latency table)"
DESCRIPTION = (
    "For every prunable group of MODEL (a zoo name or a checkpoint), export the model with that group alone cut "
    "to each width of the grid, and measure it interleaved with the dense model through device_bench, here or on "
    "a board over SSH, with the runtime and thread count of deployment. Points are cached per device, runtime "
    "and version, threads and model architecture (a second run measures nothing); --max-seconds bounds a run and "
    "a rerun resumes. The table predicts the latency of slim models (edgeprune.latency.predict)."
)


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="zoo model name or checkpoint file")
    parser.add_argument("--out", required=True, metavar="TABLE.json", help="where to write the latency table")
    parser.add_argument("--target", default="local", help="'local' or ssh://user@host[:port]")
    parser.add_argument("--runtime", default="ort", choices=("ort", "litert", "tflite-runtime"),
                        help="ort measures ONNX exports; litert and tflite-runtime TFLite exports")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads of the runtime")
    parser.add_argument("--clock", default="wall", choices=("wall", "thread-cpu"),
                        help="thread-cpu: the measuring thread's CPU time (local ort, 1 thread), unmoved by other "
                        "processes on a shared machine; wall: what a user waits (device_bench)")
    parser.add_argument("--grid", default="0.9,0.8,0.7,0.6,0.5,0.4,0.3,0.2,0.1",
                        help="kept fractions of each group's channels to measure")
    parser.add_argument("--align", type=int, default=0, metavar="N",
                        help="also measure the multiples of N on either side of each grid width (0: off)")
    parser.add_argument("--joints", default="", metavar="FRACTIONS",
                        help="also measure every group cut at once to these kept fractions (e.g. 0.75,0.5,0.3): the "
                        "default prediction calibrates on them")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="start no new group after this many seconds (the table says what is missing)")
    parser.add_argument("--warmup", type=int, default=5, help="device_bench warm-up runs per model")
    parser.add_argument("--min-runs", type=int, default=20, help="device_bench timed runs per model, at least")
    parser.add_argument("--min-seconds", type=float, default=0.5, help="and timed seconds per model, at least")
    parser.add_argument("--bench-max-seconds", type=float, default=60.0, help="device_bench cap per group batch")
    parser.add_argument("--cache-dir", default=None, help="point cache folder (default $EDGEPRUNE_CACHE/latency)")
    parser.add_argument("--remote-python", default="python3", help="python on the board")
    parser.add_argument("--remote-tmp", default=None, help="folder on the board for temporary copies")
    parser.add_argument("--ssh-key", default=None, metavar="FILE", help="private key for SSH")
    parser.add_argument("--known-hosts", default=None, metavar="FILE", help="UserKnownHostsFile for the board")
    parser.add_argument("--connect-timeout", type=int, default=10, help="SSH connect timeout in seconds")
    parser.add_argument("--strict-host-key-checking", default="accept-new", choices=("accept-new", "yes", "no"))
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (also EDGEPRUNE_NO_PROGRESS=1)")


def parse_grid(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise EdgepruneError(f"bad --grid {text!r}: expected comma-separated fractions such as 0.9,0.5,0.1") from None
    if not values or not all(0 < v < 1 for v in values):
        raise EdgepruneError(f"bad --grid {text!r}: every kept fraction must lie strictly between 0 and 1")
    return values


def make_target(args):
    """The Target of args (checked), shared with `edgeprune sensitivity`-style commands."""
    from edgeprune.latency.target import Target
    from edgeprune.remote import SshOptions

    if args.threads < 1:
        raise EdgepruneError(f"--threads must be at least 1, got {args.threads}")
    for flag, value in (("--min-seconds", args.min_seconds), ("--bench-max-seconds", args.bench_max_seconds)):
        if not (math.isfinite(value) and value >= 0):
            raise EdgepruneError(f"{flag} must be a finite number >= 0, got {value}")
    if args.warmup < 0 or args.min_runs < 1:
        raise EdgepruneError("--warmup must be >= 0 and --min-runs >= 1")
    opts = SshOptions(key=args.ssh_key, connect_timeout=args.connect_timeout, known_hosts=args.known_hosts,
                      strict_host_key_checking=args.strict_host_key_checking)
    bench = {"warmup": args.warmup, "min_runs": args.min_runs, "min_seconds": args.min_seconds,
             "max_seconds": max(args.bench_max_seconds, 1.0), "block": 5}
    target = Target(args.target, args.runtime, args.threads, opts, args.remote_python, args.remote_tmp, bench,
                    args.clock)
    if target.ssh is not None:
        opts.common()  # key file and options checked before any work
    return target


def format_table(table) -> str:
    from edgeprune.device_bench.table import format_rows

    rows = []
    for root, g in table.groups.items():
        cells = ", ".join(f"{p['width']}:{p['p50']:.3f}" for p in sorted(g["points"], key=lambda p: -p["width"]))
        rows.append((root, str(g["width"]), cells or "(not measured)"))
    clock = "" if table.meta.get("clock", "wall") == "wall" else f", {table.meta['clock']} clock"
    head = (f"{table.model} on {table.meta['machine'].get('cpu_model')} ({table.meta['target']}{clock}), "
            f"{table.meta['runtime']} {table.meta['runtime_version']}, {table.meta['threads']} thread(s): "
            f"dense p50 {table.dense['p50']:.3f} ms")
    return head + "\n" + format_rows(("group", "width", "width:p50 ms with the group alone at it"), rows)


def run(args) -> int:
    from edgeprune.commands.bench import check_json_path
    from edgeprune.data.progress import silenced

    grid = parse_grid(args.grid)
    try:
        joints = parse_grid(args.joints) if args.joints.strip() else ()
    except EdgepruneError:
        raise EdgepruneError(f"bad --joints {args.joints!r}: expected kept fractions strictly between 0 and 1, such "
                             f"as 0.75,0.5,0.3") from None
    if args.align < 0:
        raise EdgepruneError(f"--align must be >= 0, got {args.align}")
    if args.max_seconds is not None and not (math.isfinite(args.max_seconds) and args.max_seconds > 0):
        raise EdgepruneError(f"--max-seconds must be positive, got {args.max_seconds}")
    target = make_target(args)
    check_json_path(args.out)
    from edgeprune import atomic
    from edgeprune.latency.profile import load_source, profile

    source = load_source(args.model)
    with silenced(args.no_progress):
        table = profile(source, target, grid, args.align, args.max_seconds, args.cache_dir, joints=joints)
    atomic.write_json(args.out, table.to_dict())
    print(format_table(table))
    for note in table.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.out} ({table.meta['measured_now']} points measured now, cache {table.meta['cache']})")
    return 0
