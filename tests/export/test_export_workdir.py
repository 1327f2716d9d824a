"""Export work folders: one killed mid-way is removed by the next export, a running one is never touched, and
the published file has the usual mode."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import torch

from edgeprune.export import clean_stale_work, export_model

OWNER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from edgeprune.export import _claim_work_dir
    work, fd = _claim_work_dir(Path(sys.argv[1]))
    (work / "model.onnx").write_bytes(b"x" * 1000)  # a half-written export
    print(work.name, flush=True)
    sys.stdin.readline()
    """
)


def _exporter(parent):
    """A process in the middle of an export in `parent` -> (process, its work folder)."""
    proc = subprocess.Popen([sys.executable, "-c", OWNER, str(parent)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    name = proc.stdout.readline().strip()
    assert name.startswith(".edgeprune-export-")
    return proc, parent / name


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_killed_exports_work_folders_are_removed_and_running_ones_kept(tmp_path):
    running, running_dir = _exporter(tmp_path)
    killed, killed_dir = _exporter(tmp_path)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    before_owner = tmp_path / f".edgeprune-export-{_dead_pid()}-abc123"  # killed before it made its .owner
    before_owner.mkdir()
    foreign = tmp_path / ".edgeprune-export-notes"  # not a name export makes: never touched
    foreign.mkdir()
    try:
        assert killed_dir.is_dir()
        removed = clean_stale_work(tmp_path)
        assert sorted(removed) == sorted([killed_dir, before_owner])
        assert not killed_dir.exists() and not before_owner.exists()
        assert (running_dir / "model.onnx").stat().st_size == 1000 and foreign.is_dir()
    finally:
        running.kill()
        running.wait(timeout=60)
    assert clean_stale_work(tmp_path) == [running_dir]  # once its owner is gone


def test_export_cleans_stale_work_and_publishes_with_the_usual_mode(tmp_path, standin, fbank):
    proc, stale = _exporter(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    net = standin.build().eval()
    with torch.no_grad():
        outs = net(torch.randn(8, 30, 40))
    assert float(outs.std()) > 1e-3  # a model whose output varies over inputs
    old = os.umask(0o022)
    try:
        report = export_model(net, "onnx", tmp_path / "m.onnx", example_inputs=fbank, input_names=("fbank",))
    finally:
        os.umask(old)
    assert report["parity"]["passed"]
    assert not stale.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".edgeprune-export-")] == []
    assert stat.S_IMODE((tmp_path / "m.onnx").stat().st_mode) == 0o644
