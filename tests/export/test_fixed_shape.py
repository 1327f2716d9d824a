"""`--fixed-shape` ONNX export: inputs fixed at one window, the one-input-channel Conv3d stem run as a Conv2d,
the same outputs as PyTorch (on a model whose outputs vary), from the API and the CLI; refused for TFLite."""

import json
import re
import sys
import textwrap

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import edgeprune
from edgeprune.cli import main
from edgeprune.errors import EdgepruneError
from edgeprune.export import export_model


LIPNET = textwrap.dedent(
    '''
    """A small lip net with misp-video's front end: Conv3d(1 -> C, 5x3x3, stride (1, 2, 2)) + BN + ReLU, then
    a per-frame conv, max over space, a linear score per frame and max over time."""
    import torch
    from torch import nn


    class LipNet(nn.Module):
        def __init__(self, channels=6):
            super().__init__()
            self.stem = nn.Conv3d(1, channels, (5, 3, 3), stride=(1, 2, 2), padding=(2, 1, 1), bias=False)
            self.bn = nn.BatchNorm3d(channels)
            self.conv = nn.Conv2d(channels, 8, 3, padding=1)
            self.fc = nn.Linear(8, 1)

        def forward(self, lips):
            b, t = lips.shape[0], lips.shape[1]
            x = torch.relu(self.bn(self.stem(lips.unsqueeze(1)))).transpose(1, 2)
            x = x.reshape(b * t, x.shape[2], x.shape[3], x.shape[4])
            x = torch.relu(self.conv(x)).amax((2, 3)).reshape(b, t, -1)
            return self.fc(x).amax(1).squeeze(-1)


    def build(channels=6):
        net = LipNet(channels)
        with torch.no_grad():  # BatchNorm statistics that are not the identity, logits spread over a range
            net.bn.running_mean.uniform_(-0.2, 0.2)
            net.bn.running_var.uniform_(0.5, 2.0)
            net.fc.weight.mul_(4.0)
        return net.eval()
    '''
)
SHAPE = (1, 9, 16, 16)


@pytest.fixture()
def lipnet(module_from_text, outputs_vary):
    export_lipnet = module_from_text("export_lipnet", LIPNET)
    torch.manual_seed(0)
    net = export_lipnet.build()
    outputs_vary(net, (torch.randn(16, *SHAPE[1:], generator=torch.Generator().manual_seed(1)),))
    yield export_lipnet, net
    sys.modules.pop("export_lipnet", None)


def _convs(path):
    model = onnx.load(str(path))
    weights = {i.name: i.dims for i in model.graph.initializer}
    return model, [len(weights[n.input[1]]) for n in model.graph.node if n.op_type == "Conv"]


def _inputs(path):
    return {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in onnx.load(str(path)).graph.input}


def test_fixed_shape_runs_the_conv3d_stem_as_conv2d_with_the_same_outputs(tmp_path, lipnet):
    _, net = lipnet
    example = (torch.randn(*SHAPE, generator=torch.Generator().manual_seed(2)),)
    plain = export_model(net, "onnx", tmp_path / "plain.onnx", example_inputs=example, input_names=("lips",))
    fixed = export_model(net, "onnx", tmp_path / "fixed.onnx", example_inputs=example, input_names=("lips",),
                         fixed_shape=True)
    assert _inputs(tmp_path / "plain.onnx")["lips"][0] == "batch"  # the plain file keeps its dynamic batch
    assert _inputs(tmp_path / "fixed.onnx") == {"lips": list(SHAPE)}
    assert sorted(_convs(tmp_path / "plain.onnx")[1]) == [4, 5]  # the Conv3d stem and the per-frame Conv2d
    assert sorted(_convs(tmp_path / "fixed.onnx")[1]) == [4, 4]  # the stem is a Conv2d now
    assert fixed["onnx"]["conv3d_as_conv2d"] == 1 and "conv3d_as_conv2d" not in plain["onnx"]
    assert fixed["parity"]["max_abs_diff"] < 1e-4
    # Re-read: one window at a time, the same logits as PyTorch on inputs whose logits differ.
    session = ort.InferenceSession(str(tmp_path / "fixed.onnx"), providers=["CPUExecutionProvider"])
    xs = torch.randn(6, *SHAPE[1:], generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = net(xs).numpy()
    got = np.concatenate([session.run(None, {"lips": xs[i : i + 1].numpy()})[0] for i in range(len(xs))])
    assert np.ptp(expected) > 0.1
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_fixed_shape_int8_keeps_decisions(tmp_path, lipnet):
    _, net = lipnet
    example = (torch.randn(*SHAPE, generator=torch.Generator().manual_seed(2)),)
    report = export_model(net, "onnx", tmp_path / "q.onnx", example_inputs=example, input_names=("lips",),
                          fixed_shape=True, int8=True, calib="random", calib_samples=40)
    assert report["onnx"]["conv3d_as_conv2d"] == 1
    assert report["parity_int8"]["decision_agreement"] >= 0.99
    assert _inputs(tmp_path / "q.onnx") == {"lips": list(SHAPE)}


def test_fixed_shape_from_the_cli_and_refused_for_tflite(tmp_path, lipnet, capsys):
    module, net = lipnet
    ckpt = edgeprune.save(net, tmp_path / "m.safetensors", factory="export_lipnet:build", factory_kwargs={},
                          inputs={"lips": list(SHAPE)})
    out, report = tmp_path / "m.onnx", tmp_path / "m.json"
    rc = main(["export", str(ckpt), "--format", "onnx", "--fixed-shape", "--out", str(out), "--trust-factory",
               "--json", str(report)])
    assert rc == 0
    assert re.search(r"^fixed shape +yes; 1 Conv3d run as Conv2d", capsys.readouterr().out, re.M)
    assert json.loads(report.read_text())["onnx"]["conv3d_as_conv2d"] == 1
    assert _inputs(out) == {"lips": list(SHAPE)}
    rc = main(["export", str(ckpt), "--format", "tflite", "--fixed-shape", "--out", str(tmp_path / "m.tflite"),
               "--trust-factory"])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().endswith("--fixed-shape is an ONNX option; TFLite files always have fixed shapes")
    assert not (tmp_path / "m.tflite").exists()
    with pytest.raises(EdgepruneError, match="--fixed-shape is an ONNX option"):
        export_model(net, "tflite", tmp_path / "n.tflite", example_inputs=(torch.randn(*SHAPE),),
                     input_names=("lips",), fixed_shape=True)
