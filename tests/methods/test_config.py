"""SlimConfig: help on every field, resolution of method/model defaults, validation, identity."""

import dataclasses

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.data.sources import recommended
from edgeprune.methods.config import SlimConfig, data_slug

SYNTH_RECIPE = recommended("synth")


def test_every_field_has_help():
    for f in dataclasses.fields(SlimConfig):
        assert f.metadata.get("help"), f.name


def test_resolve_fills_method_and_model_defaults():
    c = SlimConfig(data="folder:clips").resolve({"epochs": 7, "lr": 2e-4, "batch_size": 16})
    assert (c.method, c.model, c.per_round, c.scope, c.importance) == ("cplr", "tv-audio", 0.3, "global", "bn_scale+l1")
    assert (c.epochs, c.lr, c.batch_size, c.finetune_epochs) == (7, 2e-4, 16, 7)
    assert c.out == "runs/cplr-tv-audio-folder-clips"
    # on the small built-in corpus the synth recipe replaces the model's paper defaults ...
    s = SlimConfig().resolve({"epochs": 7, "lr": 2e-4, "batch_size": 16})
    assert (s.epochs, s.lr, s.batch_size) == (SYNTH_RECIPE["epochs"], SYNTH_RECIPE["lr"], SYNTH_RECIPE["batch_size"])
    assert s.out == "runs/cplr-tv-audio-synth"
    # ... and explicit flags still win over it
    assert SlimConfig(lr=1e-4, batch_size=64, epochs=3).resolve({"lr": 2e-4}).lr == 1e-4
    lthif = SlimConfig(method="lth-if").resolve()
    assert (lthif.per_round, lthif.scope, lthif.importance, lthif.finetune_epochs) == (0.05, "layerwise", "l1", 0)
    cp = SlimConfig(method="cp", lr=1e-3).resolve()
    assert cp.finetune_lr == pytest.approx(1e-4)
    # explicit values win
    assert SlimConfig(method="lth", scope="global", per_round=0.3).resolve().scope == "global"


def test_data_slug():
    assert data_slug("synth") == "synth"
    assert data_slug("misp2021:/data/MISP2021_AVWWS/") == "misp2021-MISP2021_AVWWS"
    assert data_slug("folder:my clips") == "folder-my_clips"


@pytest.mark.parametrize("kw, match", [
    (dict(method="nope"), "--method must be one of"),
    (dict(target_wsr=1.0), "--target-wsr"),
    (dict(per_round=0.0), "--per-round"),
    (dict(k=0.5), "--k must be >= 1"),
    (dict(granularity="weight"), "--granularity weight is for lth"),
    (dict(method="cplr", ticket="x"), "--ticket is for"),
    (dict(method="lth", epochs=2, rewind_epoch=2), "--rewind-epoch"),
    (dict(residual="both"), "--residual must be one of"),
    (dict(epochs=0), "--epochs must be >= 1"),
])
def test_bad_values_raise_one_line(kw, match):
    with pytest.raises(EdgepruneError, match=match):
        SlimConfig(**kw).resolve()


def test_identity_ignores_out_device_progress_and_round_trips():
    a = SlimConfig(out="a", device="cpu").resolve()
    b = SlimConfig(out="b", device="cuda", progress=False).resolve()
    assert a.identity() == b.identity()
    assert SlimConfig(lr=0.1).resolve().identity() != a.identity()
    assert SlimConfig.from_dict(a.to_dict()) == a
    with pytest.raises(EdgepruneError, match="unknown slim settings: bogus"):
        SlimConfig.from_dict({"bogus": 1})


def test_clip_seconds_is_for_folder_and_misp_data_and_in_range():
    from edgeprune.errors import EdgepruneError
    from edgeprune.methods.config import SlimConfig

    assert SlimConfig(data="folder:/x", clip_seconds=2.5).validate().clip_seconds == 2.5
    with pytest.raises(EdgepruneError, match="--clip-seconds is for folder: and misp2021: data"):
        SlimConfig(clip_seconds=2.0).validate()
    with pytest.raises(EdgepruneError, match="--clip-seconds must be between 0.1 and 60, got 0.05"):
        SlimConfig(data="folder:/x", clip_seconds=0.05).validate()
