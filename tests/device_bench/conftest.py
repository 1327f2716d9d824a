"""Fixtures of the bench tests: tiny ONNX/TFLite models, the "board" venv, a real sshd on 127.0.0.1, and how
the tests call `edgeprune bench` (the real CLI once every sub-command module exists, else the bench module alone
with the same parser and error handling: the CLI imports all sub-commands to build its parser)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOARD_VENV = REPO / ".venv-board"
BOARD_PACKAGES = ("numpy<2", "onnxruntime", "tflite-runtime==2.14.0")


def _tiny_net():
    import torch

    return torch.nn.Sequential(
        torch.nn.Conv1d(40, 16, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(),
        torch.nn.Linear(16, 1),
    ).eval()


def export_onnx(path: Path, props: dict | None = None, dynamic: bool = False) -> Path:
    """A tiny conv net as ONNX (input `fbank` (1, 40, 32)); `props` go into metadata_props."""
    import onnx
    import torch

    kwargs = {"dynamic_axes": {"fbank": {0: "batch", 2: "frames"}}} if dynamic else {}
    torch.onnx.export(_tiny_net(), (torch.randn(1, 40, 32),), str(path), input_names=["fbank"],
                      output_names=["logit"], dynamo=False, **kwargs)
    if props:
        model = onnx.load(str(path))
        onnx.helper.set_model_props(model, {k: str(v) for k, v in props.items()})
        onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_onnx(models_dir) -> Path:
    return export_onnx(models_dir / "tiny.onnx", {"params": 2000, "macs": 50000})


@pytest.fixture(scope="session")
def tiny_tflite(models_dir) -> Path:
    """The same tiny net converted with litert-torch (float32)."""
    import litert_torch
    import torch

    path = models_dir / "tiny.tflite"
    litert_torch.convert(_tiny_net(), (torch.randn(1, 40, 32),)).export(str(path))
    return path


@pytest.fixture(scope="session")
def garbage_onnx(models_dir) -> Path:
    path = models_dir / "garbage.onnx"
    path.write_bytes(bytes(range(256)) * 4)
    return path


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


@pytest.fixture(scope="session")
def board_python() -> Path:
    """A venv holding only numpy<2, onnxruntime and tflite-runtime 2.14 (a Raspberry Pi image's set),
    made once at .venv-board in the repo (git-ignored) and reused."""
    from filelock import FileLock  # test workers (pytest-xdist) share the one venv: one builds it, the rest wait

    with FileLock(str(BOARD_VENV) + ".lock"):
        return _board_venv()


def _board_venv() -> Path:
    python = _venv_python(BOARD_VENV)
    check = "import numpy, onnxruntime, tflite_runtime.interpreter; assert int(numpy.__version__[0]) < 2"
    if python.exists() and subprocess.run([str(python), "-c", check], capture_output=True).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(BOARD_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *BOARD_PACKAGES], check=True)
    subprocess.run([str(python), "-c", check], check=True)
    return python


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory) -> Path:
    """A venv with nothing installed (no numpy, no runtime): a board that lacks the runtime."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return _venv_python(venv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


class Sshd:
    """A running test sshd: port, the user's private key, a wrong key, a known_hosts file for the client."""

    def __init__(self, port: int, key: Path, wrong_key: Path, known_hosts: Path, user: str):
        self.port, self.key, self.wrong_key, self.known_hosts, self.user = port, key, wrong_key, known_hosts, user

    @property
    def target(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def ssh_args(self, key: Path | None = None) -> list[str]:
        return ["--target", self.target, "--ssh-key", str(key or self.key), "--known-hosts", str(self.known_hosts),
                "--connect-timeout", "5"]


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """sshd -D on 127.0.0.1 with a generated host key and test key pair; only key auth; killed at the end."""
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    assert os.path.exists(binary), "openssh-server is not installed (apt-get install openssh-server)"
    d = tmp_path_factory.mktemp("sshd")
    host_key = _keygen(d / "host_ed25519")
    key = _keygen(d / "id_test")
    wrong = _keygen(d / "id_wrong")
    (d / "authorized_keys").write_text((d / "id_test.pub").read_text())
    os.chmod(d / "authorized_keys", 0o600)
    port = _free_port()
    sftp = next((p for p in ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server",
                             "/usr/lib/ssh/sftp-server") if os.path.exists(p)), "internal-sftp")
    config = d / "sshd_config"
    config.write_text("\n".join([
        "ListenAddress 127.0.0.1",
        f"Port {port}",
        f"HostKey {host_key}",
        f"AuthorizedKeysFile {d / 'authorized_keys'}",
        f"PidFile {d / 'sshd.pid'}",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        "StrictModes no",
        f"Subsystem sftp {sftp}",
        "LogLevel ERROR",
        "",
    ]))
    os.makedirs("/run/sshd", exist_ok=True)
    log = open(d / "sshd.log", "w")
    proc = subprocess.Popen([binary, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"sshd did not start: {(d / 'sshd.log').read_text()}")
            time.sleep(0.1)
    known = d / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {(d / 'host_ed25519.pub').read_text()}")
    import getpass

    yield Sshd(port, key, wrong, known, getpass.getuser())
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


_ALONE = """
import argparse, sys
from edgeprune.commands import bench
from edgeprune.errors import EdgepruneError
parser = argparse.ArgumentParser(prog="edgeprune bench")
bench.add_arguments(parser)
args = parser.parse_args(sys.argv[1:])
try:
    sys.exit(bench.run(args))
except EdgepruneError as exc:
    print(f"edgeprune bench: error: {exc}", file=sys.stderr)
    sys.exit(2)
"""


def _cli_complete() -> bool:
    from edgeprune.cli import COMMANDS

    return all(importlib.util.find_spec(f"edgeprune.commands.{name}") is not None for name in COMMANDS)


def _bench_head() -> list[str]:
    return [sys.executable, "-m", "edgeprune", "bench"] if _cli_complete() else [sys.executable, "-c", _ALONE]


def _env(tmpdir=None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", EDGEPRUNE_NO_PROGRESS="1")
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return env


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default action. A shell that starts pytest in the
    background (`sh -c 'pytest &'`) ignores SIGINT for it, and an ignored SIGINT stays ignored through exec,
    where Python then installs no KeyboardInterrupt handler: Ctrl-C as a user sends it would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_edgeprune(command: str, *argv: str, cwd=None, timeout: float = 120,
                  tmpdir=None) -> subprocess.CompletedProcess:
    """Run `edgeprune COMMAND ARGV...` in a subprocess (`tmpdir`: its TMPDIR); the completed process (text)."""
    head = _bench_head() if command == "bench" else [sys.executable, "-m", "edgeprune", command]
    return subprocess.run([*head, *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=_env(tmpdir))


def run_edgeprune_bench(*argv: str, cwd=None, timeout: float = 120, tmpdir=None) -> subprocess.CompletedProcess:
    """Run `edgeprune bench ARGV...` in a subprocess; returns the completed process (text stdout/stderr)."""
    return run_edgeprune("bench", *argv, cwd=cwd, timeout=timeout, tmpdir=tmpdir)


def start_edgeprune_bench(*argv: str, cwd=None, tmpdir=None) -> subprocess.Popen:
    """Start `edgeprune bench ARGV...` without waiting (text stdout/stderr pipes, SIGINT at its default action
    whatever this process inherited); `tmpdir`: its TMPDIR."""
    return subprocess.Popen([*_bench_head(), *argv], cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(tmpdir), preexec_fn=_default_sigint)


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (an exited child nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes(where=None, parent: int | None = None) -> dict[int, list[str]]:
    """Live processes {pid: argv} working in folder `where` or below (cwd read from /proc; a deleted folder
    still counts) and/or children of `parent`."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or not alive(int(entry)):
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            cwd = os.readlink(f"/proc/{entry}/cwd").removesuffix(" (deleted)") if where is not None else ""
        except OSError:
            continue
        if parent is not None and ppid != parent:
            continue
        if where is not None and not (cwd == str(where) or cwd.startswith(str(where) + "/")):
            continue
        found[int(entry)] = argv
    return found


def catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler installed for `signum` (SigCgt in /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    return bool(mask >> (signum - 1) & 1)


def wait_gone(pids, where=None, timeout: float = 60) -> None:
    """Poll until none of `pids` is alive and no process works in folder `where` (a SIGKILL sent is not yet a
    process gone: under load its exit can take a moment); fail naming what is left after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = {pid: "" for pid in pids if alive(pid)}
        left.update(processes(where) if where is not None else {})
        if not left:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"still running after {timeout} s: {left}")
        time.sleep(0.1)


def wait_for(find, proc: subprocess.Popen | None, what: str, timeout: float = 90):
    """Poll `find()` until it returns something truthy (the value is returned); fail if `proc` (unless None)
    ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = find()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what} never appeared; edgeprune bench ended: {proc.stderr.read()}")
        time.sleep(0.1)
    pytest.fail(f"{what} did not appear within {timeout} s")


@pytest.fixture
def edgeprune_bench():
    """`edgeprune bench` as a subprocess: edgeprune_bench(*argv, cwd=None, timeout=120) -> CompletedProcess."""
    return run_edgeprune_bench


@pytest.fixture
def edgeprune_cli():
    """Any edgeprune command as a subprocess: edgeprune_cli(command, *argv, cwd=None, timeout=120, tmpdir=None)."""
    return run_edgeprune


@pytest.fixture(scope="session")
def make_onnx():
    """export_onnx(path, props=None, dynamic=False) -> path, for tests that need their own ONNX file."""
    return export_onnx


@pytest.fixture
def procs():
    """Process helpers: start (start_edgeprune_bench), alive, processes, wait_for, wait_gone, catches."""
    from types import SimpleNamespace

    return SimpleNamespace(start=start_edgeprune_bench, alive=alive, processes=processes, wait_for=wait_for,
                           wait_gone=wait_gone, catches=catches)
