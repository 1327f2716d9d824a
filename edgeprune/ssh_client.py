"""How edgeprune calls the system OpenSSH client: SshOptions (the -o/-i options of every call), one call tied to
this process under a time limit, and one clear line for each way ssh fails."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from edgeprune.errors import EdgepruneError
from edgeprune.ssh_target import SshTarget
from edgeprune.tied import run_tied

HOST_KEY_POLICIES = ("accept-new", "yes", "no")


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

    def first_contact(self) -> list[str]:
        """Options to put before common() on the first call to a board (ssh keeps the first value it gets of each
        option): key exchange and login must then progress every connect_timeout seconds too, so a port that sends
        an SSH banner and then stalls ends as fast as a silent one (not after ServerAlive's 60 s), and LogLevel=INFO
        lets ssh say that it timed out (it logs that line at INFO)."""
        return ["-o", f"ServerAliveInterval={self.connect_timeout}", "-o", "ServerAliveCountMax=1",
                "-o", "LogLevel=INFO"]


def ssh_failure(target: SshTarget, opts: SshOptions, stderr: str) -> EdgepruneError:
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
             "connection closed", "connection reset", "name or service not known", "kex_exchange_identification",
             "banner exchange")
    if any(word in text for word in reach):
        return EdgepruneError(f"cannot reach {target}: {last}")
    return EdgepruneError(f"ssh to {target} failed: {last}")


def call_ssh(argv: list[str], target: SshTarget, opts: SshOptions, timeout: float, what: str, stdin=None):
    """ssh tied to this process (tied.run_tied): without `stdin`, the remote command's stdin stays open until this
    process ends or the call is stopped, so a remote `--watch-stdin` run dies with it."""
    try:
        return run_tied(argv, timeout=timeout, stdin=stdin)
    except FileNotFoundError:
        raise EdgepruneError(f"{argv[0]} not found: install the OpenSSH client (openssh-client)") from None
    except subprocess.TimeoutExpired:
        raise EdgepruneError(f"{what} on {target} timed out after {timeout:.0f} s") from None
