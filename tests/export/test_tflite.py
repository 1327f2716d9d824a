"""TFLite export through litert-torch: float parity, int8 (static_wi8_ai8) with int8 I/O, metadata entry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgeprune.export import export_model
from edgeprune.export.metadata import read_tflite_metadata
from edgeprune.export.runtimes import _dequantise, _quantise, open_runner


@pytest.mark.slow
def test_tflite_float_and_int8(tmp_path, standin, fbank):
    net = standin.build().eval()
    out = tmp_path / "m.tflite"
    report = export_model(net, "tflite", out, example_inputs=fbank, input_names=("fbank",), meta={"method": "lth-if"})
    assert report["parity"]["max_abs_diff"] <= 1e-4 and report["tflite"]["shapes"] == {"fbank": [1, 30, 40]}
    meta = read_tflite_metadata(out.read_bytes())
    assert meta["method"] == "lth-if" and meta["output"] == "logit" and meta["quantization"] == "float"
    runner = open_runner(out)
    assert runner.input_names == ["fbank"]
    x = torch.randn(3, 30, 40)
    with torch.no_grad():
        np.testing.assert_allclose(runner({"fbank": x.numpy()}), net(x).numpy(), atol=1e-4)

    q = tmp_path / "q.tflite"
    report8 = export_model(net, "tflite", q, int8=True, calib="random", samples=100, calib_samples=100,
                           example_inputs=fbank, input_names=("fbank",))
    assert report8["parity_int8"]["decision_agreement"] >= 0.99
    assert read_tflite_metadata(q.read_bytes())["quantization"] == "int8"
    runner8 = open_runner(q)
    assert np.dtype(runner8.inputs[0]["dtype"]) == np.int8  # full-integer I/O


def test_int8_io_round_trip():
    detail = {"dtype": np.int8, "quantization": (0.05, -3)}
    x = np.array([[-1.0, 0.0, 0.52, 100.0]], dtype=np.float32)
    q = _quantise(x, detail)
    assert q.dtype == np.int8 and q.tolist() == [[-23, -3, 7, 127]]
    np.testing.assert_allclose(_dequantise(q, detail), [[-1.0, 0.0, 0.5, 6.5]], atol=1e-6)
