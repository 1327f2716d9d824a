"""edgeprune.export: a checkpoint or model -> ONNX or TFLite (float or int8), written only if it passes parity.

`export_model(ckpt_or_model, fmt, out, ...) -> dict` is the Python API; `edgeprune export` wraps it.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from edgeprune.errors import EdgepruneError

FORMATS = {"onnx": ".onnx", "tflite": ".tflite"}
LSTM_MODES = ("unroll", "step")  # TFLite: the LSTM unrolled over time in one graph, or a stepped file (tflite_step)
_WORK_PREFIX = ".edgeprune-export-"
_WORK_NAME = re.compile(r"^\.edgeprune-export-(\d+)-[^/]+$")  # .edgeprune-export-<owner pid>-<random>
_OWNER = ".owner"  # inside a work folder: flocked by the exporting process for its life

__all__ = ["FORMATS", "export_model"]


def export_model(ckpt_or_model, fmt: str, out, int8: bool = False, calib: str | None = None,
                 simplify: bool = True, *, samples: int | None = None, calib_samples: int = 200,
                 example_inputs=None, input_names=None, task: str | None = None, meta: dict | None = None,
                 trust_factory: bool = False, gate: bool = True, lstm: str = "unroll",
                 lstm_chunk: int | None = None, lstm_step_bits: int = 8, onnx_weights: str = "uint8",
                 fixed_shape: bool = False) -> dict:
    """Export to `out` (.onnx / .tflite) and return a JSON-serialisable report.

    `calib`: a data spec (edgeprune.data.open_data) or `random[:SEED]`; needed for int8. With a real data
    spec the parity gate runs on its test split and the report has Score before/after.
    `samples`: parity inputs (default 100 for int8, 20 for float). `gate=False` reports without refusing.
    `lstm="step"` (TFLite): signatures pre / `lstm_chunk` LSTM time steps / post, looped by device_bench.stepped;
    `lstm_step_bits=16` gives the int8 file's step signature int16 activations.
    `onnx_weights="int8"` (ONNX int8): int8 weights beside uint8 activations, faster on x86 CPUs with VNNI but
    wrong on x86 CPUs without VNNI (export/onnx_quant.py); the default uint8 gives the same outputs everywhere.
    `fixed_shape` (ONNX): the file takes exactly the example's shapes (batch 1, the model's window), with the
    dynamic axes' shape arithmetic folded and a one-input-channel Conv3d stem run as a Conv2d (export/stem2d.py).
    Nothing is written at `out` unless every check passes.
    """
    from edgeprune.atomic import publish_mode
    from edgeprune.export.metadata import build_metadata
    from edgeprune.export.samples import is_random, random_samples, spec_samples
    from edgeprune.export.source import resolve

    if fmt not in FORMATS:
        raise EdgepruneError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.suffix != FORMATS[fmt]:
        raise EdgepruneError(f"--out {out} must end in {FORMATS[fmt]} for format {fmt}")
    if lstm not in LSTM_MODES:
        raise EdgepruneError(f"unknown lstm mode {lstm!r}; choose one of {', '.join(LSTM_MODES)}")
    if lstm == "step" and fmt != "tflite":
        raise EdgepruneError(f"--lstm step is a TFLite option; {fmt} keeps the LSTM as one op")
    if lstm_chunk is not None and (lstm != "step" or lstm_chunk < 1):
        raise EdgepruneError(f"--lstm-chunk {lstm_chunk}: a positive number of time steps, with --lstm step only")
    if lstm_step_bits not in (8, 16) or (lstm_step_bits == 16 and not (lstm == "step" and int8)):
        raise EdgepruneError(f"--lstm-step-bits {lstm_step_bits}: 8 or 16, and 16 only with --lstm step --int8")
    from edgeprune.export.onnx_quant import WEIGHT_TYPES

    if onnx_weights not in WEIGHT_TYPES or (onnx_weights == "int8" and not (int8 and fmt == "onnx")):
        raise EdgepruneError(f"--onnx-weights {onnx_weights}: uint8 or int8, and int8 only with --format onnx --int8")
    if fixed_shape and fmt != "onnx":
        raise EdgepruneError("--fixed-shape is an ONNX option; TFLite files always have fixed shapes")
    if fmt == "tflite":
        from edgeprune.export.tflite_extra import require_tflite

        require_tflite(int8)
    if int8 and calib is None:
        raise EdgepruneError("int8 export needs calibration data: pass calib (a data spec, or 'random' for a smoke test)")
    source = resolve(ckpt_or_model, example_inputs=example_inputs, input_names=input_names, task=task, meta=meta,
                     trust_factory=trust_factory)
    if lstm == "step":
        from edgeprune.export.tflite_step import find_lstm

        find_lstm(source.model, source.name)  # one line before any long work
    n = samples or (100 if int8 else 20)
    data_spec = calib if calib is not None and not is_random(calib) else None
    if data_spec:
        check = spec_samples(source, data_spec, "test", None)
        source.example = tuple(t[:1].clone() for t in check.tensors(source.input_names))  # TFLite shapes = data's
    else:
        check = spec_samples(source, calib, "test", n) if calib else random_samples(source, n, seed=1)
    metadata = build_metadata(source, "int8" if int8 else "float")
    report = {
        "model": source.name, "format": fmt, "int8": int8, "out": str(out),
        "params": int(metadata["params"]), "macs": int(metadata["macs"]),
        "wsr": float(metadata["wsr"]) if metadata["wsr"] else None, "method": metadata["method"] or None,
        "inputs": {n_: list(t.shape) for n_, t in zip(source.input_names, source.example)},
        "output": source.output_name, "threshold": source.threshold, "metadata": metadata,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    work, owner = _claim_work_dir(out.parent)
    try:
        final = _export_into(work, source, fmt, int8, calib, simplify, calib_samples, check, metadata, report, gate,
                             data_spec is not None, lstm, lstm_chunk, lstm_step_bits, onnx_weights, fixed_shape)
        publish_mode(final, directory=False)
        os.replace(final, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.close(owner)
    report["size_bytes"] = out.stat().st_size
    return report


def _claim_work_dir(parent: Path) -> tuple[Path, int]:
    """A fresh work folder beside the output, held (flock on its .owner file) by this process for as long as
    the export runs -> (folder, descriptor to close when done). Work folders of exports that were killed
    (their lock is free) are removed first; those of running exports are left alone."""
    clean_stale_work(parent)
    work = Path(tempfile.mkdtemp(prefix=f"{_WORK_PREFIX}{os.getpid()}-", dir=parent))
    fd = os.open(work / _OWNER, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh file nobody else knows: cannot block
    return work, fd


def clean_stale_work(parent) -> list[Path]:
    """Remove the `.edgeprune-export-*` work folders in `parent` whose export died (kill -9, SIGTERM, power
    loss) -> the folders removed. A folder is stale when its .owner lock can be taken, or, in the moment
    before the owner created that file, when the pid in its name is gone. Other names are never touched."""
    removed = []
    for path in Path(parent).glob(_WORK_PREFIX + "*"):
        m = _WORK_NAME.match(path.name)
        if not m or path.is_symlink() or not path.is_dir():
            continue
        try:
            fd = os.open(path / _OWNER, os.O_RDWR)
        except FileNotFoundError:
            if _alive(int(m.group(1))):
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its export is running
        else:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _export_into(work: Path, source, fmt, int8, calib, simplify, calib_samples, check, metadata, report, gate,
                 scored: bool, lstm: str = "unroll", lstm_chunk: int | None = None, lstm_step_bits: int = 8,
                 onnx_weights: str = "uint8", fixed_shape: bool = False) -> Path:
    from edgeprune.export.parity import compare, gate as parity_gate, torch_outputs
    from edgeprune.export.runtimes import open_runner
    from edgeprune.export.samples import spec_samples

    float_path = work / f"model{FORMATS[fmt]}"
    start = time.perf_counter()
    if fmt == "onnx":
        from edgeprune.export.onnx_export import to_onnx

        report["onnx"] = to_onnx(source, float_path, metadata, simplify=simplify, fixed_shape=fixed_shape)
    elif lstm == "step":
        from edgeprune.export.tflite_step import DEFAULT_CHUNK, to_tflite_step

        report["tflite"] = to_tflite_step(source, float_path, metadata, lstm_chunk or DEFAULT_CHUNK)
    else:
        from edgeprune.export.tflite_export import to_tflite

        report["tflite"] = to_tflite(source, float_path, metadata)
    report["export_seconds"] = round(time.perf_counter() - start, 3)
    report["float_size_bytes"] = float_path.stat().st_size
    expected = torch_outputs(source.model, check, source.input_names)
    float_runner = open_runner(float_path)
    got = float_runner(check.inputs)
    report["parity"] = compare(expected, got, source.task, source.threshold)
    parity_gate(report["parity"], int8=False, label=f"{fmt} float", strict=gate)
    if scored:
        report["score_before"] = _score(expected, check, source)
    if not int8:
        if scored:
            report["score_after"] = _score(got, check, source)
        return float_path
    int8_path = work / f"model.int8{FORMATS[fmt]}"
    calibration = spec_samples(source, calib, "train", calib_samples)
    start = time.perf_counter()
    if fmt == "onnx":
        from edgeprune.export.onnx_quant import quantize_onnx

        report["quantization"] = quantize_onnx(float_path, int8_path, calibration, metadata, onnx_weights)
    elif lstm == "step":
        from edgeprune.export.tflite_step_quant import quantize_tflite_step

        report["quantization"] = quantize_tflite_step(float_path, int8_path, calibration, metadata, lstm_step_bits)
    else:
        from edgeprune.export.tflite_quant import quantize_tflite

        report["quantization"] = quantize_tflite(float_path, int8_path, calibration, metadata)
    report["quantize_seconds"] = round(time.perf_counter() - start, 3)
    report["int8_size_bytes"] = int8_path.stat().st_size
    got8 = open_runner(int8_path)(check.inputs)
    report["parity_int8"] = compare(expected, got8, source.task, source.threshold)
    parity_gate(report["parity_int8"], int8=True, label=f"{fmt} int8", strict=gate)
    if scored:
        report["score_after"] = _score(got8, check, source)
    return int8_path


def _score(outputs, samples, source) -> float | None:
    """FRR + FAR at the model's threshold on the labelled samples (binary models only)."""
    if source.task != "binary" or samples.labels is None:
        return None
    import numpy as np

    from edgeprune.metrics import score

    probs = 1.0 / (1.0 + np.exp(-outputs.astype(np.float64)))
    return float(score(probs, samples.labels, source.threshold))
