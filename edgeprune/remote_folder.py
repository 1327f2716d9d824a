"""RemoteFolder: a `mktemp -d` folder on the board for one run, reached over ssh only (tar in, cat out); on exit
it stops the run working there and removes the folder."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from edgeprune.errors import EdgepruneError
from edgeprune.ssh_client import SshOptions, call_ssh, ssh_failure
from edgeprune.ssh_target import SshTarget

REMOTE_PREFIX = "edgeprune-bench."
PID_FILE = "bench.pid"  # the pid of the remote device_bench, in its folder, for the clean-up to stop it


class RemoteFolder:
    """A `mktemp -d` folder on the board for one run; a context manager that removes it on exit."""

    def __init__(self, target: SshTarget, opts: SshOptions, base: str | None = None):
        self.target, self.opts, self.base, self.path = target, opts, base, None
        self.common = opts.common()

    def ssh(self, command: str, timeout: float | None = None, what: str = "ssh", stdin=None, first: bool = False):
        """Run one shell command line on the board (every variable part already shlex-quoted); `first`: the call
        that meets the board first, where a stalled handshake ends after the connect timeout."""
        argv = ["ssh", *(self.opts.first_contact() if first else ()), *self.common]
        if self.target.port:
            argv += ["-p", str(self.target.port)]
        argv += ["--", self.target.destination(), command]
        return call_ssh(argv, self.target, self.opts, timeout or self.opts.connect_timeout + 60, what, stdin)

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
            raise ssh_failure(self.target, self.opts, proc.stderr)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            raise EdgepruneError(f"{what} on {self.target} failed: {last}")

    def __enter__(self) -> "RemoteFolder":
        base = '"${TMPDIR:-/tmp}"' if self.base is None else shlex.quote(self.base)
        proc = self.ssh(f"mktemp -d {base}/{REMOTE_PREFIX}XXXXXXXX", what="creating a temporary folder",
                        first=True)
        if proc.returncode == 255:
            raise ssh_failure(self.target, self.opts, proc.stderr)
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
