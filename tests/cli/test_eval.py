"""`edgeprune eval`: test-split metrics of a checkpoint, streaming counts of a checkpoint and of its ONNX
export, JSON with null for NaN, and one-line errors before any long work."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
import torch

import edgeprune
from edgeprune import models
from edgeprune.cli import main
from edgeprune.data import open_data
from edgeprune.train import TrainConfig, Trainer

STANDIN = textwrap.dedent(
    '''
    """Stand-ins for `edgeprune eval`: an energy detector (fires on loud speech) and a two-input net."""
    import torch
    from torch import nn


    class Energy(nn.Module):
        def __init__(self, level=2.0):
            super().__init__()
            self.level = nn.Parameter(torch.tensor(float(level)))

        def forward(self, fbank):
            e = fbank.mean(-1)
            e = nn.functional.avg_pool1d(e[:, None], 5, 1)[:, 0]
            return 4.0 * (e.amax(1) - self.level)


    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(40, 1)

        def forward(self, fbank, lips):
            return self.fc(fbank.mean(1))[:, 0] + lips.mean((1, 2, 3))


    def energy(level=2.0):
        return Energy(level)


    def two_inputs():
        return TwoInputs()
    '''
)
STATS = {"fbank": {"mean": [-8.0] * 40, "std": [2.0] * 40}}
LOUD = ["--stream", "--minutes", "1", "--snrs", "30", "--refractory", "3", "--seed", "5"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _private_cache(cache, monkeypatch):
    monkeypatch.setenv("EDGEPRUNE_CACHE", str(cache))


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    pkg = tmp_path_factory.mktemp("standin")
    (pkg / "eval_standin.py").write_text(STANDIN)
    sys.path.insert(0, str(pkg))
    yield pkg
    sys.path.remove(str(pkg))
    sys.modules.pop("eval_standin", None)


@pytest.fixture
def energy_ckpt(tmp_path, standin):
    import eval_standin

    return edgeprune.save(eval_standin.energy(), tmp_path / "energy.safetensors", factory="eval_standin:energy",
                          factory_kwargs={"level": 2.0}, inputs={"fbank": [1, 128, 40]}, threshold=0.5,
                          feature_stats=STATS, data="synth")


def _json(path):
    def no_nan(name):
        raise AssertionError(f"JSON holds {name}")

    return json.loads(path.read_text(), parse_constant=no_nan)


def test_stream_counts_the_planted_utterances(energy_ckpt, tmp_path, capsys):
    rc = main(["eval", str(energy_ckpt), *LOUD, "--trust-factory", "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert rc == 0
    r = _json(tmp_path / "r.json")
    kinds = r["stream"]["utterance_kinds"]
    assert r["max_score"] > 0.99 and 0 < r["detections"] < r["windows"]  # the stand-in's output varies
    assert r["events"] == kinds["wake"] == 3 and r["hits"] == 3 and r["misses"] == 0
    assert r["false_accepts"] == sum(kinds.values()) - 3 == 6 and r["duplicates"] == 0
    assert r["false_accepts_per_hour"] == pytest.approx(360.0) and r["threshold"] == 0.5
    assert r["hop_s"] == 0.1 and r["refractory_s"] == 3.0 and r["tolerance_s"] == pytest.approx(1.295)
    assert "3 hit, 0 missed" in out and "6 (360.0 per hour)" in out and len(out.splitlines()) <= 24


def test_onnx_export_streams_the_same(energy_ckpt, tmp_path, capsys):
    onnx_path = tmp_path / "energy.onnx"
    assert main(["export", str(energy_ckpt), "--format", "onnx", "--out", str(onnx_path), "--trust-factory"]) == 0
    assert main(["eval", str(energy_ckpt), *LOUD, "--trust-factory", "--json", str(tmp_path / "a.json")]) == 0
    assert main(["eval", str(onnx_path), *LOUD, "--json", str(tmp_path / "b.json")]) == 0
    a, b = _json(tmp_path / "a.json"), _json(tmp_path / "b.json")
    assert b["kind"] == "onnx" and b["threshold"] == 0.5  # threshold and stats from the ONNX metadata
    for key in ("events", "hits", "misses", "false_accepts", "duplicates", "windows"):
        assert a[key] == b[key], key
    np.testing.assert_allclose(a["hit_times"], b["hit_times"])
    capsys.readouterr()


@pytest.mark.parametrize("keep", [0.5, 0.02])
def test_a_truncated_onnx_file_is_one_line_error(energy_ckpt, tmp_path, capsys, keep):
    onnx_path = tmp_path / "energy.onnx"
    assert main(["export", str(energy_ckpt), "--format", "onnx", "--out", str(onnx_path), "--trust-factory"]) == 0
    blob = onnx_path.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(blob[: int(len(blob) * keep)])
    capsys.readouterr()
    err = _one_line_error(capsys, str(cut), *LOUD)
    assert "cut.onnx: not a readable ONNX model (truncated or corrupt" in err


@pytest.mark.parametrize("blob", [b"hello" * 100, b"\x1c\x00\x00\x00TFL3" + b"\x00" * 40])
def test_a_file_that_is_not_tflite_is_one_line_error(tmp_path, capsys, blob):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(blob)
    err = _one_line_error(capsys, str(bad), *LOUD)
    assert "bad.tflite" in err and "TFLite" in err  # one line that names the file (metadata read or loader)


def test_threshold_flag_overrides_the_stored_one(energy_ckpt, tmp_path, capsys):
    rc = main(["eval", str(energy_ckpt), *LOUD, "--threshold", "0.999999", "--trust-factory",
               "--json", str(tmp_path / "r.json")])
    r = _json(tmp_path / "r.json")
    assert rc == 0 and r["threshold_source"] == "--threshold" and r["threshold"] == 0.999999
    assert (r["detections"], r["hits"], r["misses"]) == (0, 0, 3)  # nothing reaches it; the stored 0.5 finds all 3


@pytest.fixture(scope="module")
def clip_setup(tmp_path_factory, cache):
    """A small tv-audio with BN statistics of real features (so its outputs vary), saved as slim would."""
    import os

    os.environ["EDGEPRUNE_CACHE"] = str(cache)
    try:
        bundle = open_data("synth", train=30, dev=10, test=10)
    finally:
        del os.environ["EDGEPRUNE_CACHE"]
    torch.manual_seed(0)
    model = models.build("tv-audio", convs=[[8, 5, 2], [8, 5, 2]], lstm_hidden=8, fc_hidden=8)
    model.train()
    with torch.no_grad():
        model(bundle.train.tensors["fbank"])
    model.eval()
    folder = tmp_path_factory.mktemp("ckpt")
    ckpt = edgeprune.save(model, folder / "m.safetensors", data="synth", feature_stats=bundle.stats, threshold=0.5)
    return bundle, model, ckpt


def test_clips_match_the_trainers_evaluation(clip_setup, tmp_path, capsys):
    bundle, model, ckpt = clip_setup
    with torch.no_grad():
        logits = model(bundle.test.tensors["fbank"])
    assert logits.std() > 1e-3  # the model's output varies over inputs
    t = float(torch.sigmoid(logits).median())  # a threshold that splits the test clips
    expected = Trainer(model, bundle, ("fbank",), "binary", TrainConfig(progress=False)).evaluate("test", threshold=t)
    rc = main(["eval", str(ckpt), "--data-size", "30", "--threshold", str(t), "--json", str(tmp_path / "r.json")])
    r = _json(tmp_path / "r.json")
    assert rc == 0 and r["n"] == 30 and r["mode"] == "clips"
    for key in ("score", "frr", "far", "far_at_frr"):
        assert r[key] == pytest.approx(expected[key]), key
    assert {float(k): v["score"] for k, v in r["per_snr"].items()} == pytest.approx(
        {k: v["score"] for k, v in expected["per_snr"].items()})
    assert "Score" in capsys.readouterr().out


def test_clips_use_the_checkpoints_stats_not_the_datas(clip_setup, tmp_path, capsys):
    """A checkpoint trained with other statistics is fed features normalised its way."""
    bundle, model, _ = clip_setup
    stats = {"fbank": {"mean": [m + 1.0 for m in bundle.stats["fbank"]["mean"]], "std": bundle.stats["fbank"]["std"]}}
    ckpt = edgeprune.save(model, tmp_path / "shifted.safetensors", data="synth", feature_stats=stats, threshold=0.5)
    std = torch.tensor(bundle.stats["fbank"]["std"], dtype=torch.float32)
    x = bundle.test.tensors["fbank"] - 1.0 / std  # (raw - (mean + 1)) / std
    with torch.no_grad():
        p = torch.sigmoid(model(x)).numpy()
    y = bundle.test.labels.numpy()
    assert main(["eval", str(ckpt), "--data-size", "30", "--json", str(tmp_path / "r.json")]) == 0
    r = _json(tmp_path / "r.json")
    assert r["frr"] == pytest.approx(float(np.mean(p[y == 1] < 0.5)))
    assert r["far"] == pytest.approx(float(np.mean(p[y == 0] >= 0.5)))
    capsys.readouterr()


# ---- errors: one line, exit 2, before long work ---------------------------------------------------


def _one_line_error(capsys, *argv):
    rc = main(["eval", *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and err.startswith("edgeprune eval: error:"), err
    return err


def test_missing_file(tmp_path, capsys):
    err = _one_line_error(capsys, str(tmp_path / "nope.safetensors"), "--stream")
    assert "nope.safetensors: no such file" in err


@pytest.mark.parametrize("hop", ["0", "-0.1", "0.015", "nan"])
def test_bad_hop(energy_ckpt, capsys, tmp_path, hop):
    err = _one_line_error(capsys, str(energy_ckpt), "--stream", f"--hop={hop}", "--json", str(tmp_path / "r.json"))
    assert "--hop must be a positive multiple of the 0.01 s FBank frame hop" in err
    assert not (tmp_path / "r.json").exists()


def test_bad_refractory_and_minutes(energy_ckpt, capsys):
    assert "--refractory must be" in _one_line_error(capsys, str(energy_ckpt), "--stream", "--refractory=-1")
    assert "--minutes must be between" in _one_line_error(capsys, str(energy_ckpt), "--stream", "--minutes", "0")


def test_stream_needs_synth(energy_ckpt, tmp_path, capsys):
    err = _one_line_error(capsys, str(energy_ckpt), "--stream", "--data", f"folder:{tmp_path}", "--trust-factory")
    assert "--stream generates its long recordings and needs --data synth" in err


def test_checkpoint_without_threshold_or_stats(tmp_path, standin, capsys):
    import eval_standin

    bare = edgeprune.save(eval_standin.energy(), tmp_path / "bare.safetensors", factory="eval_standin:energy",
                          inputs={"fbank": [1, 128, 40]}, feature_stats=STATS)
    assert "records no dev threshold" in _one_line_error(capsys, str(bare), "--stream", "--trust-factory",
                                                         "--data", "synth")
    nostats = edgeprune.save(eval_standin.energy(), tmp_path / "nostats.safetensors", factory="eval_standin:energy",
                             inputs={"fbank": [1, 128, 40]}, threshold=0.5, data="synth")
    assert "no training feature statistics for 'fbank'" in _one_line_error(capsys, str(nostats), "--stream",
                                                                          "--trust-factory")


def test_stream_refuses_a_model_with_lips(tmp_path, standin, capsys):
    import eval_standin

    ckpt = edgeprune.save(eval_standin.two_inputs(), tmp_path / "av.safetensors", factory="eval_standin:two_inputs",
                          inputs={"fbank": [1, 128, 40], "lips": [1, 32, 88, 88]}, threshold=0.5,
                          feature_stats={**STATS, "lips": {"mean": [0.4], "std": [0.2]}}, data="synth")
    err = _one_line_error(capsys, str(ckpt), "--stream", "--trust-factory", "--minutes", "0.5")
    assert "needs an audio-only model (input fbank)" in err
