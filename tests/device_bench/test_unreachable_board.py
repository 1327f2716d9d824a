"""`edgeprune bench` and `edgeprune profile` with --target ssh://... on a board they cannot use: a closed port, an
unknown host, a refused key, a port that accepts TCP but never speaks SSH, one that stalls after its SSH banner,
one that answers with no SSH at all. Each ends with one error line naming the problem and exit status 2 in about
--connect-timeout seconds, and leaves --json/--out, the local temporary folder and the latency cache untouched."""

from __future__ import annotations

import re
import socket
import threading

import pytest

CONNECT_TIMEOUT = 2
# A hang guard, not a timing check: a stall after the banner used to end only after ServerAlive's 60 s.
LIMIT = 50
OLD_REPORT = '{"an": "earlier report"}\n'


class FakePort:
    """A TCP port on 127.0.0.1 that is no SSH server. `silent`: listens, accepts nothing (the kernel completes
    the handshake); `banner`: sends an SSH banner, then nothing; `garbage`: sends bytes that are no banner."""

    BANNER = b"SSH-2.0-OpenSSH_9.6\r\n"

    def __init__(self, kind: str):
        self.kind, self.held = kind, []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        if kind != "silent":
            threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed at the end of the test
                return
            self.held.append(conn)  # kept open: the client must give up on its own
            conn.sendall(self.BANNER if self.kind == "banner" else bytes(range(256)))

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def _case(name: str, sshd, fake):
    """(--target, --ssh-key, the pattern the error line must match after "error: ")."""
    if name == "closed port":
        target = f"ssh://root@127.0.0.1:{_closed_port()}"
        return target, sshd.key, rf"cannot reach {re.escape(target)}: .*Connection refused"
    if name == "unknown host":
        target = "ssh://root@no-such-board.invalid"  # .invalid never resolves (RFC 6761)
        return target, sshd.key, rf"cannot reach {re.escape(target)}: .*Could not resolve hostname no-such-board"
    if name == "refused key":
        return (sshd.target, sshd.wrong_key,
                rf"authentication refused by {re.escape(sshd.target)} with key {re.escape(str(sshd.wrong_key))}: "
                r".*Permission denied")
    kind = {"silent port": "silent", "stall after banner": "banner", "no ssh server": "garbage"}[name]
    port = fake(kind).port
    target = f"ssh://root@127.0.0.1:{port}"
    said = {"silent": "timed out", "banner": "timed out", "garbage": "banner"}[kind]
    return target, sshd.key, rf"cannot reach {re.escape(target)}: .*{said}"


@pytest.fixture
def fake():
    ports = []

    def make(kind: str) -> FakePort:
        ports.append(FakePort(kind))
        return ports[-1]

    yield make
    for port in ports:
        port.close()


CASES = ["closed port", "unknown host", "refused key", "silent port", "stall after banner", "no ssh server"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["bench", "profile"])
def test_unusable_board_is_one_line_and_nothing_is_written(command, case, sshd, fake, tiny_onnx, tmp_path,
                                                             edgeprune_cli):
    target, key, pattern = _case(case, sshd, fake)
    out = tmp_path / "report.json"
    out.write_text(OLD_REPORT)  # a report from an earlier run: must survive the failed one
    local_tmp, board_tmp, cache = tmp_path / "local tmp", tmp_path / "board tmp", tmp_path / "cache"
    local_tmp.mkdir()
    board_tmp.mkdir()
    ssh = ["--target", target, "--ssh-key", str(key), "--known-hosts", str(sshd.known_hosts),
           "--connect-timeout", str(CONNECT_TIMEOUT), "--remote-tmp", str(board_tmp)]
    if command == "bench":
        argv = [str(tiny_onnx), *ssh, "--json", str(out)]
    else:
        argv = ["lenet5", *ssh, "--out", str(out), "--cache-dir", str(cache), "--grid", "0.5", "--no-progress"]
    proc = edgeprune_cli(command, *argv, timeout=LIMIT, tmpdir=local_tmp)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert re.fullmatch(rf"edgeprune {command}: error: {pattern}.*", lines[0]), lines[0]
    assert proc.stdout == ""
    assert out.read_text() == OLD_REPORT
    assert list(local_tmp.iterdir()) == [] and list(board_tmp.iterdir()) == []
    assert not cache.exists()  # profile reaches the board before it caches or exports anything


def test_missing_remote_tmp_is_one_line(sshd, tiny_onnx, tmp_path, edgeprune_cli):
    """The board answers but its temporary folder cannot be made: the line carries mktemp's own reason."""
    missing = tmp_path / "no such dir"
    proc = edgeprune_cli("bench", str(tiny_onnx), *sshd.ssh_args(), "--remote-tmp", str(missing), timeout=LIMIT)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert re.fullmatch(rf"edgeprune bench: error: cannot create a temporary folder on {re.escape(sshd.target)}: "
                        r"mktemp: .*No such file or directory", lines[0]), lines[0]
