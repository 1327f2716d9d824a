"""`edgeprune profile` for real: lenet5 measured by device_bench here and over SSH (the bench tests' loopback sshd)."""

import json
import sys

import pytest

from edgeprune.cli import main

QUICK = ["--grid", "0.5", "--warmup", "1", "--min-runs", "3", "--min-seconds", "0", "--no-progress"]


def _run(capsys, *argv):
    rc = main(["profile", "lenet5", *QUICK, *argv])
    return rc, capsys.readouterr()


def test_local_profile_writes_the_table_and_a_second_run_measures_nothing(tmp_path, capsys):
    import onnxruntime

    from edgeprune.device_bench.machine import cpu_model

    out, cache = tmp_path / "t.json", tmp_path / "cache"
    rc, io = _run(capsys, "--out", str(out), "--cache-dir", str(cache))
    assert rc == 0, io.err
    table = json.loads(out.read_text())
    assert table["runtime"] == "ort" and table["runtime_version"] == onnxruntime.__version__
    assert table["machine"]["cpu_model"] == cpu_model() and table["target"] == "local" and table["threads"] == 1
    widths = {r: [p["width"] for p in g["points"]] for r, g in table["groups"].items()}
    assert widths == {r: [round(g["width"] / 2)] for r, g in table["groups"].items()} and len(widths) >= 3
    assert all(p["p50"] > 0 and p["dense_p50"] > 0 for g in table["groups"].values() for p in g["points"])
    assert table["measured_now"] == len(widths)
    rc, io = _run(capsys, "--out", str(out), "--cache-dir", str(cache))
    assert rc == 0 and json.loads(out.read_text())["measured_now"] == 0 and "0 points measured now" in io.out


def test_profile_over_ssh(sshd, tmp_path, capsys):
    out = tmp_path / "t.json"
    rc, io = _run(capsys, "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--target", sshd.target,
                  "--ssh-key", str(sshd.key), "--known-hosts", str(sshd.known_hosts), "--remote-python",
                  sys.executable, "--connect-timeout", "5")
    assert rc == 0, io.err
    table = json.loads(out.read_text())
    assert table["target"] == sshd.target and table["device"]["target"] == sshd.target
    assert table["measured_now"] == sum(len(g["points"]) for g in table["groups"].values()) >= 3


@pytest.mark.parametrize("argv, message", [
    (["--grid", "0.5,abc"], "bad --grid '0.5,abc'"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--target", "ftp://x"], "bad --target 'ftp://x'"),
    (["--max-seconds", "-1"], "--max-seconds must be positive"),
])
def test_bad_input_is_one_line(argv, message, tmp_path, capsys):
    rc = main(["profile", "lenet5", "--out", str(tmp_path / "t.json"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message in err[0]
    assert not (tmp_path / "t.json").exists()


def test_thread_cpu_clock_profile_is_cached_apart_from_wall_time(tmp_path, capsys):
    out, cache = tmp_path / "t.json", tmp_path / "cache"
    rc, io = _run(capsys, "--out", str(out), "--cache-dir", str(cache), "--clock", "thread-cpu")
    assert rc == 0, io.err
    table = json.loads(out.read_text())
    assert table["clock"] == "thread-cpu" and "thread-cpu" in table["device"]["target"]
    assert all(p["min"] > 0 for g in table["groups"].values() for p in g["points"])
    rc, io = _run(capsys, "--out", str(out), "--cache-dir", str(cache))  # wall clock: its own cache entry
    assert rc == 0 and json.loads(out.read_text())["measured_now"] == table["measured_now"]


def test_thread_cpu_clock_needs_one_local_ort_thread(tmp_path, capsys):
    rc = main(["profile", "lenet5", "--out", str(tmp_path / "t.json"), "--clock", "thread-cpu", "--threads", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == ["edgeprune profile: error: --clock thread-cpu needs --target local, --runtime ort "
                               "and --threads 1"]
