"""ONNX int8: onnxruntime.quantization static QDQ (int8 weights per channel, uint8 activations), calibrated.

onnxruntime's static quantiser covers Conv, MatMul, Gemm, pooling and the like; an LSTM stays float in
the int8 file (onnxruntime quantises LSTM only dynamically). The report counts the quantised nodes.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from edgeprune.errors import EdgepruneError


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over a list of feed dicts (one sample each)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._feeds = feeds
        self._iter = iter(feeds)

    def get_next(self):
        return next(self._iter, None)

    def rewind(self):
        self._iter = iter(self._feeds)


def quantize_onnx(float_path: Path, out_path: Path, samples, metadata: dict[str, str]) -> dict:
    """Static QDQ int8 copy of `float_path` at `out_path`, calibrated on `samples` (export.samples.Samples)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = out_path.with_name(out_path.stem + ".prep.onnx")
    feeds = [{k: v[i : i + 1] for k, v in samples.inputs.items()} for i in range(len(samples))]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            # onnxruntime's symbolic shape inference crashes on the exporter's Squeeze (axes as an input); onnx's own runs.
            quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
            quantize_static(
                str(prepared), str(out_path), _Reader(feeds), quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                calibrate_method=CalibrationMethod.MinMax,
            )
    except Exception as exc:
        raise EdgepruneError(f"ONNX int8 quantisation failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
    finally:
        prepared.unlink(missing_ok=True)
    proto = onnx.load(str(out_path))
    onnx.helper.set_model_props(proto, metadata)
    onnx.save(proto, str(out_path))
    ops = [n.op_type for n in proto.graph.node]
    return {
        "calibration_samples": len(feeds),
        "quantized_nodes": ops.count("DequantizeLinear"),
        "float_ops_left": sorted({o for o in ops if o in ("LSTM", "GRU", "RNN")}),
    }
