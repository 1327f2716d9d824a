"""The graph edits before and after TFLite conversion: LSTM biases folded (same outputs), short tensor names."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from edgeprune.export.tflite_lstm import FoldedBiasLSTM, fold_lstm_biases
from edgeprune.export.tflite_names import short_name, shorten_tensor_names


@pytest.mark.parametrize("batch_first", [True, False])
def test_folded_lstm_computes_what_nn_lstm_computes(batch_first):
    torch.manual_seed(0)
    lstm = nn.LSTM(6, 5, batch_first=batch_first).eval()
    with torch.no_grad():
        lstm.bias_hh_l0.uniform_(-1, 1)  # both biases non-zero, so folding them is what is tested
        lstm.bias_ih_l0.uniform_(-1, 1)
    x = torch.randn(3, 7, 6) if batch_first else torch.randn(7, 3, 6)
    folded = FoldedBiasLSTM(lstm)
    with torch.no_grad():
        want_seq, (want_h, want_c) = lstm(x)
        got_seq, (got_h, got_c) = folded(x)
        assert want_seq.std() > 0.05  # the outputs vary
        torch.testing.assert_close(got_seq, want_seq, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(got_h, want_h, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(got_c, want_c, atol=1e-6, rtol=1e-5)
        state = (torch.randn(1, 3, 5), torch.randn(1, 3, 5))
        torch.testing.assert_close(folded(x, state)[0], lstm(x, state)[0], atol=1e-6, rtol=1e-5)


def test_fold_replaces_lstms_in_a_copy_and_keeps_outputs(standin, outputs_vary):
    net = standin.build().eval()
    x = torch.randn(8, 30, 40)
    outputs_vary(net, (x,))
    folded, count = fold_lstm_biases(net)
    assert count == 1 and isinstance(folded.lstm, FoldedBiasLSTM) and isinstance(net.lstm, nn.LSTM)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x), atol=1e-5, rtol=1e-5)
    plain = nn.Sequential(nn.Linear(4, 2))
    assert fold_lstm_biases(plain) == (plain, 0)
    two_layers = nn.LSTM(4, 3, num_layers=2)
    assert fold_lstm_biases(nn.Sequential(two_layers))[1] == 0  # left to the converter as it is


def test_short_names_keep_inputs_outputs_and_stay_unique():
    long = ("edgeprune.export.tflite_export._Keywords/edgeprune.models.tv.TVAudio_model/"
            "edgeprune.models.crnn.CRNNBackend_backend/torch.nn.modules.rnn.LSTM_lstm;36")
    assert short_name(long) == "LSTM_lstm;36"
    assert short_name("a.b/torch.nn.modules.linear.Linear_fc1;;a.b/torch.nn.modules.activation.ReLU_relu;") == "Linear_fc1"
    assert short_name("arith.constant_duplicated_650") == "constant_duplicated_650"
    names = [b"serving_default_fbank:0", long.encode(), ("x/" + long).encode(), b"a.b/c.Linear_fc2;2", None,
             b"serving_default_output_0_output"]
    subgraph = SimpleNamespace(inputs=[0], outputs=[5], tensors=[SimpleNamespace(name=n) for n in names])
    saved = shorten_tensor_names(SimpleNamespace(subgraphs=[subgraph]))
    got = [t.name for t in subgraph.tensors]
    assert got == [b"serving_default_fbank:0", "LSTM_lstm;36", "LSTM_lstm;36#2", "Linear_fc2;2", None,
                   b"serving_default_output_0_output"]
    assert saved == sum(len(n) for n in names[1:4]) - sum(len(n) for n in got[1:4])


@pytest.mark.parametrize("bias", [False, True])
def test_conv3d_as_conv2d_computes_what_conv3d_computes(bias):
    from edgeprune.export.tflite_conv3d import Conv3dAsConv2d, replace_conv3d

    torch.manual_seed(0)
    conv = nn.Conv3d(2, 6, kernel_size=(5, 3, 3), stride=(1, 2, 2), padding=(2, 1, 1), bias=bias).eval()
    x = torch.randn(2, 2, 9, 12, 12)
    with torch.no_grad():
        want = conv(x)
        assert want.std() > 0.05
        torch.testing.assert_close(Conv3dAsConv2d(conv)(x), want, atol=1e-5, rtol=1e-5)
    net = nn.Sequential(conv, nn.ReLU())
    rewritten, count = replace_conv3d(net)
    assert count == 1 and isinstance(rewritten[0], Conv3dAsConv2d) and isinstance(net[0], nn.Conv3d)
    strided = nn.Conv3d(1, 2, 3, stride=2)
    assert replace_conv3d(nn.Sequential(strided))[1] == 0  # temporal stride 2: left as it is


def test_batchnorm3d_per_frame_computes_what_batchnorm3d_computes():
    # int8 tflite-runtime 2.14 aborts on BatchNorm3d's 5-D broadcast MUL: export computes it per frame in 4-D
    from edgeprune.export.tflite_conv3d import Conv3dAsConv2d, FrameBatchNorm, FrameMaxPool, replace_conv3d

    torch.manual_seed(0)
    bn = nn.BatchNorm3d(4)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-1, 1)
    bn.eval()
    x = torch.randn(2, 4, 5, 7, 7)
    with torch.no_grad():
        want = bn(x)
        assert (want - x).abs().max() > 0.1  # the statistics and affine do something
        torch.testing.assert_close(FrameBatchNorm(bn)(x), want, atol=1e-6, rtol=1e-6)
    stem = nn.Sequential(nn.Conv3d(1, 4, (5, 3, 3), stride=(1, 2, 2), padding=(2, 1, 1), bias=False), bn, nn.ReLU(),
                         nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))).eval()
    rewritten, count = replace_conv3d(stem)
    assert count == 3 and [type(m) for m in rewritten] == [Conv3dAsConv2d, FrameBatchNorm, nn.ReLU, FrameMaxPool]
    x = torch.randn(2, 1, 6, 15, 15)
    with torch.no_grad():
        torch.testing.assert_close(rewritten(x), stem(x), atol=1e-5, rtol=1e-5)


def test_framewise_maxpool3d_as_maxpool2d():
    from edgeprune.export.tflite_conv3d import FrameMaxPool, replace_conv3d

    pool = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
    x = torch.randn(2, 4, 5, 11, 11)
    torch.testing.assert_close(FrameMaxPool(pool)(x), pool(x), atol=0, rtol=0)
    rewritten, count = replace_conv3d(nn.Sequential(pool))
    assert count == 1 and isinstance(rewritten[0], FrameMaxPool)
    assert replace_conv3d(nn.Sequential(nn.MaxPool3d(2)))[1] == 0  # pools over time: left as it is
