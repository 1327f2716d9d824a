"""slim --latency-budget: the settings refused before any work, the stop rule, and whole runs on tv-audio against
a fake target whose latency is the exported model's MACs (1 ms per million), so every figure is exact."""

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import edgeprune.methods.latency_budget as latency_budget
from edgeprune.commands.bench import read_counts
from edgeprune.errors import EdgepruneError
from edgeprune.latency.target import Target
from edgeprune.methods import run
from edgeprune.methods.config import SlimConfig
from edgeprune.methods.context import Context
from edgeprune.methods.stopping import decide_latency

# the loopback sshd of the bench tests (tests/device_bench/conftest.py), as tests/latency/conftest.py loads it
_spec = importlib.util.spec_from_file_location("_bench_fixtures_budget",
                                               Path(__file__).parents[1] / "device_bench" / "conftest.py")
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)
sshd = _bench.sshd

TINY = dict(data_size=48, epochs=1, pretrain_epochs=1, batch_size=16, lr=1e-3)
GRID = [0.75, 0.5, 0.25]
DENSE_MS = 12.128256  # tv-audio's MACs / 1e6


class MacsTarget(Target):
    """A target whose p50 = p90 = the exported model's MACs (ONNX metadata) / 1e6 ms. Records what it measured."""

    def __init__(self):
        super().__init__("local", "ort", 1)
        self.measured = []

    def probe(self):
        return {"machine": {"cpu_model": "fake", "arch": "x86_64", "logical_cores": 2, "usable_cores": 2},
                "runtime_version": "1.0"}

    def measure(self, paths):
        out = []
        for p in paths:
            ms = read_counts(p)["macs"] / 1e6
            self.measured.append(ms)
            out.append({"p50": ms, "p90": ms, "mean": ms, "min": ms})
        return out


@pytest.fixture()
def fake(monkeypatch):
    target = MacsTarget()
    monkeypatch.setattr(latency_budget, "make_target", lambda cfg: target)
    return target


@pytest.fixture()
def no_training(monkeypatch):
    def no_work(self, cfg):
        raise AssertionError("the run built its context (data, training) before the latency checks")

    monkeypatch.setattr(Context, "__init__", no_work)


def budget_cfg(tmp_path, budget, name="run", **kw):
    opts = {"grid": GRID, "cache_dir": str(tmp_path / "cache"), **kw.pop("latency_options", {})}
    return SlimConfig(out=str(tmp_path / name), latency_budget=budget, latency_options=opts, **{**TINY, **kw})


# -- settings refused before any work -------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [
    (dict(latency_budget=0.0), "--latency-budget must be a positive number of ms, got 0.0"),
    (dict(latency_budget=-2.0), "--latency-budget must be a positive number of ms"),
    (dict(target="local"), "--target is for --latency-budget"),
    (dict(threads=2), "--threads is for --latency-budget"),
    (dict(latency_options={"clock": "wall"}), "--latency-options is for --latency-budget"),
    (dict(latency_budget=1.0, target="ftp://board"), "bad --target 'ftp://board'"),
    (dict(latency_budget=1.0, threads=0), "--threads must be a positive integer, got 0"),
    (dict(latency_budget=1.0, runtime="onnx"), "--runtime must be one of ort, litert, tflite-runtime"),
    (dict(latency_budget=1.0, latency_table="/nonexistent/t.json"), "--latency-table /nonexistent/t.json: no such file"),
    (dict(latency_budget=1.0, latency_options={"clocks": "wall"}), "--latency-options has no key 'clocks'"),
    (dict(latency_budget=1.0, latency_options={"clock": "cpu"}), "clock must be wall or thread-cpu"),
    (dict(latency_budget=1.0, latency_options={"grid": [0.5, 1.5]}), "grid must be a non-empty list"),
    (dict(latency_budget=1.0, latency_options={"min_runs": 0}), "min_runs must be an integer >= 1"),
    (dict(latency_budget=1.0, latency_options={"align": -8}), "align must be an integer >= 0"),
    (dict(latency_budget=1.0, method="lth", granularity="weight"), "--latency-budget needs --granularity channel"),
    (dict(latency_budget=1.0, staged="on"), "--latency-budget prunes the whole model in one stage"),
])
def test_bad_settings_raise_one_line(kw, match):
    with pytest.raises(EdgepruneError, match=match):
        SlimConfig(**kw).resolve()


def test_an_unreachable_board_fails_before_the_folder_and_any_training(tmp_path, no_training):
    cfg = SlimConfig(out=str(tmp_path / "r"), latency_budget=1.0, target="ssh://nobody@127.0.0.1:1",
                     latency_options={"connect_timeout": 2})
    with pytest.raises(EdgepruneError, match=r"^cannot reach ssh://nobody@127\.0\.0\.1:1: .*refused"):
        run(cfg)
    assert not (tmp_path / "r").exists()


def test_a_missing_runtime_fails_before_any_training(tmp_path, no_training, monkeypatch):
    # the probe runs in a child Python: a shadowing package first on its PYTHONPATH makes tflite-runtime missing
    # there whether or not it is installed, so this test always runs
    hide = tmp_path / "hide" / "tflite_runtime"
    hide.mkdir(parents=True)
    (hide / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hide.parent), os.environ.get("PYTHONPATH")])))
    with pytest.raises(EdgepruneError, match="cannot probe the runtime on this machine: runtime 'tflite-runtime'"):
        run(SlimConfig(out=str(tmp_path / "r"), latency_budget=1.0, runtime="tflite-runtime"))
    assert not (tmp_path / "r").exists()


def test_a_budget_the_dense_model_already_meets_is_refused(tmp_path, fake, no_training):
    with pytest.raises(EdgepruneError, match=r"the dense tv-audio already runs in p90 12\.13 ms on local \(latency "
                                             r"table\), within --latency-budget 20 ms"):
        run(budget_cfg(tmp_path, 20.0))
    assert not (tmp_path / "run").exists()
    assert len(fake.measured) == 4 * (1 + len(GRID))  # the table was profiled: per group, the dense model and 3 widths


def _table_file(tmp_path, **meta):
    from edgeprune import models
    from edgeprune.export.source import resolve
    from edgeprune.latency.cache import architecture_hash
    from edgeprune.latency.table import LatencyTable

    source = resolve(models.build("tv-audio"))
    base = {"architecture": architecture_hash(source.model, source.example), "runtime": "ort", "threads": 1,
            "clock": "wall", "target": "local"}
    path = tmp_path / "table.json"
    ms = {"p50": DENSE_MS, "p90": DENSE_MS, "mean": DENSE_MS, "min": DENSE_MS}
    path.write_text(json.dumps(LatencyTable("tv-audio", {**base, **meta}, ms, {}, {}).to_dict()))
    return str(path)


@pytest.mark.parametrize("meta, match", [
    (dict(architecture="0123456789abcdef"), "was profiled on another architecture than tv-audio"),
    (dict(runtime="litert"), "was measured with runtime 'litert', this run uses 'ort'"),
    (dict(threads=4), "was measured with threads 4, this run uses 1"),
])
def test_a_table_of_something_else_is_refused(tmp_path, fake, no_training, meta, match):
    cfg = SlimConfig(out=str(tmp_path / "r"), latency_budget=5.0, latency_table=_table_file(tmp_path, **meta))
    with pytest.raises(EdgepruneError, match=match):
        run(cfg)
    assert not (tmp_path / "r").exists()


# -- the stop rule ----------------------------------------------------------------------------------------------
def _round(n, p90, score=0.5):
    return {"round": n, "dev": {"score": score}, "latency": {"p90": p90, "target": "local"}}


def test_the_stop_rule_is_the_first_round_measured_within_the_budget():
    rounds = [_round(0, 10.0), _round(1, 8.0)]
    d = decide_latency(rounds, 6.0, 0.3)
    assert d.stop is None and d.amount == 0.3
    d = decide_latency(rounds + [_round(2, 6.0)], 6.0, 0.3)
    assert d.stop == "measured p90 6 ms on local is within the 6 ms budget (round 2)" and d.base_round == 2
    d = decide_latency(rounds, 6.0, 0.3, max_rounds=1)
    assert d.stop == "max rounds (1) reached; measured p90 8 ms is over the 6 ms budget" and d.base_round == 1
    d = decide_latency(rounds + [_round(2, 5.0, score=0.9)], 6.0, 0.3, tolerance=0.2)
    assert d.stop.startswith("dev Score 0.9000 is worse than the dense 0.5000") and d.base_round == 1
    assert decide_latency([_round(0, 5.0)], 6.0, 0.3).base_round == 0  # a dense model measured within it


# -- whole runs against the fake target ------------------------------------------------------------------------
def _widths(metrics):
    return (metrics.get("latency_cut") or {}).get("widths_after")


@pytest.mark.slow
def test_rounds_stop_at_the_first_measured_within_budget_and_a_resumed_run_is_the_same(tmp_path, fake):
    # 12.13 ms dense; round 1 aims at 0.7 x that, round 2 at the budget (6 ms, above 0.7 x round 1's): 2 rounds
    full = run(budget_cfg(tmp_path, 6.0, "full"))
    assert full["status"] == "finished"
    d = tmp_path / "full"
    rounds = [json.loads((p / "metrics.json").read_text()) for p in sorted(d.glob("round_*"))]
    p90 = [r["latency"]["p90"] for r in rounds]
    assert p90[0] == pytest.approx(DENSE_MS) and len(rounds) >= 3
    assert all(ms > 6.0 for ms in p90[:-1]) and p90[-1] <= 6.0  # stopped at the first round within the budget
    assert p90 == sorted(p90, reverse=True)
    for r in rounds:  # measured = MACs / 1e6 on this target, and the table's prediction is exact on it
        assert r["latency"]["p90"] == pytest.approx(r["macs"] / 1e6)
        assert r["latency"]["predicted_p90"] == pytest.approx(r["latency"]["p90"], rel=1e-6)
    table = json.loads((d / "latency_table.json").read_text())
    for r in rounds[1:]:
        cut = r["latency_cut"]
        assert r["cut"]["unit"] == "latency" and cut["steps"]
        for root, w in cut["widths_after"].items():  # every cut lands on a measured width
            assert w == table["groups"][root]["width"] or w in [p["width"] for p in table["groups"][root]["points"]]
        assert cut["aim_ms"] == pytest.approx(max(6.0, r_prev_p90(rounds, r) * 0.7))
    final = full["final"]
    assert final["from_round"] == rounds[-1]["round"] and final["latency"]["p90"] <= 6.0
    assert final["stop_reason"] == f"measured p90 {p90[-1]:.4g} ms on local is within the 6 ms budget " \
                                   f"(round {rounds[-1]['round']})"
    report = json.loads((d / "final" / "report.json").read_text())
    assert [row["latency_p90"] for row in report["rounds"]] == pytest.approx(p90)
    assert report["final"]["latency_p90"] == pytest.approx(final["latency"]["p90"])
    md = (d / "final" / "report.md").read_text()
    assert "| p50 ms | p90 ms | predicted p90 ms |" in md and "(latency.png)" in md
    assert (d / "final" / "latency.png").stat().st_size > 0

    # interrupted after round 1, then the same command again: the same rounds and final model
    part = run(budget_cfg(tmp_path, 6.0, "part"), stop_after=1)
    assert part["status"] == "stopped after round 1"
    resumed = run(budget_cfg(tmp_path, 6.0, "part"))
    assert resumed["status"] == "finished" and resumed["final"]["resumed_at_round"] == 2
    again = [json.loads((p / "metrics.json").read_text()) for p in sorted((tmp_path / "part").glob("round_*"))]
    assert [_widths(r) for r in again] == [_widths(r) for r in rounds]
    assert [r["latency"]["p90"] for r in again] == pytest.approx(p90)
    a, b = load_file(str(d / "final" / "model.safetensors")), load_file(str(tmp_path / "part" / "final" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def r_prev_p90(rounds, r):
    return next(x for x in rounds if x["round"] == r["round"] - 1)["latency"]["p90"]


@pytest.mark.slow
def test_a_budget_out_of_reach_stops_when_nothing_is_left_to_cut(tmp_path, fake, capsys):
    # rounds may take everything (per_round 0.9, no step ceiling): the cuts go down to the table's narrowest
    # widths, and the round after that finds no cut that saves time: no round is trained for nothing
    res = run(budget_cfg(tmp_path, 0.5, per_round=0.9, max_step_share=1.0))
    final = res["final"]
    assert "the run will likely stop with nothing left to cut" in capsys.readouterr().err  # said before round 0
    assert final["stop_reason"].startswith("nothing left to cut that saves time by the latency table; measured p90")
    names = sorted(p.name for p in (tmp_path / "run").glob("round_*"))
    last = json.loads((tmp_path / "run" / names[-1] / "metrics.json").read_text())
    assert final["from_round"] == last["round"] == len(names) - 1 >= 1
    table = json.loads((tmp_path / "run" / "latency_table.json").read_text())
    assert last["latency_cut"]["widths_after"] == {r: min(p["width"] for p in g["points"])
                                                   for r, g in table["groups"].items()}
    assert final["latency"]["p90"] > 0.5


@pytest.mark.slow
def test_the_ssh_settings_reach_the_board(tmp_path, sshd):
    """--target ssh://... with the key, known_hosts and python of --latency-options: the board is probed before
    round 0 and a model is measured there by device_bench (the loopback sshd of the bench tests)."""
    from edgeprune import models

    cfg = SlimConfig(out=str(tmp_path / "r"), latency_budget=5.0, target=sshd.target,
                     latency_table=_table_file(tmp_path, target=sshd.target),
                     latency_options={"ssh_key": str(sshd.key), "known_hosts": str(sshd.known_hosts),
                                      "remote_python": sys.executable, "connect_timeout": 5, "min_runs": 3,
                                      "min_seconds": 0, "warmup": 1}).resolve()
    budget = latency_budget.LatencyBudget.open(cfg)
    assert str(budget.target.ssh) == sshd.target
    got = budget.measure(models.build("tv-audio"))
    assert got["target"] == sshd.target and 0 < got["p50"] <= got["p90"] and got["within"] == (got["p90"] <= 5.0)
    assert got["predicted_p90"] == pytest.approx(DENSE_MS)  # the table holds the dense figure only
