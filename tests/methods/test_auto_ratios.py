"""`slim --ratios auto`: per-group targets from round 0's sensitivity curves (AIMET's greedy selection), each round
spread over the groups by their remaining way; the curves cached in the run directory; settings it refuses."""

import json

import pytest
import torch
from safetensors.torch import load_file

from edgeprune.errors import EdgepruneError
from edgeprune.methods import auto_ratios, run
from edgeprune.methods.config import SlimConfig
from edgeprune.sensitivity.curves import FRACTIONS

TINY = dict(method="cplr", ratios="auto", data_size=48, epochs=1, pretrain_epochs=1, batch_size=16, lr=1e-3,
            target_wsr=0.5)


def widths_of(folder):
    """{layer: out width} of a round's model, read back from its arch.json."""
    arch = json.loads((folder / "arch.json").read_text())["widths"]
    return {n: next(v for k, v in e.items() if k in ("out_channels", "out_features", "hidden_size")) for n, e in
            arch.items() if any(k in e for k in ("out_channels", "out_features", "hidden_size"))}


# -- the spread of one round over the groups (pure) -----------------------------------------------------------------
def test_spread_covers_the_same_share_of_every_groups_remaining_way():
    ways, caps = {0: 100, 1: 10, 2: 0}, {0: 100, 1: 10, 2: 50}
    removed = lambda counts: 3 * counts[0] + 5 * counts[1] + 7 * counts[2]  # noqa: E731
    share = auto_ratios.spread(removed, 165, ways, caps)
    counts = auto_ratios.counts_at(share, ways, caps)
    assert abs(removed(counts) - 165) <= 5  # within one channel of the coarsest group
    assert counts[2] == 0  # a group at its target is not cut
    assert abs(counts[0] / 100 - counts[1] / 10) <= 0.1  # the same share of each way, to a channel


def test_spread_takes_the_whole_way_when_the_goal_is_beyond_it_and_respects_caps():
    ways, caps = {0: 100, 1: 10}, {0: 30, 1: 10}  # group 0 may lose only 30 this round (step ceiling)
    removed = lambda counts: sum(counts.values())  # noqa: E731
    assert auto_ratios.spread(removed, 500, ways, caps) == 1.0
    assert auto_ratios.counts_at(1.0, ways, caps) == {0: 30, 1: 10}
    share = auto_ratios.spread(removed, 20, ways, caps)
    assert sum(auto_ratios.counts_at(share, ways, caps).values()) == 20


# -- refusals ---------------------------------------------------------------------------------------------------
def test_bad_ratios_values_and_weight_granularity_are_refused_in_one_line():
    with pytest.raises(EdgepruneError, match=r"^--ratios must be one of global, auto, got 'greedy'$"):
        SlimConfig(ratios="greedy").validate()
    with pytest.raises(EdgepruneError, match=r"^--ratios auto chooses a share of channels per group; "
                                             r"--granularity weight masks single weights: use --granularity channel "
                                             r"or --ratios global$"):
        SlimConfig(method="lth-if", granularity="weight", ratios="auto").validate()
    SlimConfig(method="lth-if", granularity="weight").validate()  # global ratios: fine
    with pytest.raises(EdgepruneError, match=r"^--ratios auto and --latency-budget both choose each group's cut"):
        SlimConfig(ratios="auto", latency_budget=1.0).validate()
    assert SlimConfig().ratios == "global"  # today's behaviour stays the default


def test_the_cli_refuses_weight_granularity_before_any_work(tmp_path, capsys):
    from edgeprune.cli import main

    out = tmp_path / "run"
    rc = main(["slim", "--method", "lth", "--granularity", "weight", "--ratios", "auto", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "--ratios auto chooses a share of channels per group" in err[0]
    assert not out.exists()


@pytest.mark.slow
def test_staged_pruning_is_refused_before_round_0_trains(tmp_path):
    cfg = SlimConfig(method="lth-if", model="tv-av", ratios="auto", data_size=12, epochs=1, first_epochs=1,
                     batch_size=4, out=str(tmp_path / "av"))
    with pytest.raises(EdgepruneError, match=r"--ratios auto selects ratios for one whole-model target; staged "
                                             r"pruning \(the lip encoder first\) is not supported: pass --staged off"):
        run(cfg)
    assert not (tmp_path / "av" / "round_000").exists()


# -- runs -------------------------------------------------------------------------------------------------------
def _crafted(widths: dict, losses: dict, dense: float = 0.2) -> dict:
    """A sensitivity.json whose loss for group g at removed fraction f is losses[g](f)."""
    groups = {}
    for root, w in widths.items():
        pts = []
        for f in FRACTIONS:
            keep = max(1, w - int(round(f * w)))
            pts.append({"removed": f, "width": keep, "score": dense + losses[root](f), "params_removed": 0})
        groups[root] = {"width": w, "points": pts}
    return {"dense_score": dense, "params": 0, "importance": "bn_scale+l1", "bn_batches": 0,
            "metric": "dev Score (FRR+FAR)", "groups": groups}


@pytest.mark.slow
def test_crafted_curves_cut_the_insensitive_group_more_and_meet_the_target(tmp_path):
    d = tmp_path / "run"
    assert run(SlimConfig(out=str(d), **TINY), stop_after=0)["status"] == "stopped after round 0"
    # the round-0 model's outputs vary over inputs (else every cut would look alike)
    from edgeprune.methods.context import Context
    from edgeprune.methods.state import read_state

    model = read_state(d / "round_000").model.eval()
    ctx = Context(SlimConfig.from_dict(json.loads((d / "config.json").read_text())))
    x = torch.stack([ctx.data.dev[i]["fbank"] for i in range(8)])
    with torch.no_grad():
        assert model(x).std() > 1e-4

    dense = widths_of(d / "round_000")
    groups = ("backend.fc1", "backend.lstm", "backend.convs.3", "backend.convs.0")
    losses = {"backend.fc1": lambda f: 0.0,  # insensitive
              "backend.lstm": lambda f: 2.0 * f,  # sensitive
              "backend.convs.3": lambda f: 0.5 * f * f,
              "backend.convs.0": lambda f: 0.3 * f}
    (d / "sensitivity").mkdir()
    (d / "sensitivity" / "sensitivity.json").write_text(json.dumps(_crafted({g: dense[g] for g in groups}, losses)))

    res = run(SlimConfig(out=str(d), **TINY))
    assert res["status"] == "finished"
    final = json.loads((d / "final" / "metrics.json").read_text())
    assert final["wsr"] == pytest.approx(0.5, abs=0.006)
    chosen = final["auto_ratios"]["groups"]
    assert chosen["backend.fc1"]["ratio"] == 0.9 and chosen["backend.lstm"]["ratio"] < chosen["backend.fc1"]["ratio"]
    assert chosen["backend.lstm"]["ratio"] <= chosen["backend.convs.3"]["ratio"]
    after = widths_of(d / "final")
    cut = {g: 1 - after[g] / dense[g] for g in groups}
    assert cut["backend.fc1"] > cut["backend.lstm"] and cut["backend.fc1"] > 0.5
    for g in groups:  # no group is cut past its target; the ones left at 0 are untouched
        assert after[g] >= chosen[g]["target"]
        if chosen[g]["ratio"] == 0.0:
            assert after[g] == dense[g]
    # the bound is the smallest measured loss that meets the target: one step lower misses it
    bound = final["auto_ratios"]["bound"]
    assert bound == pytest.approx(max(losses[g](chosen[g]["ratio"]) for g in groups if chosen[g]["ratio"] > 0))


@pytest.mark.slow
def test_resume_reads_the_cached_curves_and_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    full = run(SlimConfig(out=str(tmp_path / "full"), **TINY))
    assert full["status"] == "finished"
    part = tmp_path / "part"
    assert run(SlimConfig(out=str(part), **TINY), stop_after=1)["status"] == "stopped after round 1"
    cached = part / "sensitivity" / "sensitivity.json"
    before = cached.stat().st_mtime_ns
    assert cached.stat().st_mtime_ns <= (part / "round_001").stat().st_mtime_ns
    assert {p.name for p in (part / "sensitivity").iterdir()} == {"sensitivity.json", "sensitivity.md",
                                                                  "sensitivity.png"}

    import edgeprune.sensitivity.curves as curves

    def no_recompute(*a, **k):
        raise AssertionError("the curves were computed again on resume")

    monkeypatch.setattr(curves, "sensitivity", no_recompute)
    resumed = run(SlimConfig(out=str(part), **TINY))
    assert resumed["status"] == "finished" and resumed["final"]["resumed_at_round"] == 2
    assert cached.stat().st_mtime_ns == before
    a = load_file(str(tmp_path / "full" / "final" / "model.safetensors"))
    b = load_file(str(part / "final" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["final"]["auto_ratios"] == full["final"]["auto_ratios"]


@pytest.mark.parametrize("progress", [True, False])
def test_the_sensitivity_bar_shows_only_when_progress_is_on(tmp_path, monkeypatch, capfd, progress):
    monkeypatch.delenv("EDGEPRUNE_NO_PROGRESS", raising=False)  # the suite silences bars; this test asks itself
    res = run(SlimConfig(out=str(tmp_path / "r"), progress=progress, **TINY), stop_after=1)
    assert res["status"] == "stopped after round 1"
    assert (tmp_path / "r" / "sensitivity" / "sensitivity.json").is_file()
    assert ("sensitivity:" in capfd.readouterr().err) is progress


@pytest.mark.slow
def test_cli_run_records_the_ratios_and_the_final_widths_follow_them(tmp_path):
    from edgeprune.cli import main

    out, js = tmp_path / "run", tmp_path / "final.json"
    rc = main(["slim", "--ratios", "auto", "--data-size", "120", "--pretrain-epochs", "1", "--epochs", "1",
               "--target-wsr", "0.5", "--out", str(out), "--json", str(js)])
    assert rc == 0
    final = json.loads(js.read_text())["final"]
    assert final["wsr"] == pytest.approx(0.5, abs=0.006)
    sel = final["auto_ratios"]
    assert sel["target_wsr"] == 0.5 and sel["reached"] is True and isinstance(sel["bound"], float)
    assert set(sel["groups"]) == {"backend.fc1", "backend.lstm", "backend.convs.3", "backend.convs.0"}
    report = json.loads((out / "final" / "report.json").read_text())
    widths = {w["name"]: w for w in report["widths"]}
    for root, g in sel["groups"].items():
        assert widths[root]["before"] == g["width"]
        if g["ratio"] == 0.0:
            assert widths[root]["after"] == g["width"]
        else:  # cut toward the target, never past it, and at least half of the way there
            assert g["target"] <= widths[root]["after"] < g["width"]
            assert g["width"] - widths[root]["after"] >= 0.5 * (g["width"] - g["target"])
    shown = {g["group"]: g for g in report["auto_ratios"]["groups"]}  # report.json and report.md show the selection
    assert shown.keys() == sel["groups"].keys() and report["auto_ratios"]["bound"] == sel["bound"]
    md = (out / "final" / "report.md").read_text()
    assert "## Per-group ratios (--ratios auto)" in md
    for root, g in sel["groups"].items():
        assert (shown[root]["dense"], shown[root]["target"], shown[root]["now"]) == (
            g["width"], g["target"], widths[root]["after"])
        assert f"| {root} | {shown[root]['type']} | {g['width']} | {g['ratio']:.2f} | {g['target']} | " \
               f"{widths[root]['after']} |" in md
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["ratios"] == "auto" and cfg["resolved_from"]["ratios"] == "user"
    assert json.loads((out / "sensitivity" / "sensitivity.json").read_text())["groups"].keys() == sel["groups"].keys()
    rounds = sorted(out.glob("round_0*"))[1:]
    for r in rounds:  # every round records how it spread its cut
        m = json.loads((r / "metrics.json").read_text())
        assert set(m["auto_ratios"]["groups"]) == set(sel["groups"]) and 0 < m["auto_ratios"]["share_of_way"] <= 1


@pytest.mark.slow
@pytest.mark.parametrize("method, extra", [("cp", {}), ("lth-if", dict(first_epochs=1, per_round=0.2)),
                                           ("lth", dict(per_round=0.3))])
def test_every_channel_method_runs_with_auto_ratios(tmp_path, method, extra):
    cfg = dict(TINY, method=method, target_wsr=0.4, **extra)
    cfg.pop("pretrain_epochs") if method != "cp" else None
    d = tmp_path / method
    res = run(SlimConfig(out=str(d), **cfg))
    assert res["status"] == "finished"
    final = res["final"]
    assert final["wsr"] == pytest.approx(0.4, abs=0.006)
    sel = final["auto_ratios"]["groups"]
    dense, after = widths_of(d / "round_000"), widths_of(d / "final")
    assert any(g["ratio"] > 0 for g in sel.values())
    for root, g in sel.items():
        assert g["target"] <= after[root] <= dense[root] and (g["ratio"] > 0 or after[root] == dense[root])
    rounds = sorted(d.glob("round_0*"))
    assert len(rounds) == 2 if method == "cp" else len(rounds) >= 3  # cp: one shot; the others stay iterative
    share_cap = json.loads((d / "config.json").read_text())["max_step_share"]
    for r in rounds[1:]:  # each group loses the round's share of its remaining way (to a channel), unless capped
        m = json.loads((r / "metrics.json").read_text())["auto_ratios"]
        for root, g in m["groups"].items():
            way = g["before"] - g["target"]
            cap = min(g["before"] - 1, int(share_cap * g["before"] + 1e-9))
            assert g["before"] - g["after"] == min(cap, int(m["share_of_way"] * way + 0.5)), (r.name, root)
