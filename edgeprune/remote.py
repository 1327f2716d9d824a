"""The SSH target of `edgeprune bench`: device_bench/ and the models tarred into a RemoteFolder on the board, run
there with the board's python, its JSON read back; the run is stopped and the folder removed in every case."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
from pathlib import Path

from edgeprune.errors import EdgepruneError
from edgeprune.remote_folder import PID_FILE, REMOTE_PREFIX, RemoteFolder
from edgeprune.ssh_client import HOST_KEY_POLICIES, SshOptions, ssh_failure
from edgeprune.ssh_target import SshTarget, parse_target

# Re-exported: the names other code imports from here (they lived here before the split).
__all__ = ["HOST_KEY_POLICIES", "PID_FILE", "REMOTE_PREFIX", "RemoteFolder", "SshOptions", "SshTarget",
           "bench_remote", "failure_reason", "parse_target", "remote_python_word"]


def remote_python_word(path: str) -> str:
    """The remote python as one shell word: quoted, with a leading ~/ kept expandable as "$HOME"/."""
    if not path:
        raise EdgepruneError("--remote-python must not be empty")
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)



def failure_reason(proc: subprocess.CompletedProcess, names: list[str], shown: list[str]) -> str:
    """The `device_bench: error:` line of a failed run (else its last stderr line), with the model names it
    was given replaced by the paths the user gave."""
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln.split("error:", 1)[1].strip() for ln in lines if ln.startswith("device_bench: error:")]
    reason = errors[-1] if errors else (lines[-1] if lines else f"exit status {proc.returncode}")
    for name, path in sorted(zip(names, shown), key=lambda pair: -len(pair[0])):
        reason = re.sub(rf"(?<![\w./]){re.escape(name)}(?![\w/])", lambda _m, p=path: p, reason)
    return reason


def _archive(path: Path, models: list[str]) -> list[str]:
    """Write a tar of the device_bench package (its .py files) and the models, renamed m0.onnx, m1.tflite, ...
    (so no user file name ever reaches the board's shell); returns those names."""
    import tarfile

    from edgeprune import device_bench

    names = [f"m{i}{os.path.splitext(m)[1].lower()}" for i, m in enumerate(models)]
    with tarfile.open(path, "w", dereference=True) as tar:  # a symlinked model travels as its file
        for src in sorted(Path(device_bench.__file__).parent.glob("*.py")):
            tar.add(src, arcname=f"device_bench/{src.name}")
        for model, name in zip(models, names):
            tar.add(model, arcname=name)
    return names


def bench_remote(target: SshTarget, opts: SshOptions, models: list[str], bench_args: list[str],
                 remote_python: str = "python3", remote_tmp: str | None = None) -> dict:
    """Run `python -m device_bench` on the board with `bench_args`; return its JSON with local model paths
    and a `remote` section (target, folder, python). The remote folder is removed whatever happens."""
    python = remote_python_word(remote_python)
    with tempfile.TemporaryDirectory(prefix="edgeprune-stage.") as tmp:
        archive = Path(tmp) / "bench.tar"
        names = _archive(archive, models)
        with RemoteFolder(target, opts, remote_tmp) as folder:
            folder.upload(archive)
            # exec: the pid the shell writes is device_bench's own; --watch-stdin: it exits when this ssh
            # session ends (timeout, Ctrl-C, SIGTERM, even SIGKILL of this process).
            words = [python, "-m", "device_bench", "--watch-stdin", *map(shlex.quote, bench_args), "--json",
                     "result.json", "--", *map(shlex.quote, names)]
            command = f"cd {shlex.quote(folder.path)} && echo $$ > {PID_FILE} && exec " + " ".join(words)
            proc = folder.ssh(command, timeout=opts.command_timeout, what="running device_bench")
            if proc.returncode == 255:
                raise ssh_failure(target, opts, proc.stderr)
            if proc.returncode == 127:
                raise EdgepruneError(f"remote python not found on {target}: {remote_python}")
            if proc.returncode != 0:
                raise EdgepruneError(f"on {target}: {failure_reason(proc, names, models)}")
            text = folder.fetch("result.json")
            remote_path = folder.path
    try:
        result = json.loads(text)
    except ValueError as exc:
        raise EdgepruneError(f"unreadable result from {target}: {exc}") from None
    for entry, local in zip(result.get("models", []), models):
        entry["remote_path"] = entry["path"]
        entry["path"] = local
    result["remote"] = {"target": str(target), "folder": remote_path, "python": remote_python}
    return result
