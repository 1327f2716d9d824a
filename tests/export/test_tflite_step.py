"""Stepped TFLite (--lstm step): signatures pre / one LSTM step / post in one file, looped by the runner."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import edgeprune
from edgeprune.cli import main
from edgeprune.errors import EdgepruneError
from edgeprune.export import export_model
from edgeprune.export.metadata import _schema, read_tflite_metadata
from edgeprune.export.runtimes import open_runner
from edgeprune.export.source import resolve
from edgeprune.export.tflite_step import find_lstm, open_stepped_runner, run_parts, split_at_lstm
from edgeprune.device_bench.runners import open_runner as bench_runner
from edgeprune.device_bench.stepped import SteppedBenchRunner, SteppedRunner, _handover, dequantise, quantise


def _op_counts(path) -> dict[str, int]:
    """{signature: number of ops in its subgraph} of a .tflite file."""
    model = _schema().ModelT.InitFromPackedBuf(bytearray(path.read_bytes()), 0)
    return {d.signatureKey.decode(): len(model.subgraphs[d.subgraphIndex].operators) for d in model.signatureDefs}


@pytest.mark.slow
def test_stepped_float_and_int8_match_pytorch(tmp_path, standin, fbank, outputs_vary):
    net = standin.build().eval()
    x = torch.randn(12, 30, 40, generator=torch.Generator().manual_seed(7))
    outputs_vary(net, (x,))
    out = tmp_path / "m.tflite"
    report = export_model(net, "tflite", out, example_inputs=fbank, input_names=("fbank",), lstm="step")
    assert report["parity"]["passed"] and report["parity"]["max_abs_diff"] <= 1e-4
    assert report["tflite"]["steps"] == 30 and report["tflite"]["hidden"] == 12
    assert report["tflite"]["chunk"] == 3  # the default 4 does not divide 30
    counts = _op_counts(out)
    assert set(counts) == {"pre", "step", "post"}
    assert sum(counts.values()) < 100  # not unrolled: 30 steps of ~15 ops would be over 400
    assert read_tflite_metadata(out.read_bytes())["lstm"] == "step"
    runner = open_stepped_runner(out)  # the file re-read
    assert runner.input_names == ["fbank"]
    assert isinstance(open_runner(out), SteppedRunner)  # export's runner for any file knows a stepped one
    with torch.no_grad():
        expected = net(x).numpy()
    np.testing.assert_allclose(runner({"fbank": x.numpy()}), expected, atol=1e-4)

    q = tmp_path / "q.tflite"
    report8 = export_model(net, "tflite", q, int8=True, calib="random", samples=100, calib_samples=50,
                           example_inputs=fbank, input_names=("fbank",), lstm="step")
    assert report8["parity_int8"]["passed"] and report8["parity_int8"]["decision_agreement"] >= 0.99
    assert report8["parity_int8"]["outputs_vary"]
    assert report8["quantization"]["calibration_steps"] == 50 * 10  # every call of step (3 steps) of every sample
    assert report8["size_bytes"] < report8["float_size_bytes"]
    runner8 = open_stepped_runner(q)
    ins, outs = runner8.step.inputs, runner8.step.outputs
    assert np.dtype(ins["h"]["dtype"]) == np.int8 and np.dtype(runner8.pre.inputs["fbank"]["dtype"]) == np.int8
    # hand-over tensors share one scale and zero point: the runner passes the int8 bytes on
    assert ins["h"]["quantization"] == outs["lstm_out"]["quantization"] == runner8.post.inputs["lstm_out"]["quantization"]
    assert ins["c"]["quantization"] == outs["c"]["quantization"]
    assert runner8.pre.outputs["gates_x"]["quantization"] == ins["gates_x"]["quantization"]
    got8 = runner8({"fbank": x.numpy()})
    assert ((got8 >= 0) == (expected >= 0)).mean() >= 0.9

    q16 = tmp_path / "q16.tflite"  # the step signature in int16 activations, the rest int8
    report16 = export_model(net, "tflite", q16, int8=True, calib="random", samples=100, calib_samples=20,
                            example_inputs=fbank, input_names=("fbank",), lstm="step", lstm_step_bits=16)
    assert report16["parity_int8"]["passed"]
    runner16 = open_stepped_runner(q16)
    assert {np.dtype(d["dtype"]) for d in runner16.step.inputs.values()} == {np.dtype(np.int16)}
    assert np.dtype(runner16.pre.inputs["fbank"]["dtype"]) == np.int8
    assert ((runner16({"fbank": x.numpy()}) >= 0) == (expected >= 0)).mean() >= 0.9

    bench = bench_runner(str(q), "litert", 1)  # device_bench loops the steps too (one run() = one clip)
    assert isinstance(bench, SteppedBenchRunner) and [o["name"] for o in bench.outputs] == ["logit"]
    (index, encoded), = bench.feeds
    (clip,) = bench.run()
    fbank_in = dequantise(encoded, runner8.pre.inputs["fbank"])
    np.testing.assert_array_equal(clip, runner8.run_one({"fbank": fbank_in}))


class _Convs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(40, 4, 3)

    def forward(self, fbank):
        return self.conv(fbank.transpose(1, 2)).mean((1, 2))


def test_step_refused_on_a_model_without_lstm(tmp_path, fbank):
    out = tmp_path / "m.tflite"
    with pytest.raises(EdgepruneError, match=r"^--lstm step: _Convs has no LSTM to step \(_Convs\); export it without --lstm$"):
        export_model(_Convs(), "tflite", out, example_inputs=fbank, input_names=("fbank",), lstm="step")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_step_refusals_are_one_line(tmp_path, capsys):
    ckpt = tmp_path / "c.safetensors"
    ckpt.write_bytes(b"not read: the arguments are refused first")
    rc = main(["export", str(ckpt), "--format", "onnx", "--lstm", "step", "--out", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "--lstm step is a TFLite option" in err
    rc = main(["export", str(ckpt), "--format", "tflite", "--lstm-step-bits", "16", "--out", str(tmp_path / "m.tflite")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "--lstm-step-bits 16 needs --lstm step --int8" in err
    rc = main(["export", str(ckpt), "--format", "tflite", "--lstm", "step", "--lstm-chunk", "0",
               "--out", str(tmp_path / "m.tflite")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "--lstm-chunk 0: a positive number of time steps" in err


def test_cli_refuses_step_without_lstm(tmp_path, capsys):
    net = nn.Linear(40, 1)
    ckpt = edgeprune.save(net, tmp_path / "c.safetensors", factory="torch.nn:Linear",
                          factory_kwargs={"in_features": 40, "out_features": 1}, inputs={"fbank": [1, 20, 40]})
    rc = main(["export", str(ckpt), "--format", "tflite", "--lstm", "step", "--trust-factory",
               "--out", str(tmp_path / "m.tflite")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "has no LSTM to step" in err
    assert not (tmp_path / "m.tflite").exists()


class _UsesCell(nn.Module):
    """Classifies from the LSTM's final cell state: the part after the LSTM needs more than its sequence."""

    def __init__(self, batch_first=True):
        super().__init__()
        self.lstm = nn.LSTM(40, 6, batch_first=batch_first)
        self.fc = nn.Linear(6, 1)
        self.batch_first = batch_first

    def forward(self, fbank):
        seq, (h, c) = self.lstm(fbank if self.batch_first else fbank.transpose(0, 1))
        return self.fc(c[0]).squeeze(-1)


class _SeqOnly(_UsesCell):
    def forward(self, fbank):
        seq, _ = self.lstm(fbank if self.batch_first else fbank.transpose(0, 1))
        seq = seq if self.batch_first else seq.transpose(0, 1)
        return self.fc(torch.tanh(seq)).amax(1).squeeze(-1)


def _source(net, fbank):
    return resolve(net.eval(), example_inputs=fbank, input_names=("fbank",))


def test_split_refuses_a_model_that_uses_the_final_cell_state(fbank):
    with pytest.raises(EdgepruneError, match=r"does not split at its LSTM lstm .*not its final state"):
        split_at_lstm(_source(_UsesCell(), fbank))


@pytest.mark.parametrize("batch_first, chunk, used", [(True, 1, 1), (False, 7, 6), (True, 64, 30)])
def test_split_parts_chain_to_the_model(fbank, outputs_vary, batch_first, chunk, used):
    torch.manual_seed(0)
    net = _SeqOnly(batch_first).eval()
    parts = split_at_lstm(_source(net, fbank), chunk)
    assert parts.steps == 30 and parts.hidden == 6 and parts.chunk == used  # the largest divisor of 30 <= chunk
    x = torch.randn(8, 30, 40, generator=torch.Generator().manual_seed(2))
    outputs_vary(net, (x,))
    with torch.no_grad():
        got, gates = run_parts(parts, {"fbank": x})
        torch.testing.assert_close(got, net(x), atol=1e-5, rtol=1e-5)
    assert tuple(gates.shape) == (8, 30, 24)


def test_two_lstms_are_refused():
    net = nn.ModuleDict({"a": nn.LSTM(4, 4), "b": nn.LSTM(4, 4)})
    with pytest.raises(EdgepruneError, match=r"has 2 recurrent layers \(a, b\)"):
        find_lstm(net, "two")
    with pytest.raises(EdgepruneError, match="not a one-layer unidirectional LSTM"):
        find_lstm(nn.Sequential(nn.LSTM(4, 4, bidirectional=True)), "bi")


def test_handover_requantises_only_when_the_encodings_differ():
    a = {"dtype": np.int8, "quantization": (0.1, 0)}
    b = {"dtype": np.int8, "quantization": (0.05, 3)}
    raw = np.array([[-10, 0, 20]], dtype=np.int8)
    assert _handover(a, dict(a)) (raw) is raw
    moved = _handover(a, b)(raw)
    assert moved.dtype == np.int8 and moved.tolist() == [[-17, 3, 43]]
    np.testing.assert_allclose(dequantise(moved, b), dequantise(raw, a), atol=0.025)
    f32 = {"dtype": np.float32, "quantization": (0.0, 0)}
    np.testing.assert_allclose(_handover(a, f32)(raw), [[-1.0, 0.0, 2.0]])
    assert quantise(np.array([[2.0]]), a).tolist() == [[20]]
