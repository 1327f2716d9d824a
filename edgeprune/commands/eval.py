"""`edgeprune eval CKPT_OR_ONNX --data SPEC [--stream]`: test-split Score at the stored dev threshold, or
streaming misses and false accepts per hour over long synth recordings."""

from __future__ import annotations

import math
import sys
from pathlib import Path

HELP = "evaluate a checkpoint or exported file: test Score at its dev threshold, or streaming (--stream)"
DESCRIPTION = (
    "Without --stream: the test split of --data scored at the model's stored dev threshold (Score = FRR + FAR, "
    "FAR at 1-FRR = 98.78 %, per SNR). With --stream: the model slides over long synth recordings (TV sound, "
    "babble, music and noise with held-out speakers' wake words and near-misses at known times) in windows of "
    "its clip length every --hop seconds; a detection within --tolerance after a true wake word is a hit, "
    "detections closer than --refractory merge, any other is a false accept (MLPerf Tiny streaming style). "
    "Features: FBank normalised with the statistics stored in the model. Accepts an edgeprune checkpoint, or an "
    ".onnx/.tflite file written by `edgeprune export`."
)


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="CKPT_OR_ONNX",
                        help="edgeprune checkpoint (.safetensors), or .onnx/.tflite from edgeprune export")
    parser.add_argument("--data", metavar="SPEC", default=None,
                        help="data spec (synth, folder:PATH, misp2021:PATH); default: the one recorded in the "
                        "checkpoint. --stream generates long synth recordings (default synth)")
    parser.add_argument("--stream", action="store_true", help="streaming evaluation: misses and false accepts per hour")
    parser.add_argument("--hop", type=float, default=0.1, metavar="S",
                        help="stream: seconds between windows (multiple of 0.01)")
    parser.add_argument("--refractory", type=float, default=1.0, metavar="S",
                        help="stream: after a detection, ignore firings for this many seconds")
    parser.add_argument("--tolerance", type=float, default=None, metavar="S",
                        help="stream: a detection up to this long after a wake word ends is a hit "
                        "(default: the window length)")
    parser.add_argument("--minutes", type=float, default=10.0, help="stream: length of the synth recording")
    parser.add_argument("--snrs", type=float, nargs="+", default=[-5.0, 0.0, 5.0], metavar="DB",
                        help="stream: speech-to-background SNRs, used equally often")
    parser.add_argument("--threshold", type=float, default=None,
                        help="decision threshold (default: the stored dev threshold)")
    parser.add_argument("--seed", type=int, default=0, help="synth generation seed")
    parser.add_argument("--data-size", type=int, default=None,
                        help="synth clips: training clips, dev and test a third each (as `slim --data-size`)")
    parser.add_argument("--trust-factory", action="store_true",
                        help="import the user factory a non-zoo checkpoint names (runs its code)")
    parser.add_argument("--json", metavar="FILE", default=None, help="write the report as JSON here")


def _check_args(args) -> None:
    from edgeprune.errors import EdgepruneError
    from edgeprune.streaming.evaluate import hop_frames

    if not Path(args.model).is_file():
        raise EdgepruneError(f"{args.model}: no such file")
    hop_frames(args.hop)
    if not args.refractory >= 0 or not math.isfinite(args.refractory):
        raise EdgepruneError(f"--refractory must be a number of seconds >= 0, got {args.refractory}")
    if args.tolerance is not None and (not args.tolerance >= 0 or not math.isfinite(args.tolerance)):
        raise EdgepruneError(f"--tolerance must be a number of seconds >= 0, got {args.tolerance}")
    if args.threshold is not None and not 0 < args.threshold < 1:
        raise EdgepruneError(f"--threshold must be in (0, 1), got {args.threshold}")
    if not 0.5 <= args.minutes <= 240:
        raise EdgepruneError(f"--minutes must be between 0.5 and 240, got {args.minutes}")
    if not all(math.isfinite(s) and -30 <= s <= 60 for s in args.snrs):
        raise EdgepruneError(f"--snrs must be dB values between -30 and 60, got {args.snrs}")
    if args.data_size is not None and args.data_size < 1:
        raise EdgepruneError(f"--data-size must be >= 1, got {args.data_size}")


def open_source(path: str, trust_factory: bool = False):
    """A ModelSource for a checkpoint, or for an exported file run in its runtime."""
    from edgeprune.errors import EdgepruneError
    from edgeprune.streaming.source import from_checkpoint, from_exported

    suffix = Path(path).suffix
    if suffix in (".onnx", ".tflite"):
        from edgeprune.export.metadata import read_onnx_metadata, read_tflite_metadata
        from edgeprune.export.runtimes import open_runner

        if suffix == ".onnx":
            meta = read_onnx_metadata(path)
        else:
            try:
                meta = read_tflite_metadata(Path(path).read_bytes())
            except EdgepruneError as e:
                raise EdgepruneError(f"{path}: {e}") from e
        return from_exported(path, open_runner(path), meta)
    return from_checkpoint(path, trust_factory=trust_factory)


def run(args) -> int:
    from edgeprune.data import parse_spec
    from edgeprune.errors import EdgepruneError

    _check_args(args)
    source = open_source(args.model, args.trust_factory)
    spec = args.data or source.data or ("synth" if args.stream else None)
    if not spec:
        raise EdgepruneError(f"{args.model} records no data spec: pass --data")
    name, _ = parse_spec(spec)
    if args.stream:
        from edgeprune.data.synth_stream import synth_stream
        from edgeprune.streaming.evaluate import evaluate_stream

        if name != "synth":
            raise EdgepruneError(f"--stream generates its long recordings and needs --data synth, got {spec!r}")
        if args.threshold is None:
            source.need_threshold()
        source.need_stats("fbank")
        stream = synth_stream(seed=args.seed, minutes=args.minutes, snrs=tuple(args.snrs))
        report = evaluate_stream(source, stream, args.hop, args.refractory, args.tolerance, args.threshold)
    else:
        from edgeprune.data import open_data
        from edgeprune.streaming.evaluate import evaluate_clips

        if args.threshold is None:
            source.need_threshold()
        for k in source.inputs:
            source.need_stats(k)
        n = args.data_size
        sizes = {} if n is None else {"train": n, "dev": max(-(-n // 3), 10), "test": max(-(-n // 3), 10)}
        bundle = open_data(spec, inputs=source.inputs, lip_size=source.lip_size or 88, seed=args.seed, **sizes)
        report = evaluate_clips(source, bundle, args.threshold)
    report = {"model": source.name, "file": str(args.model), "kind": source.kind, "data": spec,
              "threshold_source": "--threshold" if args.threshold is not None else "stored dev threshold", **report}
    print(stream_table(report) if args.stream else clip_table(report))
    if args.json:
        from edgeprune.atomic import write_json

        write_json(Path(args.json), jsonable(report), allow_nan=False)
    sys.stdout.flush()
    return 0


def jsonable(value):
    """NaN/inf -> None, non-string keys -> strings, numpy scalars -> Python, recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def _snr_label(k) -> str:
    return f"{k:+g} dB" if isinstance(k, float) and math.isfinite(k) else str(k)


def clip_table(r: dict) -> str:
    rows = [
        ("model", f"{r['model']} ({r['kind']} {r['file']})"),
        ("data", f"{r['data']}, test split: {r['n']} clips ({r['n_wake']} wake)"),
        ("threshold", f"{r['threshold']:.3f} ({r['threshold_source']})"),
        ("Score", f"{r['score']:.4f}  (FRR {_pct(r['frr'])}, FAR {_pct(r['far'])})"),
        (f"FAR at 1-FRR {100 * (1 - r['frr_target']):.2f} %", _pct(r["far_at_frr"])),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines.append(f"{'SNR':>8} {'clips':>6} {'Score':>7} {'FRR':>8} {'FAR':>8} {'FAR@FRR':>8}")
    for k, v in r["per_snr"].items():
        lines.append(f"{_snr_label(k):>8} {v['n']:>6} {v['score']:>7.4f} {_pct(v['frr']):>8} {_pct(v['far']):>8} "
                     f"{_pct(v.get('far_at_frr')):>8}")
    return "\n".join(lines)


def stream_table(r: dict) -> str:
    info = r.get("stream", {})
    snrs = ", ".join(f"{s:g}" for s in info.get("snrs", []))
    rows = [
        ("model", f"{r['model']} ({r['kind']} {r['file']})"),
        ("recording", f"synth stream seed {info.get('seed')}: {r['duration_s'] / 60:.1f} min, "
                      f"{r['events']} wake words, SNRs {snrs} dB, held-out speakers"),
        ("windows", f"{r['windows']} of {r['window_s']:.3f} s every {r['hop_s']:g} s; "
                    f"refractory {r['refractory_s']:g} s, tolerance {r['tolerance_s']:.3f} s"),
        ("threshold", f"{r['threshold']:.3f} ({r['threshold_source']})"),
        ("wake words", f"{r['hits']} hit, {r['misses']} missed (miss rate {_pct(r['miss_rate'])}, "
                       f"{r['misses_per_hour']:.1f} per hour)"),
        ("false accepts", f"{r['false_accepts']} ({r['false_accepts_per_hour']:.1f} per hour); "
                          f"{r['duplicates']} duplicate detections of a hit word"),
    ]
    rows += [(f"  {_snr_label(k)}", f"{v['hits']}/{v['events']} hit, miss rate {_pct(v['miss_rate'])}")
             for k, v in r["per_snr"].items()]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
