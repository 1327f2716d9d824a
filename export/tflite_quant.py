"""TFLite full-integer int8: ai-edge-quantizer's static_wi8_ai8 recipe on the float file, calibrated.

The result has int8 weights, int8 activations and int8 inputs/outputs (the LSTM included, PITFALLS.md);
runners quantise inputs with the input tensor's scale and zero point (export.runtimes does).
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeprune.errors import EdgepruneError
from edgeprune.export.metadata import add_tflite_metadata
from edgeprune.export.tflite_extra import tflite_extra_error

SIGNATURE = "serving_default"  # the signature litert-torch writes


def quantize_tflite(float_path: Path, out_path: Path, samples, metadata: dict[str, str]) -> dict:
    """Static int8 copy of `float_path` at `out_path`, calibrated on `samples` (export.samples.Samples)."""
    from edgeprune.export.quiet import quiet

    os.environ.setdefault("TQDM_DISABLE", "1")  # the quantiser's progress bars
    try:
        from ai_edge_quantizer import quantizer, recipe
    except ImportError as exc:
        raise tflite_extra_error(exc, "--format tflite --int8") from None
    feeds = [{k: v[i : i + 1] for k, v in samples.inputs.items()} for i in range(len(samples))]
    try:
        with quiet():  # C++ logging through the file descriptors too, not only Python's streams
            q = quantizer.Quantizer(str(float_path), recipe.static_wi8_ai8())
            calibration = q.calibrate({SIGNATURE: feeds}, num_threads=1)
            result = q.quantize(calibration, enable_progress_report=False)
    except Exception as exc:
        raise EdgepruneError(f"TFLite int8 quantisation failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
    out_path.write_bytes(add_tflite_metadata(bytes(result.quantized_model), metadata))
    return {"calibration_samples": len(feeds), "recipe": "static_wi8_ai8"}
