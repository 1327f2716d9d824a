"""PyTorch -> ONNX: torch.onnx.export (TorchScript exporter, opset 17), onnx.checker, onnxsim, metadata_props.

Why not the dynamo exporter (torch 2.13): it takes 10-20 s on a 3 k-parameter LSTM net, and from the second
export of an LSTM in one process it silently fixes a time axis that was declared dynamic. The TorchScript
exporter takes well under a second; opset 17 is read by onnxruntime and by the onnx2tf route. Batch and
time axes are declared dynamic, then probed in onnxruntime at other sizes; if the probe disagrees with
PyTorch, the export is redone with batch only dynamic, then with fixed shapes. The report lists the shapes.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import torch

from edgeprune.export.onnx_lean import lean
from edgeprune.export.unsupported import converter_error

OPSET = 17
PROBE_TOL = 1e-4
# input name -> axes that may vary at run time (the feature/pixel axes are fixed by the model).
DYNAMIC_AXES = {"fbank": {0: "batch", 1: "frames"}, "lips": {0: "batch", 1: "lip_frames"}}


def to_onnx(source, path: Path, metadata: dict[str, str], simplify: bool = True, fixed_shape: bool = False) -> dict:
    """Write `source` (ExportSource) to `path`; return {opset, simplified, dynamic_axes, ...}.

    `fixed_shape`: every axis at the example's size (batch 1, the model's window), the shape arithmetic of the
    dynamic axes folded away, and a one-input-channel Conv3d run as a Conv2d over stacked frames
    (export/stem2d.py: onnxruntime's 3-D im2col does not shrink with the pruned width, its 2-D NCHWc kernel does)."""
    import onnx

    proto, failure = None, None
    for axes in ((),) if fixed_shape else ((0, 1), (0,), ()):  # batch + time dynamic, else batch only, else fixed
        try:
            candidate = _export(source, axes)
        except Exception as exc:
            failure = exc
            continue
        if not axes or _probe(candidate, source, axes):
            proto = candidate
            break
    if proto is None:
        raise converter_error("ONNX export", failure, source.model, source.example) from None
    onnx.checker.check_model(proto, full_check=True)
    simplified = "off"
    if simplify:
        proto, simplified = _simplify(proto)
    conv3d_as_2d = 0
    if fixed_shape:
        from edgeprune.export import stem2d

        proto, conv3d_as_2d = stem2d.rewrite(proto)
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = f"edgeprune export of {source.name}"
    lean(proto)  # no shape annotations, short initializer names: bytes no runtime reads
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))
    report = {"opset": OPSET, "simplified": simplified, "shapes": _dynamic_axes(proto), "nodes": len(proto.graph.node)}
    if fixed_shape:
        report["conv3d_as_conv2d"] = conv3d_as_2d
    return report


def _simplify(proto):
    import onnxsim

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            simple, ok = onnxsim.simplify(proto)
    except Exception as exc:  # onnxsim failing leaves a valid, unsimplified model: report it, keep going
        return proto, f"failed: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
    if not ok:
        return proto, "failed: onnxsim's check did not pass; kept the unsimplified graph"
    return simple, "yes"


def _dynamic(input_names, output_name, axes) -> dict:
    """torch.onnx dynamic_axes for the chosen axes of every input (and the output's batch axis)."""
    dynamic = {}
    for name in input_names:
        wanted = DYNAMIC_AXES.get(name, {0: "batch"})
        chosen = {a: wanted[a] for a in axes if a in wanted}
        if chosen:
            dynamic[name] = chosen
    if 0 in axes:
        dynamic[output_name] = {0: "batch"}
    return dynamic


def _export(source, axes):
    import onnx

    buffer = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            source.model, source.example, buffer, dynamo=False, opset_version=OPSET,
            input_names=list(source.input_names), output_names=[source.output_name],
            dynamic_axes=_dynamic(source.input_names, source.output_name, axes), do_constant_folding=True,
        )
    return onnx.load_from_string(buffer.getvalue())


def _probe(proto, source, axes) -> bool:
    """True when onnxruntime matches PyTorch at other sizes of the dynamic axes (batch 3, time - 5)."""
    import numpy as np
    import onnxruntime as ort

    gen = torch.Generator().manual_seed(3)
    inputs = []
    for name, t in zip(source.input_names, source.example):
        shape = list(t.shape)
        wanted = DYNAMIC_AXES.get(name, {0: "batch"})
        if 0 in axes:
            shape[0] = 3
        if 1 in axes and 1 in wanted and shape[1] > 6:
            shape[1] -= 5
        inputs.append(torch.randn(*shape, generator=gen))
    try:
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        got = session.run(None, {n: x.numpy() for n, x in zip(source.input_names, inputs)})[0]
        with torch.no_grad():
            expected = source.model(*inputs).numpy()
    except Exception:
        return False
    return got.shape == expected.shape and float(np.max(np.abs(got - expected))) <= PROBE_TOL


def _dynamic_axes(proto) -> dict[str, list]:
    """{input name: shape with names for dynamic axes and ints for fixed ones}."""
    return {
        v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in list(proto.graph.input) + list(proto.graph.output)
    }

