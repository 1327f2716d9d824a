"""Small zoo models, dense and pruned to WSR ~0.8 with ChannelPruner, export from checkpoints and pass the gate."""

from __future__ import annotations

import pytest
import torch

import edgeprune
from edgeprune import models
from edgeprune.export import export_model
from edgeprune.export.metadata import read_onnx_metadata

CFG = {"frames": 32, "lip_frames": 4}


def _checkpoint(tmp_path, name, pruned):
    # untrained lip encoders give ~1e-7 embeddings in eval mode: re-estimate BN statistics first
    model = models.calibrate_bn(models.build(name, **CFG), name, **CFG)
    meta = {}
    if pruned:
        importance = "l1" if name.startswith("lenet") else "bn_scale"
        report = edgeprune.ChannelPruner(model, models.example_inputs(name, batch=2, **CFG), importance=importance).prune(0.8)
        meta = {"method": "cp", "wsr": 1 - report.params_after / report.params_before}
    return edgeprune.save(model, tmp_path / f"{name}.safetensors", **meta), model


@pytest.mark.parametrize("pruned", [False, True], ids=["dense", "slim"])
@pytest.mark.parametrize("name", ["tv-audio", *(pytest.param(n, marks=pytest.mark.slow)
                                               for n in ("misp-audio", "lenet5", "tv-lip-mbv2"))])
def test_zoo_onnx_float_and_int8(tmp_path, name, pruned):
    ckpt, model = _checkpoint(tmp_path, name, pruned)
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
    with torch.no_grad():
        assert model(*models.example_inputs(name, batch=2, **CFG)).abs().mean() > 1e-3, "outputs too small to compare"
    report8 = export_model(ckpt, "onnx", tmp_path / "q.onnx", int8=True, calib="random", calib_samples=50)
    parity8 = report8["parity_int8"]
    assert parity8["samples"] == 100 and parity8["passed"]
    assert ("min_cosine" in parity8) == (models.spec(name).task == "embedding")


@pytest.mark.slow
@pytest.mark.parametrize("pruned", [False, True], ids=["dense", "slim"])
def test_zoo_tflite_float_and_int8(tmp_path, pruned):
    ckpt, model = _checkpoint(tmp_path, "tv-audio", pruned)
    report = export_model(ckpt, "tflite", tmp_path / "m.tflite")
    assert report["parity"]["max_abs_diff"] <= 1e-4
    assert report["inputs"] == {"fbank": [1, 32, 40]}
    # int8 of the dense one: large constants the quantiser stores after the flatbuffer survive the metadata
    if not pruned:
        report8 = export_model(ckpt, "tflite", tmp_path / "q.tflite", int8=True, calib="random", calib_samples=50)
        assert report8["parity_int8"]["passed"] and report8["int8_size_bytes"] < report8["float_size_bytes"]
