"""End to end on tiny synth runs: the run directory, resume equal to an uninterrupted run, skip when
finished, refusal of a different command, reports; one test per method family."""

import json

import pytest
import torch
from safetensors.torch import load_file

from edgeprune.errors import EdgepruneError
from edgeprune.methods import run
from edgeprune.methods.config import SlimConfig
from edgeprune.methods.context import Context

pytestmark = pytest.mark.slow

TINY = dict(data_size=48, epochs=1, first_epochs=1, batch_size=16, lr=1e-3)


def weights(path):
    return load_file(str(path / "model.safetensors"))


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_lthif_weight_run_dir_resume_skip_refuse(tmp_path):
    cfg = dict(method="lth-if", granularity="weight", target_wsr=0.15, per_round=0.06, **TINY)
    full = run(SlimConfig(out=str(tmp_path / "full"), **cfg))
    assert full["status"] == "finished"
    d = tmp_path / "full"
    rounds = sorted(p.name for p in d.glob("round_*"))
    assert rounds == ["round_000", "round_001", "round_002", "round_003"]
    for r in rounds + ["final"]:
        assert {"model.safetensors", "arch.json", "metrics.json"} <= {p.name for p in (d / r).iterdir()}
    m = json.loads((d / "final" / "metrics.json").read_text())
    assert m["wsr"] == pytest.approx(0.15, abs=0.005)
    masks = load_file(str(d / "final" / "masks.safetensors"))
    w = weights(d / "final")
    assert all(torch.all(w[k][masks[k] == 0] == 0) for k in masks)  # masked weights are zero
    assert m["params"] == m["params_dense"] - sum(int((v == 0).sum()) for v in masks.values())
    assert "no faster" in m["note"]
    cfgjson = json.loads((d / "config.json").read_text())
    assert cfgjson["per_round"] == 0.06 and cfgjson["scope"] == "layerwise" and cfgjson["importance"] == "l1"
    for name in ("report.json", "report.md", "curves.png"):
        assert (d / "final" / name).stat().st_size > 0

    # interrupted after round 1, then the same command again: same final model as the uninterrupted run
    part = run(SlimConfig(out=str(tmp_path / "part"), **cfg), stop_after=1)
    assert part["status"] == "stopped after round 1" and not (tmp_path / "part" / "final").exists()
    assert sorted(p.name for p in (tmp_path / "part").glob("round_*")) == ["round_000", "round_001"]
    resumed = run(SlimConfig(out=str(tmp_path / "part"), **cfg))
    assert resumed["status"] == "finished" and resumed["final"]["resumed_at_round"] == 2
    assert_same_weights(tmp_path / "full" / "final", tmp_path / "part" / "final")

    # finished: returns the final metrics without opening data or training, and writes nothing
    def files(root):  # .lock is left out: each run writes its pid there
        return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")
                if p.is_file() and p.name != ".lock"}

    before = files(d)

    def no_work(self, cfg):
        raise AssertionError("a finished run built its context (data, model)")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Context, "__init__", no_work)
        again = run(SlimConfig(out=str(d), **cfg))
    assert again["status"] == "already finished"
    assert again["final"] == json.loads((d / "final" / "metrics.json").read_text())
    assert files(d) == before

    # a different command on the same folder is refused, naming the difference
    with pytest.raises(EdgepruneError, match=r"holds a different run: .*target_wsr=0.15 \(now 0.3\)"):
        run(SlimConfig(out=str(d), **dict(cfg, target_wsr=0.3)))


def test_cplr_channels_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    cfg = dict(method="cplr", target_wsr=0.5, **TINY)
    run(SlimConfig(out=str(tmp_path / "full"), **cfg))
    assert run(SlimConfig(out=str(tmp_path / "part"), **cfg), stop_after=1)["status"] == "stopped after round 1"
    (tmp_path / "part" / ".tmp-round_002-x").mkdir()  # what a kill during a write leaves behind
    run(SlimConfig(out=str(tmp_path / "part"), **cfg))
    assert not (tmp_path / "part" / ".tmp-round_002-x").exists()
    for step in ("round_002", "final"):
        assert_same_weights(tmp_path / "full" / step, tmp_path / "part" / step)


def test_max_rounds_zero_trains_the_dense_model_only_the_same_as_a_full_runs_round_0(tmp_path):
    cfg = dict(method="cplr", target_wsr=0.5, **TINY)
    run(SlimConfig(out=str(tmp_path / "full"), **cfg))
    dense = run(SlimConfig(out=str(tmp_path / "dense"), max_rounds=0, finetune_epochs=0, **cfg))
    assert dense["final"]["stop_reason"] == "max rounds (0) reached"
    assert sorted(p.name for p in (tmp_path / "dense").iterdir() if p.is_dir()) == ["final", "round_000"]
    assert_same_weights(tmp_path / "full" / "round_000", tmp_path / "dense" / "round_000")
    assert_same_weights(tmp_path / "dense" / "round_000", tmp_path / "dense" / "final")
    final = json.loads((tmp_path / "dense" / "final" / "metrics.json").read_text())
    first = json.loads((tmp_path / "full" / "round_000" / "metrics.json").read_text())
    assert final["wsr"] == 0.0 and final["params"] == first["params"]
    assert final["test"]["score"] == first["test"]["score"]


def test_max_rounds_below_zero_is_refused_in_one_line(tmp_path):
    with pytest.raises(EdgepruneError, match=r"--max-rounds must be >= 0, got -1"):
        run(SlimConfig(out=str(tmp_path / "neg"), method="cplr", max_rounds=-1, **TINY))


def test_a_run_that_fails_at_start_up_does_not_block_the_corrected_command(tmp_path):
    d = tmp_path / "run"
    bad = f"folder:{tmp_path / 'no/such/corpus'}"
    with pytest.raises(EdgepruneError, match="no/such/corpus: no such data folder"):
        run(SlimConfig(method="cp", target_wsr=0.4, data=bad, out=str(d), **dict(TINY, data_size=None)))
    assert json.loads((d / "config.json").read_text())["data"] == bad
    res = run(SlimConfig(method="cp", target_wsr=0.4, out=str(d), **TINY), stop_after=0)
    assert res["status"] == "stopped after round 0"
    assert json.loads((d / "config.json").read_text())["data"] == "synth"
    text = (d / "round_000" / "metrics.json").read_text()  # RFC 8259 JSON: undefined rates are null, not NaN
    json.loads(text, parse_constant=lambda token: pytest.fail(f"metrics.json holds {token}"))
    assert "null" in text
    # once a step is finished, a different command is refused again
    with pytest.raises(EdgepruneError, match=r"holds a different run: .*target_wsr=0.4 \(now 0.5\)"):
        run(SlimConfig(method="cp", target_wsr=0.5, out=str(d), **TINY))
