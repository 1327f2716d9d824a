"""Small zoo models, dense and pruned to WSR ~0.8 with ChannelPruner, export from checkpoints and pass the gate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import edgeprune
from edgeprune import models
from edgeprune.export import export_model
from edgeprune.export.metadata import read_onnx_metadata
from edgeprune.export.parity import compare

CFG = {"frames": 32, "lip_frames": 4}


def _trained_like(model):
    """Untrained BN gammas all tie at 1.0, so a BN-scale cut follows channel order and cuts layers to width 1
    (the slim models then gave one output for every input): spread them, as training would."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.9 + 0.1)
    return model


def _checkpoint(tmp_path, name, pruned, outputs_vary):
    # untrained lip encoders give ~1e-7 embeddings in eval mode: re-estimate BN statistics first
    model = models.build(name, **CFG)
    model = models.calibrate_bn(_trained_like(model) if pruned else model, name, **CFG)
    meta = {}
    if pruned:  # L1 on LeNet-5 keeps one first-layer filter, dead on every input: L2
        # cp/cplr's default ranking; pure bn_scale cannot pass WSR 0.648 on tv-audio and leaves it near-constant
        importance = "l2" if name.startswith("lenet") else "bn_scale+l1"
        report = edgeprune.ChannelPruner(model, models.example_inputs(name, batch=2, **CFG), importance=importance).prune(0.8)
        meta = {"method": "cp", "wsr": 1 - report.params_after / report.params_before}
        model = models.calibrate_bn(model, name, **CFG)  # as the fine-tuning after a cut would
    outputs_vary(model, models.example_inputs(name, batch=16, **CFG))
    return edgeprune.save(model, tmp_path / f"{name}.safetensors", **meta), model


@pytest.mark.parametrize("pruned", [False, True], ids=["dense", "slim"])
@pytest.mark.parametrize("name", ["tv-audio", *(pytest.param(n, marks=pytest.mark.slow)
                                               for n in ("misp-audio", "lenet5", "tv-lip-mbv2"))])
def test_zoo_onnx_float_and_int8(tmp_path, name, pruned, outputs_vary):
    ckpt, model = _checkpoint(tmp_path, name, pruned, outputs_vary)
    report = export_model(ckpt, "onnx", tmp_path / "m.onnx")
    assert report["parity"]["max_abs_diff"] <= 1e-4
    meta = read_onnx_metadata(tmp_path / "m.onnx")
    assert meta["model"] == name and int(meta["params"]) == sum(p.numel() for p in model.parameters())
    if pruned:
        dense = sum(p.numel() for p in models.build(name, **CFG).parameters())  # widths only
        wsr = 1 - sum(p.numel() for p in model.parameters()) / dense
        assert wsr > 0.5 and float(meta["wsr"]) == pytest.approx(wsr, abs=1e-6) and meta["method"] == "cp"
    else:
        assert float(meta["wsr"]) == 0.0
    assert report["parity"]["outputs_vary"]
    report8 = export_model(ckpt, "onnx", tmp_path / "q.onnx", int8=True, calib="random", calib_samples=50)
    parity8 = report8["parity_int8"]
    assert parity8["samples"] == 100 and parity8["passed"] and parity8["outputs_vary"] and "note" not in parity8
    assert ("min_cosine" in parity8) == (models.spec(name).task == "embedding")


@pytest.mark.slow
@pytest.mark.parametrize("pruned", [False, True], ids=["dense", "slim"])
def test_zoo_tflite_float_and_int8(tmp_path, pruned, outputs_vary):
    ckpt, model = _checkpoint(tmp_path, "tv-audio", pruned, outputs_vary)
    report = export_model(ckpt, "tflite", tmp_path / "m.tflite")
    assert report["parity"]["max_abs_diff"] <= 1e-4
    assert report["inputs"] == {"fbank": [1, 32, 40]}
    # int8 of the dense one: large constants the quantiser stores after the flatbuffer survive the metadata
    if not pruned:
        report8 = export_model(ckpt, "tflite", tmp_path / "q.tflite", int8=True, calib="random", calib_samples=50)
        assert report8["parity_int8"]["passed"] and report8["int8_size_bytes"] < report8["float_size_bytes"]


def test_int8_gate_says_when_the_float_outputs_are_constant():
    constant = np.full((100, 1), 0.3, dtype=np.float32)
    result = compare(constant, constant + 1e-3, "binary", 0.5)
    assert result["outputs_vary"] is False and result["decision_agreement"] == 1.0
    assert "constant" in result["note"] and "says nothing" in result["note"]
    varying = np.linspace(-3, 3, 100, dtype=np.float32)[:, None]
    result = compare(varying, varying + 1e-3, "binary", 0.5)
    assert result["outputs_vary"] is True and "note" not in result
