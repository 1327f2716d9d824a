"""Each method's schedule on tiny synth runs: CPLR's learning-rate rewinding with k, CP's one shot and
smaller fine-tune rate, LTH's reset to theta_0 and ticket transfer, weight masks compounding."""

import json
import re

import pytest
import torch
from safetensors.torch import load_file

import edgeprune
from edgeprune.errors import EdgepruneError
from edgeprune.methods import run
from edgeprune.methods.config import SlimConfig
from edgeprune.methods.context import Context
from edgeprune.methods.state import read_theta0
from edgeprune.pruning import replay

pytestmark = pytest.mark.slow

TINY = dict(data_size=48, epochs=1, first_epochs=1, batch_size=16, lr=1e-3)


def metrics(d, r):
    return json.loads((d / r / "metrics.json").read_text())


@pytest.fixture()
def fit_starts(monkeypatch):
    """{fit description: the model's state dict when that training starts}, recorded from every Context.fit."""
    seen = {}
    real_fit = Context.fit

    def spy(self, model, step, **kw):
        seen[kw.get("desc", "")] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return real_fit(self, model, step, **kw)

    monkeypatch.setattr(Context, "fit", spy)
    return seen


def retrain_starts(seen) -> dict[int, dict]:
    """{round n: state dict at the start of round n's retraining} (LTH's "round n retrain from theta_k")."""
    out = {}
    for desc, state in seen.items():
        m = re.match(r"round (\d+) retrain from theta_0", desc)
        if m:
            out[int(m.group(1))] = state
    return out


def assert_state_equal(a: dict, b: dict, keys=None):
    keys = sorted(a) if keys is None else keys
    assert sorted(a) == sorted(b)
    for k in keys:
        assert a[k].shape == b[k].shape and torch.equal(a[k], b[k]), k


def test_cplr_rewinds_lr_with_k_and_prunes_physically(tmp_path):
    d = tmp_path / "cplr"
    # k_below_cr 0.8 makes eq. 7 fire from round 1 (CR 0.7), so the rate grows x3 per round
    res = run(SlimConfig(method="cplr", target_wsr=0.5, k=3, k_below_cr=0.8, out=str(d), **TINY))
    assert res["final"]["stop_reason"] == "target WSR reached"
    m0, m1, m2, mf = (metrics(d, r) for r in ("round_000", "round_001", "round_002", "final"))
    assert m1["wsr"] == pytest.approx(0.3, abs=0.01) and m2["wsr"] == pytest.approx(0.5, abs=0.005)
    assert (m0["lr"], m1["lr"], m2["lr"]) == pytest.approx((1e-3, 3e-3, 9e-3))
    assert m1["fit"]["lr"] == pytest.approx(3e-3) and m1["fit"]["l1_bn"] == 1e-4  # sparse training stays on
    assert mf["lr"] == pytest.approx(9e-3) and mf["fit"]["l1_bn"] == 0.0  # fine-tune: last rate, L1 off
    assert m2["macs"] < m0["macs"] and m2["cut"]["max_diff"] <= 1e-5
    model, _ = edgeprune.load(d / "final" / "model.safetensors")
    ex = model.edgeprune_arch  # rebuilt from data, no pickle
    assert ex["zoo"] == "tv-audio"
    assert sum(p.numel() for p in model.parameters()) == mf["params"]
    arch = json.loads((d / "final" / "arch.json").read_text())
    assert arch["widths"]["backend.convs.0"]["out_channels"] < 128
    assert len(arch["history"]) == 2  # one replayable step per round


def test_cp_cuts_once_then_finetunes_at_a_tenth(tmp_path):
    d = tmp_path / "cp"
    run(SlimConfig(method="cp", target_wsr=0.4, out=str(d), **TINY))
    assert sorted(p.name for p in d.glob("round_*")) == ["round_000", "round_001"]
    m1, mf = metrics(d, "round_001"), metrics(d, "final")
    assert m1["fit"] is None and m1["wsr"] == pytest.approx(0.4, abs=0.005)
    assert mf["fit"]["lr"] == pytest.approx(1e-4) and mf["fit"]["epochs_run"] == 1


def test_lth_channels_reset_to_theta0_and_ticket_transfer(tmp_path, fit_starts):
    d = tmp_path / "lth"
    run(SlimConfig(method="lth", target_wsr=0.3, per_round=0.2, out=str(d), **TINY))
    theta0 = read_theta0(d / "round_000")
    trained0, _ = edgeprune.load(d / "round_000" / "model.safetensors")
    moved = [k for k, v in theta0.state_dict().items() if not torch.equal(v, trained0.state_dict()[k])]
    assert len(moved) > 10  # training moved the weights, so a reset to theta_0 is visible
    starts = retrain_starts(fit_starts)
    rounds = sorted(int(p.name[6:]) for p in d.glob("round_*") if p.name != "round_000")
    assert rounds and sorted(starts) == rounds
    for n in rounds:  # each round retrains theta_0 with that round's cuts replayed, not the trained survivors
        arch = json.loads((d / f"round_{n:03d}" / "arch.json").read_text())
        rewound = read_theta0(d / "round_000")
        replay(rewound, edgeprune.models.example_inputs("tv-audio"), arch["history"])
        assert_state_equal(starts[n], rewound.state_dict())
    final, _ = edgeprune.load(d / "final" / "model.safetensors")
    arch = json.loads((d / "final" / "arch.json").read_text())
    replay(theta0, edgeprune.models.example_inputs("tv-audio"), arch["history"])
    assert {k: v.shape for k, v in theta0.state_dict().items()} == {k: v.shape for k, v in final.state_dict().items()}
    # the ticket on another data subset (seed) and learning rate: starts from the source's theta_0 and cut
    fit_starts.clear()
    t = tmp_path / "ticket"
    res = run(SlimConfig(method="lth", target_wsr=0.3, per_round=0.2, ticket=str(d), out=str(t),
                         **dict(TINY, lr=5e-4), seed=1))
    assert_state_equal(fit_starts["train ticket"], theta0.state_dict())  # source's theta_0 with its final cuts
    m0 = metrics(t, "round_000")
    assert m0["wsr"] == pytest.approx(metrics(d, "final")["wsr"]) and m0["ticket"].endswith("final")
    assert res["final"]["round"] == "final" and sorted(p.name for p in t.glob("round_*")) == ["round_000"]
    with pytest.raises(EdgepruneError, match="not a run directory"):
        run(SlimConfig(method="lth", ticket=str(tmp_path / "nothing"), out=str(tmp_path / "t2"), **TINY))


def test_lth_weight_masks_compound_and_survivors_restart_from_theta0(tmp_path, fit_starts):
    d = tmp_path / "lthw"
    run(SlimConfig(method="lth", granularity="weight", target_wsr=0.36, per_round=0.2, out=str(d), **TINY))
    m1 = load_file(str(d / "round_001" / "masks.safetensors"))
    m2 = load_file(str(d / "round_002" / "masks.safetensors"))
    for k in m1:  # layer-wise: 20 % of each tensor, then 20 % of the survivors; removed stay removed
        assert float(m1[k].mean()) == pytest.approx(0.8, abs=0.02)
        assert torch.all(m2[k] <= m1[k])
    assert metrics(d, "round_002")["part_wsr"]["model"] == pytest.approx(0.36, abs=0.01)
    theta0 = read_theta0(d / "round_000").state_dict()
    starts = retrain_starts(fit_starts)
    assert sorted(starts) == [1, 2]
    for n, masks in ((1, m1), (2, m2)):
        trained = load_file(str(d / f"round_{n - 1:03d}" / "model.safetensors"))
        start = starts[n]
        for k, mask in masks.items():
            keep = mask.bool()
            assert torch.equal(start[k][keep], theta0[k][keep]), k  # survivors restart from theta_0 ...
            assert not torch.equal(trained[k][keep], theta0[k][keep]), k  # ... not from the trained weights
            assert torch.all(start[k][~keep] == 0), k  # the cut weights are zero
        others = [k for k in theta0 if k not in masks]
        assert others and all(torch.equal(start[k], theta0[k]) for k in others)  # biases, BN: theta_0 as well
