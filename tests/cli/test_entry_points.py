"""The `edgeprune` entry points: every command has --help, bad input gives one line and exit 2."""

import re
import subprocess
import sys

import pytest

from edgeprune.cli import COMMANDS, main


def _run(*args):
    return subprocess.run([sys.executable, "-m", "edgeprune", *args], capture_output=True, text=True, timeout=120)


def test_python_m_edgeprune_lists_every_command():
    r = _run("--help")
    assert r.returncode == 0
    for name in COMMANDS:  # argparse puts the help of a long name ("sensitivity") on the next line
        assert re.search(rf"^    {re.escape(name)}( |\n)", r.stdout, re.M), name


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert "usage: edgeprune " + name in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "nope.safetensors"
    r = _run("export", str(missing), "--format", "onnx", "--out", str(tmp_path / "m.onnx"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgeprune export: error:") and "nope.safetensors" in lines[0]
    assert not (tmp_path / "m.onnx").exists()


def test_unknown_model_for_slim_names_it(tmp_path):
    r = _run("slim", "--method", "cplr", "--model", "no-such-net", "--out", str(tmp_path / "run"))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "no-such-net" in r.stderr


def test_unknown_command_fails():
    r = _run("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr
