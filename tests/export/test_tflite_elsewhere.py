"""A .tflite run in another Python (tflite-runtime 2.14 + numpy<2 when EDGEPRUNE_TFLITE_RUNTIME_PY names one)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

from edgeprune.errors import EdgepruneError
from edgeprune.export import export_model
from edgeprune.export.runtimes import open_runner
from edgeprune.export.tflite_elsewhere import compare_elsewhere, run_elsewhere

RUNTIME_PY = os.environ.get("EDGEPRUNE_TFLITE_RUNTIME_PY")


class _Net(torch.nn.Module):
    """conv + BN, LSTM, per-frame FC, max over time (the stand-in of conftest, built here once per module)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(40, 16, 3, padding=1)
        self.bn = torch.nn.BatchNorm1d(16)
        self.lstm = torch.nn.LSTM(16, 12, batch_first=True)
        self.fc = torch.nn.Linear(12, 1)
        with torch.no_grad():
            self.fc.weight.mul_(8.0)

    def forward(self, fbank):
        x = torch.relu(self.bn(self.conv(fbank.transpose(1, 2)))).transpose(1, 2)
        return self.fc(self.lstm(x)[0]).amax(1).squeeze(-1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small conv + LSTM net as float and int8 .tflite, and 12 inputs whose outputs vary."""
    torch.manual_seed(0)
    net = _Net().eval()
    fbank = (torch.randn(1, 30, 40, generator=torch.Generator().manual_seed(5)),)
    tmp_path = tmp_path_factory.mktemp("elsewhere")
    float_path, int8_path = tmp_path / "m.tflite", tmp_path / "m.int8.tflite"
    export_model(net, "tflite", float_path, example_inputs=fbank, input_names=("fbank",))
    export_model(net, "tflite", int8_path, int8=True, calib="random", samples=50, calib_samples=50,
                 example_inputs=fbank, input_names=("fbank",))
    x = torch.randn(12, 30, 40, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = net(x).numpy()
    assert expected.std() > 0.01 * np.abs(expected).max()  # the comparison below is not between constants
    return float_path, int8_path, {"fbank": x.numpy()}, expected


@pytest.mark.slow
def test_child_matches_this_pythons_runner(exported):
    # The subprocess path itself, with this Python (ai-edge-litert): the same runtime must give the same numbers.
    float_path, int8_path, feeds, expected = exported
    for path in (float_path, int8_path):
        got, runtime = run_elsewhere(sys.executable, path, feeds)
        assert runtime.startswith("ai_edge_litert")
        np.testing.assert_array_equal(got, open_runner(path)(feeds))
    np.testing.assert_allclose(run_elsewhere(sys.executable, float_path, feeds)[0], expected, atol=1e-4)


@pytest.mark.slow
@pytest.mark.skipif(not RUNTIME_PY, reason="EDGEPRUNE_TFLITE_RUNTIME_PY is not set (.ci/run sets it)")
def test_tflite_runtime_214_loads_and_matches(exported):
    float_path, int8_path, feeds, expected = exported
    result = compare_elsewhere(RUNTIME_PY, float_path, feeds, "binary", 0.5)
    assert result["runtime"].startswith("tflite_runtime 2.14") and ", numpy 1." in result["runtime"], result
    assert result["reference"] == "ai_edge_litert" and result["outputs_vary"]
    assert result["max_abs_diff"] <= 1e-5 and result["decision_agreement"] == 1.0
    result8 = compare_elsewhere(RUNTIME_PY, int8_path, feeds, "binary", 0.5)
    # int8 kernels may round differently across runtime versions, by at most a few steps of the output scale
    scale = open_runner(int8_path).output["quantization"][0]
    assert result8["max_abs_diff"] <= 4 * scale and result8["decision_agreement"] >= 0.99, (result8, scale)
    print(f"float: max |diff| {result['max_abs_diff']:.2g}; int8: max |diff| {result8['max_abs_diff']:.2g} "
          f"(output scale {scale:.2g}), decisions {100 * result8['decision_agreement']:.0f} %")


def test_bad_interpreter_or_model_is_one_clear_error(tmp_path):
    with pytest.raises(EdgepruneError, match="no Python interpreter at"):
        run_elsewhere(tmp_path / "nope" / "python", tmp_path / "m.tflite", {})
    with pytest.raises(EdgepruneError, match="model file not found"):
        run_elsewhere(sys.executable, tmp_path / "m.tflite", {})
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer" * 8)
    with pytest.raises(EdgepruneError, match=r"cannot run broken\.tflite: .*"):
        run_elsewhere(sys.executable, broken, {"fbank": np.zeros((1, 30, 40), np.float32)})


def test_a_runtime_that_crashes_is_named_by_its_signal(tmp_path):
    # tflite-runtime 2.14 crashing in a kernel prints only an INFO line before the signal: say it was a crash
    crasher = tmp_path / "python"
    crasher.write_text("#!/bin/sh\necho 'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.' >&2\nkill -SEGV $$\n")
    crasher.chmod(0o755)
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    with pytest.raises(EdgepruneError, match=r"cannot run m\.tflite: killed by SIGSEGV \(its last output: INFO: "
                                             r"Created TensorFlow Lite XNNPACK delegate for CPU\.\)"):
        run_elsewhere(crasher, model, {"fbank": np.zeros((1, 30, 40), np.float32)})


@pytest.fixture(scope="module")
def stepped(tmp_path_factory, exported):
    """The same net as a stepped .tflite (`--lstm step`, 3 time steps per call), float and int8."""
    torch.manual_seed(0)
    net = _Net().eval()
    fbank = (torch.randn(1, 30, 40, generator=torch.Generator().manual_seed(5)),)
    tmp_path = tmp_path_factory.mktemp("stepped")
    paths = tmp_path / "s.tflite", tmp_path / "s.int8.tflite"
    export_model(net, "tflite", paths[0], example_inputs=fbank, input_names=("fbank",), lstm="step", lstm_chunk=3)
    export_model(net, "tflite", paths[1], int8=True, calib="random", samples=50, calib_samples=50, lstm="step",
                 lstm_chunk=3, example_inputs=fbank, input_names=("fbank",))
    return paths


@pytest.mark.slow
def test_stepped_files_run_elsewhere_through_the_device_bench_loop(exported, stepped):
    _, _, feeds, expected = exported
    float_path, int8_path = stepped
    got, runtime = run_elsewhere(sys.executable, float_path, feeds)
    assert runtime.startswith("ai_edge_litert")
    np.testing.assert_allclose(got, expected, atol=1e-4)  # the whole clip, not one step: the outputs vary
    np.testing.assert_array_equal(run_elsewhere(sys.executable, int8_path, feeds)[0], open_runner(int8_path)(feeds))


@pytest.mark.slow
@pytest.mark.skipif(not RUNTIME_PY, reason="EDGEPRUNE_TFLITE_RUNTIME_PY is not set (.ci/run sets it)")
def test_tflite_runtime_214_runs_stepped_files(exported, stepped):
    # tflite-runtime 2.14 + numpy<2: the signature loop as a Raspberry Pi image runs it
    _, _, feeds, _ = exported
    float_path, int8_path = stepped
    result = compare_elsewhere(RUNTIME_PY, float_path, feeds, "binary", 0.5)
    assert result["runtime"].startswith("tflite_runtime 2.14") and result["outputs_vary"], result
    assert result["max_abs_diff"] <= 1e-5 and result["decision_agreement"] == 1.0, result
    result8 = compare_elsewhere(RUNTIME_PY, int8_path, feeds, "binary", 0.5)
    runner = open_runner(int8_path)  # device_bench's SteppedRunner: the output is post's
    scale = runner.post.outputs[runner.output_name]["quantization"][0]
    assert result8["max_abs_diff"] <= 4 * scale and result8["decision_agreement"] >= 0.99, (result8, scale)
