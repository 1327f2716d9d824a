"""SshTarget and parse_target: the ssh://[user@]host[:port] address of a board, checked so that no part of it
can reach ssh as an option or the shell as a word."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from edgeprune.errors import EdgepruneError

_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+$")
_BRACKETED = re.compile(r"^\[[^\[\]]+\](:[0-9]*)?$")  # urllib drops what follows "]" before the port


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
