"""Export every zoo model, dense and slim (ChannelPruner to WSR 0.8), to ONNX, ONNX int8, TFLite, TFLite int8.

Prints one table: file size, params, export time and max |diff| vs PyTorch (int8: decision agreement).
Untrained weights (BN statistics re-estimated on example inputs) and random calibration ('random'): the figures measure the converters, not accuracy.
    python benchmarks/export.py [--models tv-audio misp-audio] [--formats onnx tflite] [--json FILE]
    python benchmarks/export.py --formats tflite --tflite-runtime-py build/tflite-runtime-venv/bin/python
    python benchmarks/export.py --models misp-video tv-av --samples 10 --calib-samples 10   # the large ones

--tflite-runtime-py PYTHON also runs every .tflite in that Python (tflite-runtime 2.14 + numpy<2, as on a
Raspberry Pi image; .ci/run builds one) on 10 seeded inputs and adds its max |diff| and decision agreement
against ai-edge-litert (export.tflite_elsewhere).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import edgeprune
from edgeprune import models
from edgeprune.errors import EdgepruneError
from edgeprune.export import export_model

VARIANTS = (("onnx", False), ("onnx", True), ("tflite", False), ("tflite", True))


def _checkpoint(folder: Path, name: str, slim: bool) -> Path:
    model = models.calibrate_bn(models.build(name), name)  # untrained lip encoders: ~1e-7 outputs otherwise
    meta = {}
    if slim:
        importance = "l2" if name.startswith("lenet") else "bn_scale+l1"  # cp/cplr default (the export tests: same)
        report = edgeprune.ChannelPruner(model, models.example_inputs(name, batch=2), importance=importance).prune(0.8)
        meta = {"method": "channel-pruner", "wsr": 1 - report.params_after / report.params_before}
    return edgeprune.save(model, folder / f"{name}-{'slim' if slim else 'dense'}.safetensors", **meta)


def _elsewhere(python, name: str, path: Path, threshold: float) -> dict:
    """tflite-runtime (in `python`) vs ai-edge-litert on 10 seeded inputs: {"rt_diff", "rt_agreement" (decisions)
    or "rt_cosine" (embeddings), "rt_runtime"}, or {"rt_error"}."""
    from edgeprune.export.tflite_elsewhere import compare_elsewhere

    spec = models.spec(name)
    feeds = {n: t.numpy() for n, t in zip(spec.inputs, models.example_inputs(name, batch=10))}
    try:
        result = compare_elsewhere(python, path, feeds, spec.task, threshold)
    except EdgepruneError as exc:
        return {"rt_error": str(exc)}
    row = {"rt_diff": result["max_abs_diff"], "rt_runtime": result["runtime"]}
    if "decision_agreement" in result:
        return {**row, "rt_agreement": result["decision_agreement"]}
    return {**row, "rt_cosine": result["min_cosine"]}


def _row(name, slim, fmt, int8, report=None, error=None) -> dict:
    row = {"model": name, "variant": "slim" if slim else "dense", "format": f"{fmt}{' int8' if int8 else ''}"}
    if error:
        return {**row, "error": error}
    parity = report["parity_int8" if int8 else "parity"]
    return {**row, "size_bytes": report["size_bytes"], "params": report["params"], "wsr": report["wsr"],
            "export_s": report["export_seconds"] + report.get("quantize_seconds", 0.0),
            "max_abs_diff": parity["max_abs_diff"], "agreement": parity.get("decision_agreement"),
            "passed": parity["passed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=models.names())
    parser.add_argument("--formats", nargs="*", default=["onnx", "tflite"])
    parser.add_argument("--json", default=None)
    parser.add_argument("--samples", type=int, default=20, help="parity inputs per export")
    parser.add_argument("--calib-samples", type=int, default=100, help="int8 calibration inputs")
    parser.add_argument("--tflite-runtime-py", default=None, help="a Python with tflite-runtime (numpy<2)")
    args = parser.parse_args()
    from provenance import command, stamp

    print(f"# command: {command()}\n# {stamp()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.models:
            for slim in (False, True):
                ckpt = _checkpoint(folder, name, slim)
                for fmt, int8 in VARIANTS:
                    if fmt not in args.formats:
                        continue
                    out = folder / f"out.{fmt}"
                    try:
                        report = export_model(ckpt, fmt, out, int8=int8, calib="random" if int8 else None,
                                              samples=args.samples, calib_samples=args.calib_samples, gate=False)
                        rows.append(_row(name, slim, fmt, int8, report))
                        if fmt == "tflite" and args.tflite_runtime_py:
                            rows[-1].update(_elsewhere(args.tflite_runtime_py, name, out, report["threshold"]))
                    except EdgepruneError as exc:
                        rows.append(_row(name, slim, fmt, int8, error=str(exc)))
                    print(_format(rows[-1]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    extra = " tflite-runtime vs litert: max abs diff | agreement (cosine) |" if args.tflite_runtime_py else ""
    print(f"\n| model | variant | format | size (KiB) | params | WSR | export (s) | max abs diff | agreement |{extra}")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if extra else ""))
    for row in rows:
        print(_format(row))


def _format(row: dict) -> str:
    head = f"| {row['model']} | {row['variant']} | {row['format']} |"
    if "error" in row:
        return f"{head} failed: {row['error']} | | | | | |"
    agreement = "-" if row["agreement"] is None else f"{100 * row['agreement']:.0f} %"
    wsr = "-" if row["wsr"] is None else f"{row['wsr']:.2f}"
    line = (f"{head} {row['size_bytes'] / 1024:,.0f} | {row['params']:,} | {wsr} | {row['export_s']:.1f} | "
            f"{row['max_abs_diff']:.2g} | {agreement} |")
    if "rt_error" in row:
        return f"{line} failed: {row['rt_error']} | |"
    if "rt_diff" in row:
        rt = f"{100 * row['rt_agreement']:.0f} %" if "rt_agreement" in row else f"cos {row['rt_cosine']:.5f}"
        return f"{line} {row['rt_diff']:.2g} | {rt} |"
    return line


if __name__ == "__main__":
    main()
