"""PyTorch -> TFLite (float) through litert-torch, without TensorFlow; fixed shapes, batch 1, NCHW kept.

Inputs are passed as keyword arguments so the signature's inputs carry the model's input names.
litert-torch is the optional extra `tflite`: imported here only, with an error naming the extra.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from edgeprune.export.metadata import add_tflite_metadata
from edgeprune.export.tflite_extra import tflite_extra_error
from edgeprune.export.unsupported import converter_error


class _Keywords(torch.nn.Module):
    """Calls the model positionally with inputs given by name (litert-torch names inputs after kwargs)."""

    def __init__(self, model, names):
        super().__init__()
        self.model = model
        self.names = tuple(names)

    def forward(self, **inputs):
        return self.model(*(inputs[n] for n in self.names))


def import_litert_torch():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import litert_torch
    except ImportError as exc:
        raise tflite_extra_error(exc) from None
    return litert_torch


def to_tflite(source, path: Path, metadata: dict[str, str]) -> dict:
    """Write `source` (ExportSource) as a float .tflite at `path`; return {shapes, what was rewritten}."""
    from edgeprune.export.quiet import quiet

    with quiet():  # the import alone prints absl, oneDNN, torchao "Failed to load ...so" and torch lines
        litert_torch = import_litert_torch()
    from edgeprune.export.tflite_conv3d import replace_conv3d
    from edgeprune.export.tflite_lstm import fold_lstm_biases

    model, folded = fold_lstm_biases(source.model)  # same maths; no per-step bias copies in int8 (tflite_lstm)
    model, conv3d = replace_conv3d(model)  # the converter segfaults on Conv3d (tflite_conv3d)
    wrapped = _Keywords(model, source.input_names).eval()
    kwargs = dict(zip(source.input_names, source.example))
    try:
        with quiet():
            converted = litert_torch.convert(wrapped, sample_kwargs=kwargs)
            blob = converted.model_content()
    except Exception as exc:
        raise converter_error("TFLite conversion", exc, source.model, source.example) from None
    path.write_bytes(add_tflite_metadata(bytes(blob), metadata))
    return {"shapes": {n: list(t.shape) for n, t in kwargs.items()}, "lstm_biases_folded": folded,
            "conv3d_as_conv2d": conv3d}
