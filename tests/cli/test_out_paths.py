"""--out and --json of slim and export: an unusable path is one line naming it and the reason, before any work."""

from __future__ import annotations

import os

import pytest

from edgeprune.cli import main
from edgeprune.commands.outpaths import check_out_dir, check_out_file
from edgeprune.errors import EdgepruneError


def _error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_slim_out_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "taken"
    f.write_text("keep me")
    assert main(["slim", "--out", str(f)]) == 2
    assert _error(capsys) == f"edgeprune slim: error: --out {f}: exists and is not a folder"
    assert f.read_text() == "keep me"


def test_slim_out_under_a_file(tmp_path, capsys):
    f = tmp_path / "taken"
    f.write_text("")
    assert main(["slim", "--out", str(f / "run")]) == 2
    assert _error(capsys) == f"edgeprune slim: error: --out {f / 'run'}: {f} is a file, not a folder"


def test_slim_out_in_a_read_only_folder(tmp_path, capsys, read_only_folder):
    ro = read_only_folder
    assert main(["slim", "--out", str(ro / "run")]) == 2
    line = _error(capsys)
    assert line.startswith(f"edgeprune slim: error: --out {ro / 'run'}: cannot write there (in {ro})")
    assert not (ro / "run").exists()


def test_slim_json_that_is_a_folder(tmp_path, capsys):
    assert main(["slim", "--out", str(tmp_path / "run"), "--json", str(tmp_path)]) == 2
    assert _error(capsys) == f"edgeprune slim: error: --json {tmp_path}: is a folder; give a file name"
    assert not (tmp_path / "run").exists()


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"not read: the --out checks come first")
    return path


def test_export_out_that_is_a_folder(tmp_path, ckpt, capsys):
    folder = tmp_path / "models.onnx"
    folder.mkdir()
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(folder)]) == 2
    assert _error(capsys) == f"edgeprune export: error: --out {folder}: is a folder; give a file name"


def test_export_out_under_a_file(tmp_path, ckpt, capsys):
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(ckpt / "m.onnx")]) == 2
    assert _error(capsys) == f"edgeprune export: error: --out {ckpt / 'm.onnx'}: {ckpt} is not a folder"


def test_export_out_in_a_read_only_folder(tmp_path, ckpt, capsys, read_only_folder):
    ro = read_only_folder
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(ro / "m.onnx")]) == 2
    assert _error(capsys).startswith(f"edgeprune export: error: --out {ro / 'm.onnx'}: cannot write there (in {ro})")


def test_export_out_with_the_wrong_extension(tmp_path, ckpt, capsys):
    assert main(["export", str(ckpt), "--format", "tflite", "--out", str(tmp_path / "m.onnx")]) == 2
    assert _error(capsys) == (f"edgeprune export: error: --out {tmp_path / 'm.onnx'} must end in .tflite "
                              "for --format tflite")


def test_checks_accept_usable_paths_and_leave_nothing(tmp_path):
    assert check_out_dir(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert check_out_dir(tmp_path) == tmp_path
    (tmp_path / "old.onnx").write_text("old")
    assert check_out_file(tmp_path / "old.onnx") == tmp_path / "old.onnx"
    assert check_out_file(tmp_path / "a" / "b.onnx") == tmp_path / "a" / "b.onnx"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.onnx"]  # no probe file left, nothing created
    with pytest.raises(EdgepruneError, match="exists and is not a regular file"):
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        check_out_file(fifo)
