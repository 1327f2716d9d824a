"""Run directory: claim/refuse, complete rounds only, atomic folders, temp clean-up."""

import json

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.methods.rundir import RunDir, read_json, write_json


def test_claim_new_then_same_config_resumes(tmp_path):
    rd = RunDir(tmp_path / "run")
    assert rd.claim({"method": "cplr", "lr": 0.1, "device": "cpu"}) is True
    assert json.loads((tmp_path / "run" / "config.json").read_text())["lr"] == 0.1
    assert RunDir(tmp_path / "run").claim({"method": "cplr", "lr": 0.1, "device": "cpu"}) is False


def test_claim_refuses_a_different_command_naming_the_difference(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.claim({"method": "cplr", "lr": 0.1, "device": "cpu"})
    with pytest.raises(EdgepruneError, match=r"holds a different run: method='cplr' \(now 'lth'\)"):
        rd.claim({"method": "lth", "lr": 0.1, "device": "cpu"}, identity_keys=("method", "lr"))
    # a key outside the identity may change
    assert rd.claim({"method": "cplr", "lr": 0.1, "device": "cuda"}, identity_keys=("method", "lr")) is False


def test_claim_refuses_a_non_empty_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(EdgepruneError, match="not a run directory"):
        RunDir(tmp_path / "x").claim({"a": 1})


def test_writing_renames_on_success_and_removes_on_failure(tmp_path):
    rd = RunDir(tmp_path)
    rd.claim({"a": 1})
    with rd.writing("round_000") as tmp:
        (tmp / "metrics.json").write_text("{}")
        assert not rd.round_path(0).exists()
    assert (rd.round_path(0) / "metrics.json").is_file()
    with pytest.raises(RuntimeError):
        with rd.writing("round_001") as tmp:
            (tmp / "half").write_text("x")
            raise RuntimeError("killed")
    assert rd.rounds() == [0]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []
    with pytest.raises(EdgepruneError, match="already exists"):
        with rd.writing("round_000"):
            pass


def test_rounds_lists_complete_round_folders_and_clean_temp(tmp_path):
    rd = RunDir(tmp_path)
    rd.claim({"a": 1})
    for n in (0, 2, 1, 10):
        rd.round_path(n).mkdir()
        write_json(rd.round_path(n) / "metrics.json", {"round": n})
    (tmp_path / ".tmp-round_011-abc").mkdir()  # what a kill leaves behind
    (tmp_path / "round_x").mkdir()
    assert rd.rounds() == [0, 1, 2, 10]
    assert rd.last_round() == 10
    assert [m["round"] for m in rd.round_metrics()] == [0, 1, 2, 10]
    rd.claim({"a": 1})
    assert not (tmp_path / ".tmp-round_011-abc").exists()
    assert not rd.finished()
    rd.final_path.mkdir()
    assert rd.finished()


def test_read_json_errors_are_one_line(tmp_path):
    with pytest.raises(EdgepruneError, match="does not exist"):
        read_json(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(EdgepruneError, match="not valid JSON"):
        read_json(tmp_path / "bad.json")
