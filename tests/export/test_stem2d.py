"""The Conv3d -> Conv2d-over-stacked-frames rewrite: same outputs as the Conv3d (and outputs that vary), only
rewritable convs touched, a clear refusal reason for the others."""

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn

from edgeprune.export import stem2d


class Stem(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.conv, self.after = conv, nn.Conv3d(conv.out_channels, 3, 1)

    def forward(self, x):
        return self.after(torch.relu(self.conv(x)))


def _export(module, shape, path):
    torch.onnx.export(module.eval(), (torch.randn(*shape),), str(path), input_names=["x"], output_names=["y"],
                      dynamo=False, opset_version=17)
    return onnx.load(str(path))


def _run(model, x):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def test_rewrite_keeps_the_outputs_and_replaces_the_conv3d(tmp_path):
    torch.manual_seed(0)
    stem = Stem(nn.Conv3d(1, 6, (5, 3, 3), stride=(1, 2, 2), padding=(2, 1, 1), bias=True))
    model = _export(stem, (2, 1, 7, 10, 9), tmp_path / "s.onnx")
    rewritten, count = stem2d.rewrite(model)
    assert count == 1  # the 1x1x1 Conv3d after it has 6 input channels: left alone
    convs = [n for n in rewritten.graph.node if n.op_type == "Conv"]
    dims = {i.name: len(i.dims) for i in rewritten.graph.initializer}
    assert sorted(dims[n.input[1]] for n in convs) == [4, 5]
    outs = []
    for seed in (0, 1):
        x = np.random.default_rng(seed).standard_normal((2, 1, 7, 10, 9)).astype(np.float32)
        ref, got = _run(model, x), _run(rewritten, x)
        assert got.shape == ref.shape == (2, 3, 7, 5, 5)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
        outs.append(got)
    assert not np.allclose(outs[0], outs[1])


def test_rewrite_leaves_convs_it_cannot_express(tmp_path):
    strided = _export(Stem(nn.Conv3d(1, 4, 3, stride=2, padding=1)), (1, 1, 6, 8, 8), tmp_path / "a.onnx")
    assert stem2d.rewrite(strided)[1] == 0
    two_in = _export(nn.Conv3d(2, 4, 3, padding=1), (1, 2, 6, 8, 8), tmp_path / "b.onnx")
    assert stem2d.rewrite(two_in)[1] == 0
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in two_in.graph.initializer}
    conv = next(n for n in two_in.graph.node if n.op_type == "Conv")
    assert stem2d.rewritable(conv, weights, {conv.input[0]: [1, 2, 6, 8, 8]}) == "not a Conv3d with one input channel"
