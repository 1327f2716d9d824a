"""ONNX int8: static QDQ (8-bit weights per channel, uint8 activations, calibrated) for convolutions and linear
layers, then 8-bit LSTM weights through onnxruntime's dynamic quantisation, so the whole model shrinks.

onnxruntime's static quantiser covers Conv, MatMul, Gemm, pooling and the like, but not LSTM (it quantises
LSTM only dynamically); an LSTM left in float kept tv-audio's int8 file at 0.71x of float. A second pass of
`quantize_dynamic` restricted to LSTM turns it into com.microsoft DynamicQuantizeLSTM (int8 weights, float
state), which onnxruntime's CPU provider runs: 0.28x of float, decisions unchanged (docs/BENCHMARKS.md).
The report counts the quantised nodes and gives per layer type how many are int8 and the weight bytes.

Weights are uint8, like the activations, by default. With int8 weights beside uint8 activations (U8S8),
onnxruntime's x86 kernels on CPUs without VNNI (AVX2, AVX-512 before Cascade Lake, AMD before Zen 4) multiply
with VPMADDUBSW, whose int16 pair sums saturate: the README's default model gave 100 % of the float model's
decisions on a VNNI machine and 76.8 % under an AVX2 CPU (qemu-x86_64 -cpu Haswell; benchmarks/int8_isa.py),
and CI on such a machine refused it.
uint8 weights (U8U8) take a kernel without that saturation on every x86 and ARM CPU, at the same size; the
LSTM's weights, which onnxruntime writes as int8 regardless, are cut to 7 bits. (reduce_range, 7-bit weights
everywhere, also avoids it, but took the MobileNet lip encoder below the gate's cosine.)
tests/export/test_int8_portable.py runs the files under qemu's emulated Haswell (AVX2, no VNNI).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeprune.errors import EdgepruneError
from edgeprune.export.onnx_lean import lean

RECURRENT = ("LSTM", "GRU", "RNN")
DYNAMIC_RECURRENT = ("LSTM",)  # what onnxruntime's dynamic quantiser takes (GRU and RNN stay float)
WEIGHTED = ("Conv", "ConvTranspose", "Gemm", "MatMul") + RECURRENT


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over a list of feed dicts (one sample each)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._feeds = feeds
        self._iter = iter(feeds)

    def get_next(self):
        return next(self._iter, None)

    def rewind(self):
        self._iter = iter(self._feeds)


WEIGHT_TYPES = ("uint8", "int8")


def quantize_onnx(float_path: Path, out_path: Path, samples, metadata: dict[str, str], weights: str = "uint8") -> dict:
    """8-bit copy of `float_path` at `out_path`, calibrated on `samples` (export.samples.Samples). `weights`
    "int8" (U8S8) is faster on x86 CPUs with VNNI but saturates on x86 CPUs without VNNI (module docstring)."""
    import onnx
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edgeprune.export.quiet import quiet

    prepared = out_path.with_name(out_path.stem + ".prep.onnx")
    static = out_path.with_name(out_path.stem + ".static.onnx")
    if weights not in WEIGHT_TYPES:
        raise EdgepruneError(f"ONNX weights {weights!r}: choose one of {', '.join(WEIGHT_TYPES)}")
    weight_type = QuantType.QUInt8 if weights == "uint8" else QuantType.QInt8
    feeds = [{k: v[i : i + 1] for k, v in samples.inputs.items()} for i in range(len(samples))]
    try:
        with quiet():  # quantize_dynamic logs "Please check if the model is already quantized" on a QDQ graph
            # onnxruntime's symbolic shape inference crashes on the exporter's Squeeze (axes as an input); onnx's own runs.
            quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
            quantize_static(
                str(prepared), str(static), _Reader(feeds), quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8, weight_type=weight_type, per_channel=True,
                calibrate_method=CalibrationMethod.MinMax,
            )
            recurrent = [n for n in onnx.load(str(static)).graph.node if n.op_type in DYNAMIC_RECURRENT]
            if recurrent:
                quantize_dynamic(str(static), str(out_path), op_types_to_quantize=list(DYNAMIC_RECURRENT),
                                 weight_type=weight_type)
                if weights == "uint8":
                    _lstm_weights_to_7_bits(out_path)
            else:
                static.replace(out_path)
    except Exception as exc:
        raise EdgepruneError(f"ONNX int8 quantisation failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
    finally:
        prepared.unlink(missing_ok=True)
        static.unlink(missing_ok=True)
    proto = onnx.load(str(out_path))
    onnx.helper.set_model_props(proto, metadata)
    lean(proto)  # the quantiser's long names and shape annotations: a fifth of a small model's int8 file
    onnx.save(proto, str(out_path))
    ops = [n.op_type for n in proto.graph.node]
    return {
        "calibration_samples": len(feeds),
        "quantized_nodes": ops.count("DequantizeLinear"),
        "float_ops_left": sorted({o for o in ops if o in RECURRENT}),
        "layers": layer_precision(proto),
        "weight_bytes": weight_bytes(proto),
    }


def _lstm_weights_to_7_bits(path: Path) -> None:
    """onnxruntime's LSTM quantiser writes int8 weights whatever weight_type says (operators/lstm.py), so the
    DynamicQuantizeLSTM would multiply uint8 inputs by full-range int8 weights, the pairing that saturates
    without VNNI (module docstring): halve their range to 7 bits (|q| <= 63, scale x 127/63), as
    onnxruntime's own reduce_range does for the other layers, at the cost of one bit of those weights."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    inits = {i.name: i for i in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type != "DynamicQuantizeLSTM":
            continue
        for weight, scale in ((node.input[1], node.input[8]), (node.input[2], node.input[10])):
            q = numpy_helper.to_array(inits[weight]).astype(np.float32)
            s = numpy_helper.to_array(inits[scale]).astype(np.float32)
            inits[weight].CopyFrom(numpy_helper.from_array(np.clip(np.round(q * 63 / 127), -63, 63).astype(np.int8), weight))
            inits[scale].CopyFrom(numpy_helper.from_array((s * 127 / 63).astype(np.float32), scale))
    onnx.save(proto, str(path))


def layer_precision(proto) -> dict[str, dict[str, int]]:
    """{layer type: {"int8": n, "float": n}} over the weighted layers (Conv, Gemm/MatMul, LSTM, ...).

    A layer is int8 when its weight is an int8 tensor: a static QDQ layer reads it through a DequantizeLinear
    of an int8 initializer; a dynamically quantised LSTM (DynamicQuantizeLSTM) holds it directly."""
    import onnx

    int8_inits = {i.name for i in proto.graph.initializer if i.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)}
    dequantised = {n.output[0] for n in proto.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in int8_inits}
    inits = {i.name for i in proto.graph.initializer}
    counts: dict[str, dict[str, int]] = {}
    for node in proto.graph.node:
        kind = "LSTM" if node.op_type == "DynamicQuantizeLSTM" else node.op_type
        if kind not in WEIGHTED or len(node.input) < 2:
            continue
        weight = node.input[1]
        if kind in ("MatMul", "Gemm") and weight not in inits and weight not in dequantised:
            continue  # an activation x activation product: no weights to quantise
        int8 = node.op_type == "DynamicQuantizeLSTM" or weight in dequantised or weight in int8_inits
        entry = counts.setdefault(kind, {"int8": 0, "float": 0})
        entry["int8" if int8 else "float"] += 1
    return counts


def weight_bytes(proto) -> dict[str, int]:
    """Bytes of the initializers by element type ({"int8": ..., "float32": ...})."""
    from onnx import helper, numpy_helper

    sizes: dict[str, int] = {}
    for init in proto.graph.initializer:
        name = np.dtype(helper.tensor_dtype_to_np_dtype(init.data_type)).name
        sizes[name] = sizes.get(name, 0) + int(numpy_helper.to_array(init).nbytes)
    return dict(sorted(sizes.items()))
