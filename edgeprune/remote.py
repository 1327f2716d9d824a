"""The SSH target of `edgeprune bench`: copy device_bench/ and the models to a temporary folder on a board with
the system OpenSSH client (ssh only: a tar stream in, the JSON out), run the measurement there with the board's
python, and in every case stop that run and remove the folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from edgeprune.errors import EdgepruneError
from edgeprune.tied import run_tied

_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+$")
_BRACKETED = re.compile(r"^\[[^\[\]]+\](:[0-9]*)?$")  # urllib drops what follows "]" before the port
REMOTE_PREFIX = "edgeprune-bench."
PID_FILE = "bench.pid"  # the pid of the remote device_bench, in its folder, for the clean-up to stop it
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
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError as exc:  # urllib: "Invalid IPv6 URL", "'[...]' does not appear to be an IPv4 or IPv6 address"
        raise EdgepruneError(f"bad --target {text!r}: invalid host ({exc})") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.password is not None:
        raise EdgepruneError(f"bad --target {text!r}: expected ssh://user@host[:port] (no password, path or query)")
    try:
        port = parts.port
    except ValueError:
        raise EdgepruneError(f"bad --target {text!r}: the port must be a number from 1 to 65535") from None
    user = parts.username
    if port == 0:
        raise EdgepruneError(f"bad --target {text!r}: the port must be a number from 1 to 65535")
    bracketed = "[" in parts.netloc
    if bracketed and not _BRACKETED.match(parts.netloc.rpartition("@")[2]):
        raise EdgepruneError(f"bad --target {text!r}: expected [IPv6 address] or [IPv6 address]:port")
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
        """The -o/-i options of every ssh call."""
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
    """One line for an ssh failure (exit 255): unreachable, refused authentication, host key, other."""
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


def _call(argv: list[str], target: SshTarget, opts: SshOptions, timeout: float, what: str, stdin=None):
    """ssh tied to this process (tied.run_tied): without `stdin`, the remote command's stdin stays open until this
    process ends or the call is stopped, so a remote `--watch-stdin` run dies with it."""
    try:
        return run_tied(argv, timeout=timeout, stdin=stdin)
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

    def ssh(self, command: str, timeout: float | None = None, what: str = "ssh", stdin=None):
        """Run one shell command line on the board (every variable part already shlex-quoted)."""
        argv = ["ssh", *self.common]
        if self.target.port:
            argv += ["-p", str(self.target.port)]
        argv += ["--", self.target.destination(), command]
        return _call(argv, self.target, self.opts, timeout or self.opts.connect_timeout + 60, what, stdin)

    def upload(self, archive: Path) -> None:
        """Unpack a local tar archive into the folder: `tar -x` on the board, fed through ssh's stdin. (Not scp:
        the legacy scp protocol, still the default of OpenSSH clients before 9.0, passes the remote path through
        the remote shell, so a folder name with spaces or metacharacters would break or be run.)"""
        with open(archive, "rb") as stdin:
            proc = self.ssh(f"tar -x -f - -C {shlex.quote(self.path)}", timeout=self.opts.connect_timeout + 600,
                            what="copying device_bench and the models", stdin=stdin)
        self._check(proc, "copying device_bench and the models")

    def fetch(self, name: str) -> str:
        """The text of file `name` in the folder."""
        proc = self.ssh(f"cat -- {shlex.quote(self.path + '/' + name)}", what="fetching the result")
        self._check(proc, "fetching the result")
        return proc.stdout

    def _check(self, proc, what: str) -> None:
        if proc.returncode == 255:
            raise _ssh_failure(self.target, self.opts, proc.stderr)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
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

    def cleanup_command(self) -> str:
        """Stop the run whose pid is in the folder's PID_FILE, if that process still works in this folder (its
        /proc cwd; a pid reused by another process is left alone): SIGTERM, up to 5 s, SIGKILL. Then remove
        the folder."""
        return (f"f={shlex.quote(self.path)}; p=$(cat \"$f/{PID_FILE}\" 2>/dev/null); "
                'case "$p" in ""|*[!0-9]*) p=;; esac; '
                'if [ -n "$p" ] && [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$(cd "$f" && pwd -P)" ]; then '
                'kill -TERM "$p" 2>/dev/null; i=0; '
                'while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; '
                'kill -KILL "$p" 2>/dev/null; fi; '
                'rm -rf -- "$f"')

    def __exit__(self, *exc) -> None:
        if self.path and REMOTE_PREFIX in os.path.basename(self.path):
            try:
                self.ssh(self.cleanup_command(), what="removing the temporary folder")
            except EdgepruneError:
                if exc[0] is None:
                    raise
        self.path = None


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
                raise _ssh_failure(target, opts, proc.stderr)
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
