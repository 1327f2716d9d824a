"""The SSH target of `edgeprune bench`: copy device_bench/ and the models to a temporary folder on a board with
the system OpenSSH client, run the measurement there, fetch its JSON and remove the folder in every case."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from edgeprune.errors import EdgepruneError

_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+$")
REMOTE_PREFIX = "edgeprune-bench."
HOST_KEY_POLICIES = ("accept-new", "yes", "no")


@dataclass(frozen=True)
class SshTarget:
    """A board reached over SSH: ssh://[user@]host[:port]."""

    host: str
    user: str | None = None
    port: int | None = None

    def destination(self) -> str:
        """user@host as ssh takes it."""
        return f"{self.user}@{self.host}" if self.user else self.host

    def scp_prefix(self) -> str:
        """user@host: (IPv6 addresses in brackets) as scp takes it before a remote path."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}:" if self.user else f"{host}:"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"ssh://{user}{host}{port}"


def parse_target(text: str) -> SshTarget | None:
    """`local` -> None; `ssh://[user@]host[:port]` -> SshTarget; anything else raises EdgepruneError."""
    if text == "local":
        return None
    if not text.startswith("ssh://"):
        raise EdgepruneError(f"bad --target {text!r}: expected 'local' or ssh://user@host[:port]")
    parts = urlsplit(text)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.password is not None:
        raise EdgepruneError(f"bad --target {text!r}: expected ssh://user@host[:port] (no password, path or query)")
    try:
        port = parts.port
    except ValueError:
        raise EdgepruneError(f"bad --target {text!r}: the port must be a number from 1 to 65535") from None
    host = parts.hostname or ""
    user = parts.username
    if port == 0:
        raise EdgepruneError(f"bad --target {text!r}: the port must be a number from 1 to 65535")
    bracketed = "[" in parts.netloc
    if not host or not (_IPV6.match(host) if bracketed else _HOST.match(host)):
        raise EdgepruneError(f"bad --target {text!r}: invalid host name {host!r}")
    if user is not None and not _USER.match(user):
        raise EdgepruneError(f"bad --target {text!r}: invalid user name {user!r}")
    return SshTarget(host=host, user=user, port=port)


@dataclass(frozen=True)
class SshOptions:
    """How to talk to the board: key, connect timeout, host-key policy, known_hosts file, extra -o options."""

    key: str | None = None
    connect_timeout: int = 10
    strict_host_key_checking: str = "accept-new"
    known_hosts: str | None = None
    extra: tuple[str, ...] = ()
    command_timeout: float = 900.0

    def common(self) -> list[str]:
        """Options shared by ssh and scp."""
        if self.strict_host_key_checking not in HOST_KEY_POLICIES:
            raise EdgepruneError(f"bad host-key policy {self.strict_host_key_checking!r}: "
                                 f"choose one of {', '.join(HOST_KEY_POLICIES)}")
        if self.connect_timeout < 1:
            raise EdgepruneError("the SSH connect timeout must be at least 1 second")
        opts = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}",
                "-o", f"StrictHostKeyChecking={self.strict_host_key_checking}",
                "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-o", "LogLevel=ERROR"]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={os.path.abspath(self.known_hosts)}"]
        if self.key:
            if not os.path.isfile(self.key):
                raise EdgepruneError(f"SSH key not found: {self.key}")
            opts += ["-i", os.path.abspath(self.key), "-o", "IdentitiesOnly=yes"]
        for item in self.extra:
            if "=" not in item or item.startswith("-"):
                raise EdgepruneError(f"bad --ssh-option {item!r}: expected KEY=VALUE")
            opts += ["-o", item]
        return opts


def _ssh_failure(target: SshTarget, opts: SshOptions, stderr: str) -> EdgepruneError:
    """One line for an ssh/scp failure (exit 255): unreachable, refused authentication, host key, other."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    last = lines[-1] if lines else "no error message"
    text = stderr.lower()
    if "permission denied" in text or "too many authentication failures" in text:
        key = f" with key {opts.key}" if opts.key else ""
        return EdgepruneError(f"authentication refused by {target}{key}: {last}")
    if "host key verification failed" in text or "remote host identification has changed" in text:
        return EdgepruneError(f"host key of {target} is not trusted ({last}); see --strict-host-key-checking "
                              f"and --known-hosts")
    reach = ("connection refused", "timed out", "no route to host", "could not resolve", "network is unreachable",
             "connection closed", "connection reset", "name or service not known")
    if any(word in text for word in reach):
        return EdgepruneError(f"cannot reach {target}: {last}")
    return EdgepruneError(f"ssh to {target} failed: {last}")


def _call(argv: list[str], target: SshTarget, opts: SshOptions, timeout: float, what: str):
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise EdgepruneError(f"{argv[0]} not found: install the OpenSSH client (openssh-client)") from None
    except subprocess.TimeoutExpired:
        raise EdgepruneError(f"{what} on {target} timed out after {timeout:.0f} s") from None


def remote_python_word(path: str) -> str:
    """The remote python as one shell word: quoted, with a leading ~/ kept expandable as "$HOME"/."""
    if not path:
        raise EdgepruneError("--remote-python must not be empty")
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


class RemoteFolder:
    """A `mktemp -d` folder on the board for one run; a context manager that removes it on exit."""

    def __init__(self, target: SshTarget, opts: SshOptions, base: str | None = None):
        self.target, self.opts, self.base, self.path = target, opts, base, None
        self.common = opts.common()

    def ssh(self, command: str, timeout: float | None = None, what: str = "ssh"):
        argv = ["ssh", *self.common]
        if self.target.port:
            argv += ["-p", str(self.target.port)]
        argv += ["--", self.target.destination(), command]
        return _call(argv, self.target, self.opts, timeout or self.opts.connect_timeout + 60, what)

    def scp(self, sources: list[str], dest: str, what: str):
        argv = ["scp", "-q", "-r", *self.common]
        if self.target.port:
            argv += ["-P", str(self.target.port)]
        argv += ["--", *sources, dest]
        proc = _call(argv, self.target, self.opts, self.opts.connect_timeout + 300, what)
        if proc.returncode != 0:
            if proc.returncode == 255 or "ssh:" in proc.stderr or "permission denied" in proc.stderr.lower():
                raise _ssh_failure(self.target, self.opts, proc.stderr)
            last = (proc.stderr.strip().splitlines() or ["no error message"])[-1]
            raise EdgepruneError(f"{what} on {self.target} failed: {last}")

    def __enter__(self) -> "RemoteFolder":
        base = '"${TMPDIR:-/tmp}"' if self.base is None else shlex.quote(self.base)
        proc = self.ssh(f"mktemp -d {base}/{REMOTE_PREFIX}XXXXXXXX", what="creating a temporary folder")
        if proc.returncode == 255:
            raise _ssh_failure(self.target, self.opts, proc.stderr)
        out = proc.stdout.strip()
        if proc.returncode != 0 or "\n" in out or not out.startswith("/") or REMOTE_PREFIX not in out:
            last = (proc.stderr.strip().splitlines() or [out or "no output"])[-1]
            raise EdgepruneError(f"cannot create a temporary folder on {self.target}: {last}")
        self.path = out
        return self

    def __exit__(self, *exc) -> None:
        if self.path and REMOTE_PREFIX in os.path.basename(self.path):
            try:
                self.ssh(f"rm -rf -- {shlex.quote(self.path)}", what="removing the temporary folder")
            except EdgepruneError:
                if exc[0] is None:
                    raise
        self.path = None

    def remote(self, name: str) -> str:
        """scp destination for `name` inside the folder."""
        return self.target.scp_prefix() + f"{self.path}/{name}"


def failure_reason(proc: subprocess.CompletedProcess, names: list[str], shown: list[str]) -> str:
    """The `device_bench: error:` line of a failed run (else its last stderr line), with the model names it
    was given replaced by the paths the user gave."""
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln.split("error:", 1)[1].strip() for ln in lines if ln.startswith("device_bench: error:")]
    reason = errors[-1] if errors else (lines[-1] if lines else f"exit status {proc.returncode}")
    for name, path in sorted(zip(names, shown), key=lambda pair: -len(pair[0])):
        reason = re.sub(rf"(?<![\w./]){re.escape(name)}(?![\w/])", lambda _m, p=path: p, reason)
    return reason


def _stage(stage: Path, models: list[str]) -> list[str]:
    """Copy the device_bench package (its .py files) and the models (renamed m0.onnx, m1.tflite, ...) into stage."""
    from edgeprune import device_bench

    package = stage / "device_bench"
    package.mkdir()
    for src in Path(device_bench.__file__).parent.glob("*.py"):
        shutil.copyfile(src, package / src.name)
    names = []
    for i, model in enumerate(models):
        name = f"m{i}{os.path.splitext(model)[1].lower()}"
        shutil.copyfile(model, stage / name)
        names.append(name)
    return names


def bench_remote(target: SshTarget, opts: SshOptions, models: list[str], bench_args: list[str],
                 remote_python: str = "python3", remote_tmp: str | None = None) -> dict:
    """Run `python -m device_bench` on the board with `bench_args`; return its JSON with local model paths
    and a `remote` section (target, folder, python). The remote folder is removed whatever happens."""
    python = remote_python_word(remote_python)
    with tempfile.TemporaryDirectory(prefix="edgeprune-stage.") as tmp:
        stage = Path(tmp)
        names = _stage(stage, models)
        with RemoteFolder(target, opts, remote_tmp) as folder:
            folder.scp([str(stage / "device_bench"), *(str(stage / n) for n in names)],
                       folder.remote(""), "copying device_bench and the models")
            words = [python, "-m", "device_bench", *map(shlex.quote, bench_args), "--json", "result.json", "--",
                     *map(shlex.quote, names)]
            command = f"cd {shlex.quote(folder.path)} && " + " ".join(words)
            proc = folder.ssh(command, timeout=opts.command_timeout, what="running device_bench")
            if proc.returncode == 255:
                raise _ssh_failure(target, opts, proc.stderr)
            if proc.returncode == 127:
                raise EdgepruneError(f"remote python not found on {target}: {remote_python}")
            if proc.returncode != 0:
                raise EdgepruneError(f"on {target}: {failure_reason(proc, names, models)}")
            folder.scp([folder.remote("result.json")], str(stage / "result.json"), "fetching the result")
            remote_path = folder.path
        try:
            result = json.loads((stage / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EdgepruneError(f"unreadable result from {target}: {exc}") from None
    for entry, local in zip(result.get("models", []), models):
        entry["remote_path"] = entry["path"]
        entry["path"] = local
    result["remote"] = {"target": str(target), "folder": remote_path, "python": remote_python}
    return result
