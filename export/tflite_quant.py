"""TFLite full-integer int8: ai-edge-quantizer's static_wi8_ai8 recipe on the float file, calibrated on true min/max.

The result has int8 weights, int8 activations and int8 inputs/outputs (the LSTM included, PITFALLS.md);
runners quantise inputs with the input tensor's scale and zero point (export.runtimes does).

Calibration keeps the true min and max of every tensor over all calibration samples. ai-edge-quantizer's
default instead keeps a moving average (momentum 0.95) of each sample's min and max: the range of a typical
sample, not of the data. On a wake-word model most clips are negatives, so the per-frame logits' range
shrank to about [-14, 0.5] and every wake word's logit was clipped below the threshold: the default model's
int8 file gave one constant output (58.5 % identical decisions, the share of one class), while with the true
range it keeps 100 % (docs/BENCHMARKS.md).

A tensor that is zero on every calibration sample (a dead ReLU: a layer pruned to one channel that never fires)
gets a range of width 0, which the quantiser turns into a scale of ~4e-12; the requantisation scales of the ops
around it then fall outside what the kernels accept (XNNPACK: [2^-32, 256); the built-in FULLY_CONNECTED checks
too) and the file does not load ("failed to create XNNPACK runtime", pruned tv-video). `widen_dead_ranges` gives
such tensors a range of DEAD_RANGE_FRACTION of the model's median tensor range, which costs nothing: zero stays
exact, and nothing else was ever seen in them.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeprune.errors import EdgepruneError
from edgeprune.export.metadata import add_tflite_metadata
from edgeprune.export.tflite_extra import tflite_extra_error

SIGNATURE = "serving_default"  # the signature litert-torch writes
RECIPE = "static_wi8_ai8"
DEAD_RANGE_FRACTION = 0.01


def quantize_tflite(float_path: Path, out_path: Path, samples, metadata: dict[str, str]) -> dict:
    """Static int8 copy of `float_path` at `out_path`, calibrated on `samples` (export.samples.Samples)."""
    from edgeprune.export.quiet import quiet

    os.environ.setdefault("TQDM_DISABLE", "1")  # the quantiser's progress bars
    try:
        from ai_edge_quantizer import calibrator, quantizer, recipe, recipe_manager
        from ai_edge_quantizer.utils import qsv_utils
    except ImportError as exc:
        raise tflite_extra_error(exc, "--format tflite --int8") from None
    feeds = [{k: v[i : i + 1] for k, v in samples.inputs.items()} for i in range(len(samples))]
    try:
        with quiet():  # C++ logging through the file descriptors too, not only Python's streams
            model_recipe = getattr(recipe, RECIPE)()
            q = quantizer.Quantizer(str(float_path), model_recipe)
            ranges = calibrate_min_max(Path(float_path).read_bytes(), model_recipe, feeds, calibrator,
                                       recipe_manager, qsv_utils)
            widened = widen_dead_ranges(ranges)
            result = q.quantize(ranges, enable_progress_report=False)
    except Exception as exc:
        raise EdgepruneError(f"TFLite int8 quantisation failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
    out_path.write_bytes(add_tflite_metadata(bytes(result.quantized_model), metadata))
    return {"calibration_samples": len(feeds), "recipe": RECIPE, "calibration": "min_max", "dead_tensors": widened}


def calibrate_min_max(float_blob: bytes, model_recipe, feeds, calibrator, recipe_manager, qsv_utils) -> dict:
    """{tensor name: {"min", "max"}} over all `feeds` (ai-edge-quantizer's Quantizer.calibrate, with the
    min/max update in place of its moving average: see the module docstring)."""
    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(model_recipe)
    calib = calibrator.Calibrator(float_blob, num_threads=1, qsv_update_func=qsv_utils.min_max_update)
    calib.calibrate({SIGNATURE: feeds}, manager)
    return calib.get_model_qsvs()


def widen_dead_ranges(qsvs: dict) -> list[str]:
    """Give every float tensor whose calibrated range (zero included) is narrower than DEAD_RANGE_FRACTION of
    the median range the width of that floor, in place (see the module docstring) -> the names widened."""
    import numpy as np

    spans = {}
    for name, qsv in qsvs.items():
        low, high = qsv.get("min"), qsv.get("max")
        if low is None or high is None or np.asarray(low).dtype.kind != "f":
            continue
        spans[name] = float(np.max(np.maximum(high, 0)) - np.min(np.minimum(low, 0)))
    live = [v for v in spans.values() if v > 0]
    if not live:
        return []
    floor = DEAD_RANGE_FRACTION * float(np.median(live))
    widened = [name for name, span in spans.items() if span < floor]
    for name in widened:
        low = np.minimum(np.asarray(qsvs[name]["min"], dtype=np.float32), 0)
        qsvs[name]["min"] = low
        qsvs[name]["max"] = np.maximum(np.asarray(qsvs[name]["max"], dtype=np.float32), low + floor)
    return widened
