"""`edgeprune sensitivity` on a small trained model: per-group curves, BatchNorm re-estimation, files, errors."""

import json

import pytest
import torch

from edgeprune.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """tv-audio trained 2 epochs on 60 synth clips, saved as a checkpoint with its data spec and stats."""
    import edgeprune
    from edgeprune import models
    from edgeprune.data import open_data
    from edgeprune.train import TrainConfig, Trainer

    torch.manual_seed(0)
    bundle = open_data("synth", inputs=("fbank",), seed=0, train=60, dev=20, test=20)
    model = models.build("tv-audio")
    Trainer(model, bundle, ("fbank",), "binary", TrainConfig(epochs=2, batch_size=16, progress=False)).fit()
    path = tmp_path_factory.mktemp("sens") / "tv.safetensors"
    edgeprune.save(model.eval(), path, data="synth", feature_stats=bundle.stats)
    return path, model, bundle


def test_the_trained_model_outputs_vary(trained):
    _, model, bundle = trained
    x = torch.stack([bundle.dev[i]["fbank"] for i in range(8)])
    with torch.no_grad():
        out = model(x)
    assert out.std() > 1e-3


def test_bn_reestimation_gives_the_mean_of_the_batches(trained):
    from edgeprune.sensitivity.curves import reestimate_bn, train_batches

    _, model, bundle = trained
    m = __import__("copy").deepcopy(model)
    batches = train_batches(bundle, ("fbank",), 20, 3)
    assert len(batches) == 3 and batches[0][0].shape[0] == 20
    bn = m.backend.convs[1]
    seen = []
    hook = bn.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    assert reestimate_bn(m, batches) >= 2
    hook.remove()
    expected = torch.cat(seen).transpose(0, 1).reshape(bn.num_features, -1).mean(1)
    assert torch.allclose(bn.running_mean, expected, atol=1e-5)
    assert not m.training and bn.momentum == model.backend.convs[1].momentum


def test_sensitivity_command_writes_curves_table_and_plot(trained, tmp_path, capsys):
    from edgeprune.latency.groups import Analysis
    from edgeprune.export.source import resolve

    path, model, bundle = trained
    out = tmp_path / "sens"
    rc = main(["sensitivity", str(path), "--data", "synth", "--data-size", "60", "--fractions", "0.3,0.9",
               "--groups", "backend.lstm,backend.convs.0", "--bn-batches", "2", "--batch-size", "16", "--out",
               str(out), "--no-progress"])
    assert rc == 0
    result = json.loads((out / "sensitivity.json").read_text())
    assert set(result["groups"]) == {"backend.lstm", "backend.convs.0"}
    lstm = result["groups"]["backend.lstm"]
    assert [(p["removed"], p["width"]) for p in lstm["points"]] == [(0.3, 112), (0.9, 16)]
    assert lstm["points"][1]["params_removed"] > lstm["points"][0]["params_removed"] > 0
    assert all(0.0 <= p["score"] <= 2.0 for g in result["groups"].values() for p in g["points"])
    md = (out / "sensitivity.md").read_text()
    assert "| backend.lstm | 160 |" in md and "-90%" in md
    assert (out / "sensitivity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| backend.convs.0 | 128 |" in capsys.readouterr().out
    # the cuts it scored really change the model's outputs
    source = resolve(str(path))
    cut = Analysis(source.model, source.example).cut({"backend.lstm": 16})
    x = torch.stack([bundle.dev[i]["fbank"] for i in range(8)])
    with torch.no_grad():
        assert not torch.allclose(cut(x), source.model(x), atol=1e-4)


@pytest.mark.parametrize("argv, message", [
    (["missing.safetensors"], "missing.safetensors: no such file"),
    (["CKPT", "--fractions", "0.5,1.5"], "bad --fractions '0.5,1.5'"),
    (["CKPT", "--groups", "nope"], "'nope' is not a prunable group of this model"),
])
def test_bad_input_is_one_line(argv, message, trained, tmp_path, capsys):
    path = str(trained[0])
    argv = [path if a == "CKPT" else a for a in argv]
    rc = main(["sensitivity", *argv, "--data", "synth", "--data-size", "30", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message in err[0]
