"""TFLite full-integer int8: ai-edge-quantizer's static_wi8_ai8 recipe on the float file, calibrated on true min/max.

The result has int8 weights, int8 activations and int8 inputs/outputs (the LSTM included, PITFALLS.md);
runners quantise inputs with the input tensor's scale and zero point (export.runtimes does).

Calibration keeps the true min and max of every tensor over all calibration samples. ai-edge-quantizer's
default instead keeps a moving average (momentum 0.95) of each sample's min and max: the range of a typical
sample, not of the data. On a wake-word model most clips are negatives, so the per-frame logits' range
shrank to about [-14, 0.5] and every wake word's logit was clipped below the threshold: the default model's
int8 file gave one constant output (58.5 % identical decisions, the share of one class), while with the true
range it keeps 100 % (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeprune.errors import EdgepruneError
from edgeprune.export.metadata import add_tflite_metadata
from edgeprune.export.tflite_extra import tflite_extra_error

SIGNATURE = "serving_default"  # the signature litert-torch writes
RECIPE = "static_wi8_ai8"


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
            result = q.quantize(ranges, enable_progress_report=False)
    except Exception as exc:
        raise EdgepruneError(f"TFLite int8 quantisation failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
    out_path.write_bytes(add_tflite_metadata(bytes(result.quantized_model), metadata))
    return {"calibration_samples": len(feeds), "recipe": RECIPE, "calibration": "min_max"}


def calibrate_min_max(float_blob: bytes, model_recipe, feeds, calibrator, recipe_manager, qsv_utils) -> dict:
    """{tensor name: {"min", "max"}} over all `feeds` (ai-edge-quantizer's Quantizer.calibrate, with the
    min/max update in place of its moving average: see the module docstring)."""
    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(model_recipe)
    calib = calibrator.Calibrator(float_blob, num_threads=1, qsv_update_func=qsv_utils.min_max_update)
    calib.calibrate({SIGNATURE: feeds}, manager)
    return calib.get_model_qsvs()
