"""`edgeprune export` on the command line: checkpoint in, gated file and JSON report out, one-line errors."""

from __future__ import annotations

import json

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
