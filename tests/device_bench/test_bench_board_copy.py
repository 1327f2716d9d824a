"""device_bench copied as a plain folder and run as `python -m device_bench` in a board venv
(numpy<2, onnxruntime, tflite-runtime 2.14 only: no torch, onnx or edgeprune)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def copy_device_bench(dest: Path) -> Path:
    shutil.copytree(REPO / "device_bench", dest / "device_bench", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def run_copy(python, cwd, *argv):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([str(python), "-m", "device_bench", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_board_venv_has_only_numpy_and_runtimes(board_python, tmp_path):
    probe = ("import importlib.util as u; print([m for m in ('torch', 'onnx', 'edgeprune', 'ai_edge_litert')"
             " if u.find_spec(m)])")
    out = subprocess.run([str(board_python), "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_copied_folder_runs_onnx_and_tflite(board_python, tiny_onnx, tiny_tflite, tmp_path):
    work = copy_device_bench(tmp_path)
    shutil.copyfile(tiny_onnx, work / "a.onnx")
    shutil.copyfile(tiny_tflite, work / "b.tflite")
    proc = run_copy(board_python, work, "--warmup", "2", "--min-runs", "20", "--min-seconds", "0.05",
                    "--block", "5", "--json", "out.json", "a.onnx", "b.tflite")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((work / "out.json").read_text())
    versions = subprocess.run([str(board_python), "-c", "import numpy, onnxruntime; "
                               "print(numpy.__version__, onnxruntime.__version__)"],
                              capture_output=True, text=True, check=True).stdout.split()
    assert result["machine"]["numpy"] == versions[0] and versions[0].startswith("1.")
    assert result["runtimes"] == {"ort": versions[1], "tflite-runtime": "2.14.0"}
    assert [m["runtime"] for m in result["models"]] == ["ort", "tflite-runtime"]
    for entry in result["models"]:
        lat = entry["latency_ms"]
        assert lat["count"] >= 20 and lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert result["models"][0]["metadata"] == {"params": "2000", "macs": "50000"}


def test_copied_folder_without_numpy_says_so(bare_python, tiny_onnx, tmp_path):
    work = copy_device_bench(tmp_path)
    proc = run_copy(bare_python, work, str(tiny_onnx))
    assert proc.returncode == 3
    assert proc.stderr.strip() == f"device_bench: error: numpy is not installed for {bare_python} (pip install numpy)"
