"""Run directory: claim/refuse, one process at a time (a lock), complete rounds only, atomic folders with
the usual modes, temp clean-up, JSON without NaN."""

import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.rundir import RunDir, read_json, write_json


def test_claim_new_then_same_config_resumes(tmp_path):
    rd = RunDir(tmp_path / "run")
    assert rd.claim({"method": "cplr", "lr": 0.1, "device": "cpu"}) is True
    assert json.loads((tmp_path / "run" / "config.json").read_text())["lr"] == 0.1
    assert RunDir(tmp_path / "run").claim({"method": "cplr", "lr": 0.1, "device": "cpu"}) is False


def test_claim_refuses_a_different_command_naming_the_difference(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.claim({"method": "cplr", "lr": 0.1, "device": "cpu"})
    rd.round_path(0).mkdir()  # a run with a finished step (one with none is replaced: see below)
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


# ---- one process per run directory ------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, time
    from edgeprune.rundir import RunDir
    rd = RunDir(sys.argv[1])
    rd.claim({"a": 1})
    if sys.argv[2] == "writing":
        with rd.writing("round_000") as tmp:
            (tmp / "metrics.json").write_text("{}")
            print(tmp.name, flush=True)
            sys.stdin.readline()  # the test says when to finish the write
            (tmp / "model.safetensors").write_text("weights")
    else:
        print("ready", flush=True)
        sys.stdin.readline()
    """
)


def _holder(path, mode="idle"):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line, "the holder process did not start"
    return proc, line


def test_second_process_is_refused_and_cannot_delete_the_holders_temp_folder(tmp_path):
    run_dir = tmp_path / "run"
    proc, tmp_name = _holder(run_dir, "writing")
    try:
        assert (run_dir / tmp_name).is_dir()
        with pytest.raises(EdgepruneError, match=rf"^run {re.escape(str(run_dir))} is in use by pid {proc.pid}$"):
            RunDir(run_dir).claim({"a": 1})
        assert (run_dir / tmp_name / "metrics.json").is_file()  # the holder's temp folder is untouched
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
    # the holder published a complete folder and released the lock when it exited
    assert sorted(p.name for p in (run_dir / "round_000").iterdir()) == ["metrics.json", "model.safetensors"]
    assert RunDir(run_dir).claim({"a": 1}) is False
    RunDir(run_dir).release()


def test_a_killed_holder_releases_the_lock_and_its_temp_folder_is_cleaned(tmp_path):
    run_dir = tmp_path / "run"
    proc, tmp_name = _holder(run_dir, "writing")
    with pytest.raises(EdgepruneError, match="in use by pid"):
        RunDir(run_dir).claim({"a": 1})
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    rd = RunDir(run_dir)
    assert rd.claim({"a": 1}) is False
    assert not (run_dir / tmp_name).exists() and rd.rounds() == []
    rd.release()


def test_clean_temp_and_writing_need_the_lock(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.claim({"a": 1})
    rd.release()
    (tmp_path / "run" / ".tmp-round_000-x").mkdir()
    with pytest.raises(EdgepruneError, match="only under the run's lock"):
        rd.clean_temp()
    with pytest.raises(EdgepruneError, match="only under the run's lock"):
        with rd.writing("round_000"):
            pass
    assert (tmp_path / "run" / ".tmp-round_000-x").is_dir()


def test_a_run_with_no_finished_step_is_replaced_by_another_command(tmp_path):
    rd = RunDir(tmp_path / "run")
    rd.claim({"data": "/no/such/corpus", "lr": 0.1})
    write_json(rd.path / "data.json", {"data": "/no/such/corpus", "skipped": ["x.wav"]})
    assert rd.claim({"data": "synth", "lr": 0.1}) is True  # the start-up failed before round 0: replaced
    assert rd.config() == {"data": "synth", "lr": 0.1}
    assert not (rd.path / "data.json").exists()
    rd.round_path(0).mkdir()
    with pytest.raises(EdgepruneError, match=r"holds a different run: data='synth' \(now 'other'\)"):
        rd.claim({"data": "other", "lr": 0.1})
    assert rd.config() == {"data": "synth", "lr": 0.1}


def test_claim_refuses_a_file_and_names_an_unusable_path(tmp_path):
    (tmp_path / "f").write_text("mine")
    with pytest.raises(EdgepruneError, match="exists and is not a folder"):
        RunDir(tmp_path / "f").claim({"a": 1})
    with pytest.raises(EdgepruneError, match="cannot use .* as a run directory: Not a directory"):
        RunDir(tmp_path / "f" / "run").claim({"a": 1})
    assert (tmp_path / "f").read_text() == "mine"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o755), (0o077, 0o700), (0o002, 0o775)])
def test_published_folders_have_the_usual_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        rd = RunDir(tmp_path / "run")
        rd.claim({"a": 1})
        with rd.writing("round_000") as tmp:
            write_json(tmp / "metrics.json", {"round": 0})
    finally:
        os.umask(old)
        RunDir(tmp_path / "run").release()
    assert stat.S_IMODE(rd.round_path(0).stat().st_mode) == mode
    assert stat.S_IMODE((rd.round_path(0) / "metrics.json").stat().st_mode) == mode & 0o666


def test_json_is_written_without_nan_tokens(tmp_path):
    write_json(tmp_path / "m.json", {"score": float("nan"), "far": [0.1, float("inf"), -float("inf")], "n": 3,
                                     "nested": {"frr": (float("nan"),)}})
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"score": None, "far": [0.1, None, None], "n": 3, "nested": {"frr": [None]}}
    # keys are strings in JSON: per-SNR groups keyed by a float (clean speech: inf) keep json's names
    write_json(tmp_path / "snr.json", {"far": {float("inf"): 0.5, 10.0: float("nan"), "unknown": 0.25}})
    text = (tmp_path / "snr.json").read_text()
    assert json.loads(text) == {"far": {"Infinity": 0.5, "10.0": None, "unknown": 0.25}}
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard token {c}"))


def test_second_edgeprune_slim_on_the_same_out_says_in_use_in_one_line(tmp_path):
    run_dir = tmp_path / "run"
    proc, _ = _holder(run_dir)
    try:
        res = subprocess.run([sys.executable, "-m", "edgeprune", "slim", "--out", str(run_dir), "--data-size", "48",
                              "--epochs", "1", "--no-progress"], capture_output=True, text=True, timeout=300)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert res.returncode != 0
    assert res.stderr.strip().splitlines() == [f"edgeprune slim: error: run {run_dir} is in use by pid {proc.pid}"]
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock", "config.json"]  # nothing written by the second


def test_a_nan_score_saved_as_null_reads_back_as_nan_in_the_stop_rule(tmp_path):
    import math

    from edgeprune.methods.stopping import score_of

    write_json(tmp_path / "m.json", {"dev": {"score": float("nan")}})
    back = read_json(tmp_path / "m.json")
    assert back == {"dev": {"score": None}} and math.isnan(score_of(back))
    write_json(tmp_path / "a.json", {"dev": {"accuracy": float("nan")}})
    assert math.isnan(score_of(read_json(tmp_path / "a.json")))
    assert score_of({"dev": {"score": 0.25}}) == 0.25
