"""`edgeprune export` on the command line: checkpoint in, gated file and JSON report out, one-line errors."""

from __future__ import annotations

import json

import pytest
import torch

import edgeprune
from edgeprune.cli import main
from edgeprune.export.metadata import read_onnx_metadata


def _checkpoint(tmp_path, standin):
    net = standin.build(channels=8).eval()
    return edgeprune.save(net, tmp_path / "m.safetensors", factory="export_standin:build",
                          factory_kwargs={"channels": 8}, method="cp", wsr=0.3, inputs={"fbank": [1, 20, 40]})


def test_export_command_writes_file_and_json(tmp_path, standin, capsys):
    ckpt = _checkpoint(tmp_path, standin)
    rc = main(["export", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--trust-factory",
               "--json", str(tmp_path / "r.json")])
    assert rc == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["parity"]["max_abs_diff"] <= 1e-4 and report["method"] == "cp" and report["wsr"] == 0.3
    assert report["inputs"] == {"fbank": [1, 20, 40]}
    assert read_onnx_metadata(tmp_path / "m.onnx")["model"] == "export_standin:build"
    assert "float parity" in capsys.readouterr().out


def test_not_a_checkpoint_exits_2_with_one_line(tmp_path, capsys):
    bogus = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, bogus)
    rc = main(["export", str(bogus), "--format", "onnx", "--out", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0
    assert "not an edgeprune checkpoint" in err and not (tmp_path / "m.onnx").exists()


def test_untrusted_factory_is_refused(tmp_path, standin, capsys):
    ckpt = _checkpoint(tmp_path, standin)
    rc = main(["export", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "m.onnx")])
    assert rc == 2 and "trust_factory=True" in capsys.readouterr().err


_CHATTER = '''
import logging, os, sys, warnings
from edgeprune.export.quiet import quiet
try:
    with quiet():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
        os.write(1, b"I0000 port.cc:153] oneDNN custom operations are on\\n")
        logging.getLogger("torchao").warning("Failed to load /x/_C_mxfp8.so")
        warnings.warn("deprecated")
        print("python-level chatter", file=sys.stderr)
        raise KeyError("boom")
except KeyError as exc:
    print(f"caught {exc}", file=sys.stderr)
logging.getLogger("after").warning("logging works again")
os.write(1, b"stdout works again\\n")
'''


def test_converter_chatter_is_silenced_and_streams_come_back(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _CHATTER], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == ["caught 'boom'", "logging works again"]
    assert r.stdout.splitlines() == ["stdout works again"]


def _tflite_checkpoint(tmp_path, standin):
    net = standin.build(channels=8).eval()
    return edgeprune.save(net, tmp_path / "m.safetensors", factory="export_standin:build",
                          factory_kwargs={"channels": 8}, inputs={"fbank": [1, 20, 40]})


@pytest.mark.slow
def test_tflite_export_prints_no_converter_noise(tmp_path, standin):
    import os
    import subprocess
    import sys

    pytest.importorskip("litert_torch")
    ckpt = _tflite_checkpoint(tmp_path, standin)
    env = dict(os.environ, EDGEPRUNE_NO_PROGRESS="1", PYTHONPATH=os.pathsep.join([str(tmp_path / "pkg"), *sys.path]))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    r = subprocess.run([sys.executable, "-m", "edgeprune", "export", str(ckpt), "--format", "tflite", "--int8",
                        "--calib", "random", "--out", str(tmp_path / "m.tflite"), "--trust-factory"],
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr
    assert "int8 parity" in r.stdout
    for noise in ("absl", "oneDNN", "Failed to load", "_pytree", "Traceback"):
        assert noise not in r.stderr, r.stderr


def test_onnx_weights_int8_is_chosen_and_refused_without_onnx_int8(tmp_path, standin, capsys):
    ckpt = _checkpoint(tmp_path, standin)
    rc = main(["export", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "f.onnx"), "--onnx-weights", "int8"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "--onnx-weights int8 needs --format onnx --int8" in err
    assert not (tmp_path / "f.onnx").exists()
    reports = {}
    for weights in ("uint8", "int8"):
        rc = main(["export", str(ckpt), "--format", "onnx", "--int8", "--calib", "random", "--trust-factory",
                   "--onnx-weights", weights, "--out", str(tmp_path / f"{weights}.onnx"),
                   "--json", str(tmp_path / f"{weights}.json")])
        assert rc == 0, capsys.readouterr().err
        reports[weights] = json.loads((tmp_path / f"{weights}.json").read_text())["quantization"]["weight_bytes"]
    lstm = 4 * 12 * (8 + 12)  # the LSTM's weights are int8 in both (onnxruntime's LSTM quantiser)
    assert reports["uint8"]["int8"] == lstm + 2 and reports["uint8"]["uint8"] >= 8 * 40 * 3
    assert reports["int8"]["int8"] >= lstm + 8 * 40 * 3 and reports["int8"].get("uint8", 0) < 8 * 40 * 3
