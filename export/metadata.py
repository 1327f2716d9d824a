"""The key/value metadata every exported file carries (ONNX metadata_props, a TFLite metadata entry).

Keys: model, task, inputs, output, threshold, params, macs, wsr, method, edgeprune_version, quantization,
and feature_stats when the checkpoint has them. Values are strings (JSON for structured ones).
"""

from __future__ import annotations

import importlib
import json

import numpy as np

from edgeprune.errors import EdgepruneError

# Name of the TFLite Model.metadata entry that holds the JSON of the same dict.
TFLITE_METADATA_NAME = "edgeprune"


def build_metadata(source, quantization: str) -> dict[str, str]:
    """The metadata of `source` (export.source.ExportSource) exported with `quantization` ("float"|"int8")."""
    from edgeprune import __version__, count

    counts = count(source.model, source.example)
    meta = source.meta
    wsr = meta.get("wsr")
    if wsr is None:
        wsr = _measured_wsr(source, counts.params)
    values = {
        "model": source.name,
        "task": source.task,
        "inputs": json.dumps({n: list(t.shape) for n, t in zip(source.input_names, source.example)}),
        "output": source.output_name,
        "threshold": source.threshold,
        "params": counts.params,
        "macs": counts.macs,
        "wsr": "" if wsr is None else round(float(wsr), 6),
        "method": meta.get("method") or "",
        "edgeprune_version": __version__,
        "quantization": quantization,
    }
    if meta.get("feature_stats") is not None:
        values["feature_stats"] = json.dumps(meta["feature_stats"])
    return {k: str(v) for k, v in values.items()}


def _measured_wsr(source, params_now: int) -> float | None:
    """1 - params / dense params, the dense model rebuilt from the zoo record; None for non-zoo models."""
    arch = source.meta.get("arch") or {}
    if "zoo" not in arch:
        return None
    from edgeprune import models

    dense = models.build(arch["zoo"], **(arch.get("cfg") or {}))
    dense_params = sum(p.numel() for p in {id(p): p for p in dense.parameters()}.values())
    del dense
    return 1.0 - params_now / dense_params


def add_tflite_metadata(blob: bytes, values: dict[str, str]) -> bytes:
    """A copy of the .tflite flatbuffer `blob` with a metadata entry holding `values` as JSON."""
    import flatbuffers

    from edgeprune.export.tflite_names import shorten_tensor_names

    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(blob), 0)
    shorten_tensor_names(model)
    for stored in model.buffers or []:
        # ai-edge-quantizer writes large constants after the flatbuffer (offset/size into the file); a
        # repacked file moves them, so they are inlined first (valid for files under 2 GB).
        if getattr(stored, "offset", 0) > 1:
            stored.data = np.frombuffer(blob[stored.offset : stored.offset + stored.size], dtype=np.uint8)
            stored.offset, stored.size = 0, 0
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(values).encode(), dtype=np.uint8)
    model.buffers = (model.buffers or []) + [buffer]
    entry = schema.MetadataT()
    entry.name = TFLITE_METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if _name(m.name) != TFLITE_METADATA_NAME] + [entry]
    builder = flatbuffers.Builder(len(blob) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def read_tflite_metadata(blob: bytes) -> dict[str, str]:
    """The edgeprune metadata of a .tflite flatbuffer ({} when it has none)."""
    schema = _schema()
    if len(blob) < 8 or blob[4:8] != b"TFL3":  # every TFLite flatbuffer carries this file identifier
        raise EdgepruneError("not a TFLite model (no TFL3 identifier: truncated or another format)")
    try:
        model = schema.Model.GetRootAs(bytearray(blob), 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if _name(entry.Name()) == TFLITE_METADATA_NAME:
                data = model.Buffers(entry.Buffer()).DataAsNumpy()
                return json.loads(bytes(data).decode())
    except Exception as e:  # a cut or edited flatbuffer fails anywhere in the generated accessors
        raise EdgepruneError(f"not a readable TFLite model (truncated or corrupt: {e or type(e).__name__})") from e
    return {}


def read_onnx_metadata(path) -> dict[str, str]:
    """metadata_props of an .onnx file, without loading its weights."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError) as e:
        raise EdgepruneError(f"{path}: not a readable ONNX model (truncated or corrupt: {e})") from e
    return {p.key: p.value for p in proto.metadata_props}


def _name(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _schema():
    """The TFLite flatbuffer schema module (shipped with ai-edge-litert, and with litert-torch's converter)."""
    for module_name in ("ai_edge_litert.schema_py_generated", "litert_converter.schema_py_generated"):
        try:
            return importlib.import_module(module_name)
        except ImportError:
            continue
    raise EdgepruneError("TFLite metadata needs the 'tflite' extra: pip install 'edgeprune[tflite]'")
