"""An int8 ONNX file gives the same outputs on an x86 CPU without VNNI as here: run under qemu's AVX2 Haswell
(`qemu-x86_64 -cpu Haswell`, which emulates VPMADDUBSW's int16 saturation), against this machine's run.

The control arm keeps the test honest: int8 weights beside uint8 activations (U8S8), what edgeprune wrote
before, must differ under the emulated CPU, or the emulator no longer shows the hazard and the check is void.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeprune.export import export_model
from edgeprune.export.onnx_quant import quantize_onnx
from edgeprune.export.samples import Samples

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

QEMU = shutil.which("qemu-x86_64")


def _run(paths, data, emulated: bool, monkeypatch) -> list[np.ndarray]:
    """Outputs of each ONNX file on the clips of `data` (.npz), here or under the emulated Haswell: the child
    process of benchmarks/int8_isa.py (onnxruntime only; PyTorch computes wrong floats under qemu)."""
    if emulated and QEMU is None:
        pytest.fail("qemu-x86_64 not found: CI needs qemu-user (.ci/run installs it)")
    monkeypatch.syspath_prepend(str(BENCH))
    from int8_isa import run_child

    run_child(paths, data, 0, "Haswell" if emulated else None)
    return [np.load(f"{p}.out.npy") for p in paths]


class _Saturating(torch.nn.Module):
    """A layer made to hit the hazard: positive inputs (uint8 codes up to 255) into rows of positive weights
    that all quantise near the int8 top (127), so adjacent pairs sum past int16 in VPMADDUBSW."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(40, 8)
        with torch.no_grad():
            self.fc.weight.copy_(0.5 + 0.05 * torch.rand(8, 40, generator=torch.Generator().manual_seed(0)))
            self.fc.bias.fill_(-73.5)  # centres the outputs on the test inputs, so that they vary relative to their size

    def forward(self, fbank):
        return self.fc(fbank.abs())


@pytest.mark.skipif(QEMU is None and os.environ.get("CI") != "true", reason="needs qemu-user (.ci/run installs it)")
def test_int8_onnx_agrees_on_a_cpu_without_vnni(tmp_path, outputs_vary, monkeypatch):
    model = _Saturating().eval()
    # inputs in [3, 4], calibrated on the same: |x| quantises to uint8 codes up to 255
    inputs = (3.0 + torch.rand(24, 16, 40, generator=torch.Generator().manual_seed(1)),)
    outputs_vary(model, inputs)
    x = tmp_path / "x.npz"
    np.savez(x, labels=np.zeros(len(inputs[0])), fbank=inputs[0].numpy())
    portable, float_path, u8s8 = tmp_path / "u8u8.onnx", tmp_path / "float.onnx", tmp_path / "u8s8.onnx"
    export_model(model, "onnx", float_path, example_inputs=inputs[:1], input_names=("fbank",), task="regression")
    calib = Samples({"fbank": (3.0 + torch.rand(50, 16, 40, generator=torch.Generator().manual_seed(2))).numpy()})
    report = quantize_onnx(float_path, portable, calib, {})  # what edgeprune export --int8 writes
    quantize_onnx(float_path, u8s8, calib, {}, weights="int8")

    here = _run([portable, u8s8, float_path], x, False, monkeypatch)
    there = _run([portable, u8s8, float_path], x, True, monkeypatch)
    scale = float(np.abs(here[2]).max())
    assert np.abs(here[0] - here[2]).max() <= 0.05 * scale  # the int8 file is right here (a difference of ~74s) ...
    assert np.abs(there[0] - here[0]).max() <= 1e-3 * scale  # ... and gives the same on the CPU without VNNI
    assert "int8" not in report["weight_bytes"]  # uint8 weights beside uint8 activations
    # the control: U8S8 is right here (VNNI or not, the machine running the suite decides) but wrong there
    assert np.abs(there[1] - here[2]).max() > 0.1 * scale, "U8S8 control agrees: the emulator shows no saturation"
