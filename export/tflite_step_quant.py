"""int8 of a stepped .tflite: each signature calibrated on its own real inputs, hand-over tensors on one range.

The float file itself produces the calibration feeds: `pre` gets the calibration samples, `step` every time
step's (gates_x, h, c) of those samples, `post` their LSTM output sequences (device_bench.stepped's
record). Ranges are true min/max and dead tensors are widened as in export.tflite_quant. A tensor handed from
one signature to the next (pre's gates_x -> step's gates_x; step's lstm_out -> its own h input (the last row) and
post's lstm_out; step's c -> its own c input) then gets the union of the ranges seen on both sides, so both ends share one scale and zero point and
the runner passes the int8 bytes on without re-quantising.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeprune.device_bench.stepped import CELL, GATES, HIDDEN, SEQUENCE, SIGNATURES
from edgeprune.errors import EdgepruneError
from edgeprune.export.metadata import add_tflite_metadata
from edgeprune.export.tflite_extra import tflite_extra_error
from edgeprune.export.tflite_quant import RECIPE, widen_dead_ranges

# (signature, "inputs"|"outputs", name) groups that must share one range
TIED = (
    (("pre", "outputs", GATES), ("step", "inputs", GATES)),
    (("step", "inputs", HIDDEN), ("step", "outputs", SEQUENCE), ("post", "inputs", SEQUENCE)),
    (("step", "inputs", CELL), ("step", "outputs", CELL)),
)


def step_feeds(float_path: Path, samples) -> dict[str, list[dict]]:
    """{signature: [feed dict, ...]}: the float file run on `samples` (export.samples.Samples), inputs recorded."""
    from edgeprune.export.tflite_step import open_stepped_runner

    runner = open_stepped_runner(float_path)
    record: dict[str, list[dict]] = {}
    for i in range(len(samples)):
        runner.run_one({k: v[i : i + 1] for k, v in samples.inputs.items()}, record)
    return record


def quantize_tflite_step(float_path: Path, out_path: Path, samples, metadata: dict[str, str],
                         step_bits: int = 8) -> dict:
    """Static int8 copy of the stepped `float_path` at `out_path`, calibrated on `samples`. `step_bits=16`: the
    `step` signature's activations (gates, h, c) in int16, its weights still int8."""
    from edgeprune.export.quiet import quiet

    os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        from ai_edge_quantizer import calibrator, quantizer, recipe_manager
        from ai_edge_quantizer.utils import qsv_utils
    except ImportError as exc:
        raise tflite_extra_error(exc, "--format tflite --int8") from None
    feeds = step_feeds(float_path, samples)
    blob = Path(float_path).read_bytes()
    try:
        with quiet():
            model_recipe = step_recipe(recipe_manager, step_bits)
            q = quantizer.Quantizer(str(float_path), model_recipe)
            manager = recipe_manager.RecipeManager()
            manager.load_quantization_recipe(model_recipe)
            calib = calibrator.Calibrator(blob, num_threads=1, qsv_update_func=qsv_utils.min_max_update)
            calib.calibrate({key: feeds[key] for key in SIGNATURES}, manager)
            ranges = calib.get_model_qsvs()
            widened = widen_dead_ranges(ranges)
            tie_ranges(ranges, signature_tensor_names(blob))
            result = q.quantize(ranges, enable_progress_report=False)
    except EdgepruneError:
        raise
    except Exception as exc:
        raise EdgepruneError(f"TFLite int8 quantisation failed (--lstm step): {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:300]}") from None
    out_path.write_bytes(add_tflite_metadata(bytes(result.quantized_model), {**metadata, "lstm": "step", "lstm_chunk": metadata_chunk(float_path)}))
    return {"calibration_samples": len(feeds["pre"]), "calibration_steps": len(feeds["step"]),
            "recipe": RECIPE if step_bits == 8 else f"{RECIPE}, step: static_wi8_ai16",
            "calibration": "min_max", "dead_tensors": widened, "tied_ranges": len(TIED)}


# Measured on a CPLR misp-audio at WSR 0.8 (synth, 600 test clips): int8 everywhere kept 98.7 % of the decisions
# (refused by the gate; the unrolled file, whose every time step has its own ranges, kept 99.3 %); int16 in `step`
# kept 100 % of 200 clips at the same size, but its int16 kernels made a clip 1.8x slower.
def step_recipe(recipe_manager, step_bits: int):
    """static_wi8_ai8 for every op; with step_bits 16, int16 activations for the ops of `step` (their tensors are
    named 'step:...' by tflite_step.prefix_tensor_names, the signature's own inputs and outputs 'step_...')."""
    try:
        from ai_edge_quantizer.algorithm_manager import AlgorithmName
        from ai_edge_quantizer.qtyping import TFLOperationName
    except ImportError as exc:
        raise tflite_extra_error(exc, "--format tflite --int8") from None

    if step_bits not in (8, 16):
        raise EdgepruneError(f"--lstm-step-bits {step_bits}: choose 8 or 16")
    manager = recipe_manager.RecipeManager()
    for regex, bits in ((".*", 8), ("^step", step_bits)):
        manager.add_static_config(regex=regex, operation_name=TFLOperationName.ALL_SUPPORTED, activation_num_bits=bits,
                                  weight_num_bits=8, algorithm_key=AlgorithmName.MIN_MAX_UNIFORM_QUANT)
    return manager.get_quantization_recipe()


def metadata_chunk(float_path: Path) -> str:
    from edgeprune.export.metadata import read_tflite_metadata

    return read_tflite_metadata(Path(float_path).read_bytes()).get("lstm_chunk", "")


def signature_tensor_names(blob: bytes) -> dict[tuple[str, str, str], str]:
    """{(signature, "inputs"|"outputs", name): tensor name} of a .tflite flatbuffer."""
    from edgeprune.export.metadata import _schema

    model = _schema().ModelT.InitFromPackedBuf(bytearray(blob), 0)
    names = {}
    for sig in model.signatureDefs or []:
        tensors = model.subgraphs[sig.subgraphIndex].tensors
        for side, entries in (("inputs", sig.inputs), ("outputs", sig.outputs)):
            for entry in entries or []:
                names[(_text(sig.signatureKey), side, _text(entry.name))] = _text(tensors[entry.tensorIndex].name)
    return names


def tie_ranges(ranges: dict, names: dict) -> None:
    """Give every TIED group of tensors the union of their calibrated ranges, in place."""
    for group in TIED:
        missing = [key for key in group if key not in names or names[key] not in ranges]
        if missing:
            raise EdgepruneError(f"stepped TFLite int8: no calibrated range for {'/'.join(missing[0])}")
        tensors = [names[key] for key in group]
        low = min(float(np.min(ranges[t]["min"])) for t in tensors)
        high = max(float(np.max(ranges[t]["max"])) for t in tensors)
        for t in tensors:
            ranges[t]["min"] = np.full(np.shape(ranges[t]["min"]), low, dtype=np.float32)
            ranges[t]["max"] = np.full(np.shape(ranges[t]["max"]), high, dtype=np.float32)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
