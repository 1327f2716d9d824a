"""Child processes tied to this one: their stdin is a pipe only we hold (they see EOF when we die, even by
SIGKILL), and they are stopped when we time out, are interrupted or terminated; SIGTERM/SIGHUP become an
exception so that every `finally` (temporary folders, remote clean-up) runs."""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import contextmanager


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (a BaseException, like KeyboardInterrupt, so `except Exception` lets it by)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def terminating():
    """While inside: the first SIGTERM/SIGHUP raises Terminated in the main thread; later ones are ignored, so
    the clean-up that the first one started is not cut short (SIGKILL still ends everything)."""
    names = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    seen = []

    def handler(signum, _frame):
        if not seen:
            seen.append(signum)
            raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in names}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM (forwarded), then SIGKILL if it is still there after `grace` seconds; reaps it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


def run_tied(argv: list[str], timeout: float | None = None, stdin=None) -> subprocess.CompletedProcess:
    """subprocess.run(argv, capture_output=True, text=True, timeout=timeout), but the child is stopped (SIGTERM
    forwarded, then SIGKILL) on a timeout or any exception here (KeyboardInterrupt, Terminated), and unless
    `stdin` (an open file) is given, its stdin is a lifeline: a pipe whose write end only this process holds."""
    lifeline = None
    if stdin is None:
        read_end, lifeline = os.pipe()  # not inheritable: the child gets only the read end, as its stdin
        stdin = read_end
    try:
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except BaseException:
        if lifeline is not None:
            os.close(lifeline)
        raise
    finally:
        if lifeline is not None:
            os.close(read_end)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        stop(proc)
        raise
    finally:
        if lifeline is not None:
            os.close(lifeline)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)
