"""Command-line mistakes: one error line, last and alone, exit 2, before any import of torch and before any
file is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from edgeprune.cli import main


def _run(*args, cwd=None):
    env = dict(os.environ, EDGEPRUNE_NO_PROGRESS="1")
    return subprocess.run([sys.executable, "-m", "edgeprune", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize("args, command, expect", [
    (["slim", "--method", "cplrr"], "slim", "argument --method: invalid choice: 'cplrr'"),
    (["bench"], "bench", "the following arguments are required: MODEL"),
    (["slim", "--model", "no-such-net"], "slim", "argument --model: invalid choice: 'no-such-net'"),
    (["export", "m.safetensors", "--out", "m.onnx"], "export", "the following arguments are required: --format"),
    (["slim", "--epochs", "two"], "slim", "argument --epochs: invalid int value: 'two'"),
    ([], "", "the following arguments are required: COMMAND"),
])
def test_argparse_mistake_is_one_line_naming_help(args, command, expect, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    prog = f"edgeprune {command}".strip()
    assert line.startswith(f"{prog}: error: {expect}")
    assert line.endswith(f"see {prog} --help")
    assert "usage:" not in captured.err and captured.out == ""


def test_argparse_mistake_from_a_process_is_one_line():
    r = _run("slim", "--method", "cplrr")
    assert r.returncode == 2
    assert _one_line(r.stderr).startswith("edgeprune slim: error: argument --method: invalid choice: 'cplrr'")


# Each refusal comes from the command's checks before torch is imported (the child asserts it).
_NO_TORCH = ("import sys, runpy; sys.argv = ['edgeprune'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('edgeprune', run_name='__main__')\n"
             "finally:\n    assert 'torch' not in sys.modules, 'torch was imported'\n")


def _run_no_torch(*args, cwd=None):
    env = dict(os.environ, EDGEPRUNE_NO_PROGRESS="1")
    return subprocess.run([sys.executable, "-c", _NO_TORCH, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)


@pytest.mark.parametrize("flag, value, expect", [
    ("--lr", "inf", "--lr must be a finite number, got inf"),
    ("--l1", "nan", "--l1 must be a finite number, got nan"),
    ("--k", "nan", "--k must be a finite number, got nan"),
    ("--k-below-cr", "-5", "--k-below-cr must be in (0, 1], got -5.0"),
    ("--stage-target", "7", "--stage-target must be in (0, 1), got 7.0"),
    ("--target-wsr", "nan", "--target-wsr must be a finite number, got nan"),
    ("--finetune-lr", "-1", "--finetune-lr must be > 0, got -1.0"),
    ("--l1", "-0.1", "--l1 must be >= 0, got -0.1"),
    ("--data-size", "0", "--data-size must be >= 1, got 0"),
])
def test_bad_numbers_refused_at_parse_time(tmp_path, flag, value, expect):
    r = _run_no_torch("slim", flag, value, "--out", str(tmp_path / "run"))
    assert r.returncode == 2, r.stderr
    assert _one_line(r.stderr) == f"edgeprune slim: error: {expect}"
    assert not (tmp_path / "run").exists()


def test_unknown_model_and_missing_checkpoint_answer_without_torch(tmp_path):
    r = _run_no_torch("slim", "--model", "no-such-net", "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "no-such-net" in _one_line(r.stderr)
    r = _run_no_torch("export", str(tmp_path / "nope.safetensors"), "--format", "onnx",
                      "--out", str(tmp_path / "m.onnx"))
    assert r.returncode == 2
    assert _one_line(r.stderr) == f"edgeprune export: error: {tmp_path / 'nope.safetensors'}: no such checkpoint file"


def test_missing_data_folder_answers_without_torch(tmp_path):
    (tmp_path / "file").write_text("")
    for spec, expect in ((f"folder:{tmp_path / 'nope'}", f"no such folder {tmp_path / 'nope'}"),
                         (f"misp2021:{tmp_path / 'file'}", f"{tmp_path / 'file'} is not a folder"),
                         ("folder:", "folder needs a path: folder:PATH")):
        r = _run_no_torch("slim", "--data", spec, "--out", str(tmp_path / "run"))
        assert r.returncode == 2, r.stderr
        assert _one_line(r.stderr) == f"edgeprune slim: error: --data {spec}: {expect}"
    assert not (tmp_path / "run").exists()


def test_zoo_list_of_the_command_line_is_the_registry():
    from edgeprune import models
    from edgeprune.commands.slim import ZOO_MODELS

    assert list(ZOO_MODELS) == models.names()


@pytest.mark.parametrize("cfg, expect", [
    ({"lstm_hidden": -5},
     "model 'tv-audio' cannot be built with it (ValueError: hidden_size must be greater than zero)"),
    ({"fc_hidden": "wide"}, "model 'tv-audio' cannot be built with it (TypeError"),
    ({"lstm_hidden": 40000}, "model 'tv-audio' would have 6,431,168,833 parameters"),
    ({"no_such_key": 1}, "model 'tv-audio' has no config key 'no_such_key'"),
])
def test_bad_model_cfg_is_one_line(tmp_path, capsys, cfg, expect):
    rc = main(["slim", "--model-cfg", json.dumps(cfg), "--out", str(tmp_path / "run")])
    assert rc == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"edgeprune slim: error: --model-cfg {json.dumps(cfg)}: {expect}")
    assert not (tmp_path / "run").exists()


def test_no_progress_help_shows_no_default(capsys):
    with pytest.raises(SystemExit):
        main(["slim", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    start = out.index("--no-progress hide")
    assert "(default: True)" not in out[start:start + 120]
    assert "hide progress bars" in out[start:]


def test_no_progress_flag_still_switches_bars_off():
    from edgeprune.cli import build_parser
    from edgeprune.commands.slim import config_from_args

    parser = build_parser()
    assert config_from_args(parser.parse_args(["slim"])).progress is True
    assert config_from_args(parser.parse_args(["slim", "--no-progress"])).progress is False


def test_int8_without_calib_names_the_flag(tmp_path, capsys):
    ckpt = tmp_path / "m.safetensors"
    ckpt.write_bytes(b"x")
    rc = main(["export", str(ckpt), "--format", "onnx", "--int8", "--out", str(tmp_path / "m.onnx")])
    assert rc == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("edgeprune export: error: --int8 needs --calib SPEC")
    assert not (tmp_path / "m.onnx").exists()
