"""`edgeprune export`: a checkpoint -> .onnx or .tflite (float or int8), written only if it passes the parity gate."""

from __future__ import annotations

from pathlib import Path

HELP = "export a checkpoint to ONNX or TFLite (float or int8), checked against PyTorch"
DESCRIPTION = (
    "Export an edgeprune checkpoint (.safetensors from edgeprune.save or `edgeprune slim`) to ONNX "
    "(onnx.checker, onnxsim, metadata) or TFLite (litert-torch; the 'tflite' extra). --int8 quantises "
    "statically, calibrated on --calib (a data spec; 'random' only smoke-tests the converter). The file "
    "is then run in its runtime and compared with PyTorch: float within 1e-4, int8 >= 99 % identical "
    "decisions. A failed check exits non-zero and leaves nothing at --out."
)


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", metavar="CKPT", help="checkpoint written by edgeprune.save / edgeprune slim")
    parser.add_argument("--format", required=True, choices=("onnx", "tflite"), help="file format")
    parser.add_argument("--out", required=True, metavar="FILE", help="output file (.onnx or .tflite)")
    parser.add_argument("--int8", action="store_true", help="static int8 quantisation (needs --calib)")
    parser.add_argument("--calib", metavar="SPEC", default=None,
                        help="data spec (synth, misp2021:PATH, folder:PATH) for calibration, the parity gate "
                        "(test split) and Score before/after; 'random' draws normal inputs")
    parser.add_argument("--calib-samples", type=int, default=200, help="calibration samples for --int8")
    parser.add_argument("--samples", type=int, default=None,
                        help="parity-gate inputs without a data spec (default 100 for int8, 20 for float)")
    parser.add_argument("--lstm", choices=("unroll", "step"), default="unroll",
                        help="TFLite: unroll the LSTM over time in one graph (default), or 'step': signatures "
                        "pre / K LSTM time steps / post in one file, looped by a runner (export/tflite_step.py)")
    parser.add_argument("--lstm-chunk", type=int, default=None, metavar="K",
                        help="with --lstm step: time steps per call of the step signature (default 4; the largest "
                        "divisor of the sequence length not above K is used)")
    parser.add_argument("--lstm-step-bits", type=int, choices=(8, 16), default=8,
                        help="with --lstm step --int8: activation bits of the step signature (16: the recurrent "
                        "state in int16, weights int8; more accurate, slower)")
    parser.add_argument("--onnx-weights", choices=("uint8", "int8"), default="uint8",
                        help="with --format onnx --int8: weight type. uint8 (default) gives the same outputs on every "
                        "CPU; int8 is ~20%% faster on CPUs with VNNI but saturates on x86 CPUs without it (AVX2)")
    parser.add_argument("--fixed-shape", action="store_true",
                        help="ONNX: the file takes one window of the model's size (batch 1, no dynamic axes); the "
                        "shape arithmetic is folded and a one-input-channel Conv3d stem (misp-video) runs as a "
                        "faster Conv2d over stacked frames in onnxruntime")
    parser.add_argument("--no-simplify", action="store_true", help="skip onnxsim (ONNX only)")
    parser.add_argument("--trust-factory", action="store_true",
                        help="import the user factory a non-zoo checkpoint names (runs its code)")
    parser.add_argument("--json", metavar="FILE", default=None, help="write the report as JSON here")


def check_args(args) -> None:
    """Everything that can be checked without torch or onnx, so that a mistake is one line in well under a
    second: the checkpoint exists, --out is a writable file name with the format's extension, --int8 has --calib."""
    from edgeprune.commands.outpaths import check_out_file
    from edgeprune.errors import EdgepruneError
    from edgeprune.export import FORMATS

    if args.calib_samples < 1 or (args.samples is not None and args.samples < 1):
        raise EdgepruneError("--calib-samples and --samples must be positive")
    ckpt = Path(args.checkpoint).expanduser()
    if not ckpt.exists():
        raise EdgepruneError(f"{ckpt}: no such checkpoint file")
    if not ckpt.is_file():
        raise EdgepruneError(f"{ckpt}: is not a checkpoint file")
    out = check_out_file(args.out)
    if out.suffix != FORMATS[args.format]:
        raise EdgepruneError(f"--out {out} must end in {FORMATS[args.format]} for --format {args.format}")
    if args.int8 and args.calib is None:
        raise EdgepruneError("--int8 needs --calib SPEC: a data spec (synth, folder:PATH, misp2021:PATH) for "
                             "calibration, or 'random' for a smoke test of the converter")
    if args.lstm == "step" and args.format != "tflite":
        raise EdgepruneError(f"--lstm step is a TFLite option; --format {args.format} keeps the LSTM as one op")
    if args.lstm_chunk is not None and (args.lstm != "step" or args.lstm_chunk < 1):
        raise EdgepruneError(f"--lstm-chunk {args.lstm_chunk}: a positive number of time steps, with --lstm step only")
    if args.lstm_step_bits == 16 and not (args.lstm == "step" and args.int8):
        raise EdgepruneError("--lstm-step-bits 16 needs --lstm step --int8")
    if args.onnx_weights == "int8" and not (args.int8 and args.format == "onnx"):
        raise EdgepruneError("--onnx-weights int8 needs --format onnx --int8")
    if args.fixed_shape and args.format != "onnx":
        raise EdgepruneError("--fixed-shape is an ONNX option; TFLite files always have fixed shapes")
    if args.json:
        check_out_file(args.json, "--json")


def run(args) -> int:
    check_args(args)
    from edgeprune.export import export_model

    report = export_model(
        args.checkpoint, args.format, args.out, int8=args.int8, calib=args.calib, simplify=not args.no_simplify,
        samples=args.samples, calib_samples=args.calib_samples, trust_factory=args.trust_factory, lstm=args.lstm,
        lstm_chunk=args.lstm_chunk, lstm_step_bits=args.lstm_step_bits, onnx_weights=args.onnx_weights,
        fixed_shape=args.fixed_shape,
    )
    print(_table(report))
    if args.json:
        from edgeprune.atomic import write_json

        write_json(Path(args.json), report)
    return 0


def _table(report: dict) -> str:
    kind = f"{report['format']} {'int8' if report['int8'] else 'float'}"
    rows = [
        ("model", report["model"]),
        ("file", f"{report['out']} ({kind})"),
        ("inputs", ", ".join(f"{k} {v}" for k, v in report["inputs"].items())),
        ("params / MACs", f"{report['params']:,} / {report['macs']:,}"),
        ("WSR", "-" if report["wsr"] is None else f"{report['wsr']:.3f}"),
        ("float size", f"{report['float_size_bytes']:,} B"),
        ("float parity", f"max |diff| {report['parity']['max_abs_diff']:.3g} on {report['parity']['samples']} inputs"),
    ]
    if "conv3d_as_conv2d" in report.get("onnx", {}):
        rows.append(("fixed shape", f"yes; {report['onnx']['conv3d_as_conv2d']} Conv3d run as Conv2d, "
                                    f"{report['onnx']['nodes']} nodes"))
    if report["int8"]:
        p = report["parity_int8"]
        rows += [
            ("int8 size", f"{report['int8_size_bytes']:,} B ({report['int8_size_bytes'] / report['float_size_bytes']:.2f}x float)"),
            ("int8 parity", f"{100 * p.get('decision_agreement', 0):.1f} % same decisions, max prob diff "
                            f"{p.get('max_prob_diff', float('nan')):.3g}, max |diff| {p['max_abs_diff']:.3g}"),
        ]
    if report.get("score_before") is not None:
        rows.append(("Score (test)", f"{report['score_before']:.4f} -> {report['score_after']:.4f}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


