"""Run directories written before TrainConfig was nested in SlimConfig (flat epochs/lr/batch_size/patience in
config.json) still resume, a different command on them is still refused by name, and a config.json this
version cannot read is refused in one line."""

import json

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.methods import run
from edgeprune.methods.config import SlimConfig

pytestmark = pytest.mark.slow

TINY = dict(method="cp", target_wsr=0.4, data_size=48, epochs=1, first_epochs=1, batch_size=16, lr=1e-3)
# config.json as main wrote it for TINY (SlimConfig(**TINY) resolved there, out aside)
OLD = {"batch_size": 16, "clip_seconds": None, "data": "synth", "data_size": 48, "device": "cpu", "epochs": 1,
       "finetune_epochs": 1, "finetune_l1": False, "finetune_lr": 0.0001, "first_epochs": 1, "granularity": "channel",
       "importance": "bn_scale+l1", "iter_epochs": 1, "k": 2.0, "k_below_cr": 0.2, "l1": 0.0001, "last_cut": "clip",
       "lr": 0.001, "max_rounds": 60, "max_step_share": 1.0, "method": "cp", "min_channels": 1, "model": "tv-audio",
       "model_cfg": None, "patience": None, "per_round": None, "per_round_unit": "params", "pretrain_epochs": 1,
       "progress": True, "residual": "skip", "rewind_epoch": 0, "scope": "global", "seed": 0, "skip_bad": False,
       "stage_target": 0.4, "staged": "auto", "target_wsr": 0.4, "ticket": None, "tolerance": None, "train": None}


def test_a_run_of_the_flat_layout_resumes_and_refuses_as_before(tmp_path):
    d = tmp_path / "run"
    assert run(SlimConfig(out=str(d), **TINY), stop_after=0)["status"] == "stopped after round 0"
    new = json.loads((d / "config.json").read_text())
    assert new["train"]["lr"] == 0.001 and new["resolved_from"]["train.lr"] == "user" and "lr" not in new
    (d / "config.json").write_text(json.dumps(dict(OLD, out=str(d))))  # as an older edgeprune left it

    with pytest.raises(EdgepruneError, match=r"holds a different run: finetune_lr=0.0001 \(now 0.0002\), "
                                             r"train.lr=0.001 \(now 0.002\);"):
        run(SlimConfig(out=str(d), **dict(TINY, lr=2e-3)))
    with pytest.raises(EdgepruneError, match=r"holds a different run: train.weight_decay=0.01 \(now 0.0\)"):
        run(SlimConfig(out=str(d), train={"weight_decay": 0.0}, **TINY))
    res = run(SlimConfig(out=str(d), **TINY))
    assert res["status"] == "finished" and res["final"]["resumed_at_round"] == 1
    assert json.loads((d / "config.json").read_text())["lr"] == 0.001  # left as it was
    assert json.loads((d / "final" / "report.json").read_text())["method"] == "cp"


def test_a_config_this_version_cannot_read_is_one_line(tmp_path):
    d = tmp_path / "run"
    run(SlimConfig(out=str(d), **TINY), stop_after=0)
    (d / "config.json").write_text(json.dumps(dict(OLD, out=str(d), warp_drive=True)))
    with pytest.raises(EdgepruneError, match=r"config.json is not a run this version can read \(unknown slim "
                                             r"settings: warp_drive\); pass another --out or remove the folder"):
        run(SlimConfig(out=str(d), **TINY))
