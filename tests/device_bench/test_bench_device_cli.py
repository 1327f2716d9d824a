"""`python -m edgeprune.device_bench` in the main venv: ONNX (onnxruntime) and TFLite (ai-edge-litert) models."""

import json
import os
import subprocess
import sys

import pytest

FAST = ["--warmup", "2", "--min-runs", "20", "--min-seconds", "0.05", "--block", "5"]


def device_bench(*argv, cwd=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "edgeprune.device_bench", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


def check_result(result: dict, min_runs: int = 20, min_seconds: float = 0.05) -> None:
    """Invariants every device_bench result must satisfy."""
    assert result["schema"] == "device_bench/1"
    machine = result["machine"]
    assert machine["usable_cores"] >= 1 and machine["logical_cores"] >= machine["usable_cores"]
    assert machine["cpu_model"] and machine["os"] and machine["python"].count(".") == 2
    for entry in result["models"]:
        lat = entry["latency_ms"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert lat["min"] <= lat["mean"] <= lat["max"] and lat["std"] >= 0
        assert lat["count"] >= min_runs or entry["stopped_by"] == "max_seconds"
        assert lat["inferences_per_s"] == pytest.approx(1000 / lat["mean"])
        if entry["stopped_by"] == "min_runs_and_min_seconds":
            assert entry["measured_s"] >= min_seconds
        assert entry["load_ms"] > 0 and entry["first_run_ms"] > 0
        assert entry["runtime_version"] == result["runtimes"][entry["runtime"]]
        assert entry["memory_mib"]["rss_after_first_run"] <= result["peak_rss_mib"]
    assert result["settings"]["interleaved"] is True


def test_onnx_and_tflite_side_by_side(tiny_onnx, tiny_tflite, tmp_path):
    import ai_edge_litert
    import onnxruntime

    out = tmp_path / "r.json"
    proc = device_bench(tiny_onnx, tiny_tflite, *FAST, "--json", out)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    check_result(result)
    onnx_entry, tflite_entry = result["models"]
    assert (onnx_entry["runtime"], tflite_entry["runtime"]) == ("ort", "litert")
    assert result["runtimes"] == {"ort": onnxruntime.__version__, "litert": ai_edge_litert.__version__}
    assert onnx_entry["inputs"] == [{"name": "fbank", "shape": [1, 40, 32], "dtype": "float32", "dynamic_axes": []}]
    assert tflite_entry["inputs"][0]["shape"] == [1, 40, 32] and tflite_entry["inputs"][0]["dtype"] == "float32"
    assert onnx_entry["metadata"] == {"params": "2000", "macs": "50000"}
    assert onnx_entry["outputs"][0]["name"] == "logit"
    assert result["settings"]["threads"] == 1 and result["settings"]["interleaved"] is True
    # The table names both models and the JSON file is the only thing written.
    assert "tiny.onnx" in proc.stdout and "tiny.tflite" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_json_to_stdout_and_threads_all(tiny_onnx):
    proc = device_bench(tiny_onnx, *FAST, "--threads", "all", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    check_result(result)
    assert result["models"][0]["threads"] == len(os.sched_getaffinity(0))


def test_dynamic_axes_need_a_shape(tmp_path, make_onnx):
    model = make_onnx(tmp_path / "dyn.onnx", dynamic=True)
    proc = device_bench(model, *FAST, "--shape", "fbank=2,40,50", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    entry = json.loads(proc.stdout)["models"][0]
    assert entry["inputs"][0]["shape"] == [2, 40, 50] and entry["inputs"][0]["dynamic_axes"] == [0, 2]
    # Without --shape the dynamic axes are 1: a 3-tap convolution cannot run on one frame.
    proc = device_bench(model, *FAST)
    assert proc.returncode == 4
    assert proc.stderr.strip().count("\n") == 0 and "inference failed with ort" in proc.stderr
    # With the example shape edgeprune export records in the metadata, they take that shape.
    tagged = make_onnx(tmp_path / "tagged.onnx", {"inputs": '{"fbank": [3, 40, 64]}'}, dynamic=True)
    proc = device_bench(tagged, *FAST, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["models"][0]["inputs"][0]["shape"] == [3, 40, 64]


def test_model_that_does_not_load(garbage_onnx):
    proc = device_bench(garbage_onnx, *FAST)
    assert proc.returncode == 4
    line = proc.stderr.strip()
    assert "\n" not in line and line.startswith(f"device_bench: error: cannot load {garbage_onnx} with onnxruntime")


@pytest.mark.parametrize("argv,code,message", [
    (["missing.onnx"], 2, "model file not found: missing.onnx"),
    (["{onnx}", "--runtime", "litert"], 2, "runtime 'litert' cannot run a .onnx model"),
    (["{onnx}", "--threads", "0.5"], 2, "bad thread count '0.5'"),
    (["{onnx}", "--threads", "0"], 2, "bad thread count '0'"),
    (["{onnx}", "--min-runs", "0"], 2, "min-runs and block >= 1"),
    (["{onnx}", "--min-seconds", "nan"], 2, "min-seconds must be >= 0 and max-seconds > 0 (finite numbers)"),
    (["{onnx}", "--threads", "100000"], 2, f"bad thread count '100000': at most {4 * os.cpu_count()} on this"),
    (["{onnx}", "--warmup", "x"], 2, "argument --warmup: invalid int value: 'x' (see device_bench --help)"),
    ([], 2, "the following arguments are required: MODEL"),
    (["{onnx}", "--shape", "fbank"], 2, "bad --shape 'fbank'"),
    (["{tflite}", "--runtime", "tflite-runtime"], 3, "runtime 'tflite-runtime' is not available"),
])
def test_bad_input_is_one_line(argv, code, message, tiny_onnx, tiny_tflite, tmp_path):
    argv = [a.format(onnx=tiny_onnx, tflite=tiny_tflite) for a in argv]
    proc = device_bench(*FAST, *argv, cwd=tmp_path)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and message in proc.stderr


def test_no_arguments_is_one_usage_line():
    proc = device_bench()
    assert proc.returncode == 2
    assert proc.stderr == "device_bench: error: the following arguments are required: MODEL " \
                          "(see device_bench --help)\n"


@pytest.mark.parametrize("where,message", [
    ("folder", "cannot write {tmp}: it is a folder"),
    ("under-file", "cannot write {tmp}/afile/r.json: {tmp}/afile is a file, not a folder"),
    ("read-only", "cannot write {ro}/r.json: folder {ro} is not writable"),
])
def test_bad_json_path_is_refused_before_loading(where, message, garbage_onnx, tmp_path, read_only_folder):
    (tmp_path / "afile").write_text("keep me")
    ro = str(read_only_folder)
    path = {"folder": str(tmp_path), "under-file": f"{tmp_path}/afile/r.json", "read-only": f"{ro}/r.json"}[where]
    # The model does not load: the --json error is reported first, so it came before any loading.
    proc = device_bench(garbage_onnx, *FAST, "--json", path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"device_bench: error: {message.format(tmp=tmp_path, ro=ro)}")
    assert proc.stderr.count("\n") == 1
    assert (tmp_path / "afile").read_text() == "keep me"


def test_watch_stdin_ends_the_run_when_the_caller_goes(tiny_onnx):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "edgeprune.device_bench", str(tiny_onnx), "--min-seconds", "600",
                             "--max-seconds", "600", "--watch-stdin"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1)  # measuring (600 s asked for) while its caller holds stdin open
        proc.stdin.close()  # the caller is gone
        proc.wait(timeout=60)
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 143
    assert err == "device_bench: stopped: the caller is gone (stdin closed)\n"
