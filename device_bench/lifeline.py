"""`--watch-stdin`: exit at once when stdin reaches end of file, i.e. when the process (or the ssh session)
that started this one and holds the other end of the pipe is gone, so no measurement outlives its caller."""

from __future__ import annotations

import os
import sys
import threading

EXIT_CODE = 143  # as if terminated by SIGTERM


def _wait_for_eof(fd: int) -> None:
    try:
        while os.read(fd, 4096):  # whatever arrives is ignored; only the end of the stream matters
            pass
    except OSError:
        pass
    try:
        os.write(2, b"device_bench: stopped: the caller is gone (stdin closed)\n")
    except OSError:
        pass
    os._exit(EXIT_CODE)  # from a thread, mid-inference: no cleanup of a run nobody will read


def watch_stdin() -> threading.Thread:
    """Start a daemon thread that ends the process when stdin closes."""
    thread = threading.Thread(target=_wait_for_eof, args=(sys.stdin.fileno(),), name="device_bench-lifeline",
                              daemon=True)
    thread.start()
    return thread
