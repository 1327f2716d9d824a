"""`edgeprune bench` on this machine: side-by-side comparison from the ONNX metadata, the p90 gate, bad input."""

import json
import os
import shutil
import signal

import pytest

FAST = ["--warmup", "2", "--min-runs", "20", "--min-seconds", "0.05", "--block", "5"]


@pytest.fixture(scope="module")
def trio(tmp_path_factory, make_onnx):
    d = tmp_path_factory.mktemp("trio")
    dense = make_onnx(d / "dense.onnx", {"params": 2000, "macs": 50000})
    slim = make_onnx(d / "slim.onnx", {"params": 1000, "macs": 20000})
    bare = make_onnx(d / "bare.onnx")
    return dense, slim, bare


def test_side_by_side_ratios_from_metadata(trio, tmp_path, edgeprune_bench):
    out = tmp_path / "cmp.json"
    proc = edgeprune_bench(*map(str, trio), *FAST, "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["schema"] == "edgeprune.bench/1" and report["target"] == "local" and report["gate"] is None
    dense, slim, bare = report["comparison"]
    assert (dense["params_ratio"], dense["macs_ratio"], dense["latency_ratio"]) == (1.0, 1.0, 1.0)
    assert slim["params"] == 1000 and slim["params_ratio"] == 0.5 and slim["macs_ratio"] == 0.4
    assert bare["params"] is None and bare["params_ratio"] is None and bare["macs_ratio"] is None
    models = report["bench"]["models"]
    assert [m["path"] for m in models] == [str(p) for p in trio]
    assert report["bench"]["settings"]["interleaved"] is True
    assert all(m["latency_ms"]["count"] >= 20 and m["measured_s"] >= 0.05 for m in models)
    for row, entry in zip(report["comparison"], models):
        assert row["p50_ms"] == entry["latency_ms"]["p50"] and row["p90_ms"] == entry["latency_ms"]["p90"]
        assert row["latency_ratio"] == pytest.approx(entry["latency_ms"]["p50"] / models[0]["latency_ms"]["p50"])
    table = proc.stdout.splitlines()
    slim_row = next(line for line in table if line.startswith("slim.onnx") and "0.400" in line)
    assert "0.500" in slim_row and "1,000" in slim_row and "20,000" in slim_row
    assert any(line.startswith("bare.onnx") and line.count("n/a") == 4 for line in table)


def test_latency_gate_on_p90(trio, tmp_path, edgeprune_bench):
    out = tmp_path / "gate.json"
    proc = edgeprune_bench(str(trio[0]), *FAST, "--max-latency-ms", "0.000001", "--json", str(out))
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "latency gate failed: dense.onnx p90" in proc.stderr
    gate = json.loads(out.read_text())["gate"]
    assert gate == {"max_latency_ms": 1e-06, "statistic": "p90", "passed": False, "failing": [str(trio[0])]}
    proc = edgeprune_bench(str(trio[0]), *FAST, "--max-latency-ms", "100000", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["gate"]["passed"] is True


def test_thread_cpu_clock_measures_and_says_so(trio, tmp_path, edgeprune_bench):
    out = tmp_path / "cpu.json"
    proc = edgeprune_bench(str(trio[0]), str(trio[1]), *FAST, "--clock", "thread-cpu", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["bench"]["settings"]["clock"] == "thread-cpu"
    for row, entry in zip(report["comparison"], report["bench"]["models"]):
        lat = entry["latency_ms"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] and lat["count"] >= 20
        assert row["p90_ms"] == lat["p90"]
    assert "times are the measuring thread's CPU time (--clock thread-cpu)" in proc.stdout
    wall = tmp_path / "wall.json"
    assert edgeprune_bench(str(trio[0]), *FAST, "--json", str(wall)).returncode == 0
    assert json.loads(wall.read_text())["bench"]["settings"]["clock"] == "wall"


@pytest.mark.parametrize("argv,message", [
    (["missing.onnx"], "model file not found: missing.onnx"),
    (["{dense}", "--runtime", "tflite-runtime"], "runtime 'tflite-runtime' cannot run a .onnx model"),
    (["{dense}", "--target", "ssh://root@host:70000"], "bad --target 'ssh://root@host:70000'"),
    (["{dense}", "--target", "board"], "bad --target 'board'"),
    (["{dense}", "--threads", "-2"], "bad --threads '-2'"),
    (["{dense}", "--max-latency-ms", "0"], "--max-latency-ms must be positive"),
    (["{dense}", "--json", "/nonexistent/dir/x.json"], "folder /nonexistent/dir does not exist"),
    (["{dense}", "--threads", "100000"], f"bad --threads '100000': at most {4 * os.cpu_count()} on this machine"),
    (["{dense}", "--threads", "5000", "--target", "ssh://root@127.0.0.1:1"], "bad --threads '5000': at most 1024"),
    (["{dense}", "--remote-timeout", "-1"], "--remote-timeout must be positive, got -1.0"),
    (["{dense}", "--remote-timeout", "nan"], "--remote-timeout must be positive, got nan"),
    (["{dense}", "--max-latency-ms", "nan"], "--max-latency-ms must be positive, got nan"),
    (["{dense}", "--min-seconds", "nan"], "min-seconds must be >= 0 and max-seconds > 0 (finite numbers)"),
    (["{dense}", "--target", "ssh://root@127.0.0.1:1", "--ssh-key", "/nonexistent/key"],
     "SSH key not found: /nonexistent/key"),
    (["{dense}", "--clock", "thread-cpu", "--threads", "2"], "--clock thread-cpu needs onnxruntime (.onnx files) "
                                                             "and --threads 1"),
    (["{dense}", "--clock", "thread-cpu", "--threads", "all"], "--clock thread-cpu needs onnxruntime"),
    (["{dense}", "--clock", "gpu"], "argument --clock: invalid choice: 'gpu'"),
])
def test_bad_input_is_one_line(argv, message, trio, tmp_path, edgeprune_bench):
    argv = [a.format(dense=trio[0]) for a in argv]
    proc = edgeprune_bench(*FAST, *argv, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and message in proc.stderr


@pytest.mark.parametrize("where", ["folder", "under-file", "read-only"])
def test_bad_json_path_is_one_line_before_measuring(where, trio, tmp_path, edgeprune_bench, read_only_folder):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    ro = str(read_only_folder)
    path, message = {
        "folder": (str(tmp_path), f"cannot write {tmp_path}: it is a folder"),
        "under-file": (f"{afile}/r.json", f"cannot write {afile}/r.json: {afile} is a file, not a folder"),
        "read-only": (f"{ro}/r.json", f"cannot write {ro}/r.json: folder {ro} is not writable"),
    }[where]
    # 600 s of measuring asked for: the error must come before it (the call's limit is 60 s).
    proc = edgeprune_bench(str(trio[0]), "--min-seconds", "600", "--max-seconds", "600", "--json", path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"edgeprune bench: error: {message}") and proc.stderr.count("\n") == 1
    assert afile.read_text() == "keep me" and proc.stdout == ""


def _local_child(procs, proc):
    """(pid, temporary folder) of the device_bench child of a local `edgeprune bench`, once it runs."""
    def find():
        return [(pid, argv) for pid, argv in procs.processes(parent=proc.pid).items()
                if "edgeprune.device_bench" in argv]

    (pid, argv), = procs.wait_for(find, proc, "the device_bench child")
    folder = os.path.dirname(argv[argv.index("--json") + 1])
    assert os.path.basename(folder).startswith("edgeprune-bench.") and os.path.isdir(folder)
    return pid, folder


SLOW = ["--warmup", "0", "--min-runs", "1", "--min-seconds", "600", "--max-seconds", "600"]


def test_sigterm_stops_the_child_and_removes_the_temporary_folder(trio, procs, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = procs.start(str(trio[0]), *SLOW, tmpdir=tmpdir)
    try:
        child, folder = _local_child(procs, proc)
        assert os.path.dirname(folder) == str(tmpdir)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 143 and err == "edgeprune bench: terminated (SIGTERM)\n"
    assert not procs.alive(child), "device_bench outlived edgeprune bench"
    assert list(tmpdir.iterdir()) == []


def test_sigkill_still_ends_the_child(trio, procs):
    """SIGKILL runs no clean-up; the child still goes, because its stdin (a pipe only the parent held) closes."""
    proc = procs.start(str(trio[0]), *SLOW)
    try:
        child, folder = _local_child(procs, proc)
        proc.kill()
        proc.wait()
        procs.wait_for(lambda: not procs.alive(child), None, "the end of the child")
    finally:
        proc.kill()
        proc.wait()
        if procs.alive(child):
            os.kill(child, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)  # nothing can remove it after SIGKILL
