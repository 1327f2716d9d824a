"""ONNX export: dynamic axes, metadata, parity with PyTorch, int8 QDQ, the gate and the error messages."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

import edgeprune
from edgeprune.errors import EdgepruneError
from edgeprune.export import export_model
from edgeprune.export.metadata import read_onnx_metadata


def prune_conv(net, keep):
    """Physically remove conv output channels (and the BN and LSTM input columns that follow), by hand."""
    idx = torch.tensor(keep)
    net.conv.weight = nn.Parameter(net.conv.weight.detach()[idx].clone())
    net.conv.bias = nn.Parameter(net.conv.bias.detach()[idx].clone())
    net.conv.out_channels = len(keep)
    net.bn.weight = nn.Parameter(net.bn.weight.detach()[idx].clone())
    net.bn.bias = nn.Parameter(net.bn.bias.detach()[idx].clone())
    net.bn.running_mean, net.bn.running_var = net.bn.running_mean[idx].clone(), net.bn.running_var[idx].clone()
    net.bn.num_features = len(keep)
    net.lstm.weight_ih_l0 = nn.Parameter(net.lstm.weight_ih_l0.detach()[:, idx].clone())
    net.lstm.input_size = len(keep)
    net.lstm._init_flat_weights()
    return net


@pytest.mark.parametrize("pruned", [False, True], ids=["dense", "pruned"])
def test_float_onnx_matches_torch_and_carries_metadata(tmp_path, standin, fbank, pruned):
    net = standin.build().eval()
    if pruned:
        prune_conv(net, [0, 3, 4, 9, 15])
    out = tmp_path / "m.onnx"
    report = export_model(net, "onnx", out, example_inputs=fbank, input_names=("fbank",),
                          meta={"method": "cplr", "wsr": 0.5, "feature_stats": {"mean": [0.0] * 40, "std": [1.0] * 40}})
    assert report["parity"]["max_abs_diff"] <= 1e-4 and report["parity"]["passed"]
    assert report["onnx"]["shapes"]["fbank"] == ["batch", "frames", 40]
    assert report["onnx"]["simplified"] == "yes"
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["fbank"] and [o.name for o in proto.graph.output] == ["logit"]
    meta = read_onnx_metadata(out)
    assert meta["params"] == str(sum(p.numel() for p in net.parameters()))
    assert meta["method"] == "cplr" and meta["wsr"] == "0.5" and meta["quantization"] == "float"
    assert meta["edgeprune_version"] == edgeprune.__version__ and meta["feature_stats"].startswith('{"mean"')
    assert int(meta["macs"]) == report["macs"] > 0
    # batch and time really are dynamic: another batch size and clip length still match PyTorch
    x = torch.randn(4, 47, 40)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        np.testing.assert_allclose(session.run(None, {"fbank": x.numpy()})[0], net(x).numpy(), atol=1e-4)


def test_no_simplify_keeps_the_exporter_graph(tmp_path, standin, fbank):
    report = export_model(standin.build(), "onnx", tmp_path / "m.onnx", simplify=False, example_inputs=fbank,
                          input_names=("fbank",))
    assert report["onnx"]["simplified"] == "off" and report["parity"]["passed"]


def test_int8_onnx_is_quantised_and_agrees(tmp_path, standin, fbank):
    net = standin.build()
    out = tmp_path / "q.onnx"
    report = export_model(net, "onnx", out, int8=True, calib="random", example_inputs=fbank, input_names=("fbank",))
    ops = [n.op_type for n in onnx.load(str(out)).graph.node]
    assert ops.count("QuantizeLinear") > 0 and ops.count("DequantizeLinear") == report["quantization"]["quantized_nodes"]
    assert report["parity_int8"]["decision_agreement"] >= 0.99 and report["parity_int8"]["samples"] == 100
    assert 0 < report["parity_int8"]["max_prob_diff"] < 0.1
    assert read_onnx_metadata(out)["quantization"] == "int8"
    assert report["size_bytes"] == out.stat().st_size == report["int8_size_bytes"]
    # the LSTM too: int8 weights through onnxruntime's DynamicQuantizeLSTM, next to the static QDQ layers
    quant = report["quantization"]
    assert "DynamicQuantizeLSTM" in ops and "LSTM" not in ops and quant["float_ops_left"] == []
    assert quant["layers"]["LSTM"] == {"int8": 1, "float": 0} and quant["layers"]["Conv"] == {"int8": 1, "float": 0}
    assert sum(v["float"] for v in quant["layers"].values()) == 0
    lstm_weights = 4 * 12 * (16 + 12)  # gates x hidden x (input + hidden)
    # uint8 weights beside uint8 activations: no u8 x s8 pairs, which saturate on x86 CPUs without VNNI
    # (onnxruntime's LSTM quantiser writes int8 whatever it is asked: those weights are cut to 7 bits instead)
    model = onnx.load(str(out))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    lstm = next(n for n in model.graph.node if n.op_type == "DynamicQuantizeLSTM")
    for w in lstm.input[1:3]:
        assert inits[w].dtype == np.int8 and np.abs(inits[w].astype(int)).max() == 63
    assert quant["weight_bytes"]["uint8"] >= 16 * 40 * 3 and quant["weight_bytes"]["int8"] == lstm_weights + 2  # + W, R zero points
    assert quant["weight_bytes"].get("float32", 0) < lstm_weights  # what stays float: biases, scales


def test_failed_gate_leaves_nothing_and_keeps_old_file(tmp_path, standin, fbank, monkeypatch):
    from edgeprune.export import parity

    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous export")
    monkeypatch.setattr(parity, "FLOAT_TOL", -1.0)  # any difference, even 0, fails
    with pytest.raises(EdgepruneError, match=r"parity gate failed for onnx float: max \|runtime - torch\|"):
        export_model(standin.build(), "onnx", out, example_inputs=fbank, input_names=("fbank",))
    assert out.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "pkg"]


def test_int8_without_calibration_is_refused(tmp_path, standin, fbank):
    with pytest.raises(EdgepruneError, match="int8 export needs calibration data"):
        export_model(standin.build(), "onnx", tmp_path / "m.onnx", int8=True, example_inputs=fbank, input_names=("fbank",))


def test_unknown_format_and_wrong_suffix(tmp_path, standin, fbank):
    with pytest.raises(EdgepruneError, match="unknown export format 'coreml'"):
        export_model(standin.build(), "coreml", tmp_path / "m.mlmodel")
    with pytest.raises(EdgepruneError, match=r"must end in \.onnx"):
        export_model(standin.build(), "onnx", tmp_path / "m.tflite", example_inputs=fbank, input_names=("fbank",))


class _Spectral(nn.Module):
    def forward(self, x):
        return torch.linalg.svdvals(x)


class _Rejected(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(40, 4)
        self.spectral = _Spectral()

    def forward(self, fbank):
        return self.spectral(self.fc(fbank)).sum(-1).mean(-1)


def test_rejected_op_is_named_with_its_layer(tmp_path, fbank):
    out = tmp_path / "m.onnx"
    with pytest.raises(EdgepruneError, match=r"ONNX export failed: the converter rejects op aten[.:]+linalg_svd.* "
                                             r"in layer spectral \(_Spectral\)"):
        export_model(_Rejected(), "onnx", out, example_inputs=fbank, input_names=("fbank",))
    assert not out.exists()
