"""Silence the converters' start-up chatter (absl/oneDNN/"Failed to load ...so"/torch deprecation lines) that
looks like errors: C-level writes to fds 1 and 2, Python logging and warnings, for the length of a block."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings

# Set before TensorFlow-based libraries load: their C++ log thresholds (not all of them honour these,
# hence the descriptor redirection in quiet()).
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GLOG_minloglevel": "3", "ABSL_MIN_LOG_LEVEL": "3"}


def quiet_env() -> None:
    """The environment variables above, where the user has not set them."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def quiet():
    """Within the block, anything written to stdout/stderr (by C++ libraries through the file descriptors,
    by Python through sys.stdout/sys.stderr, logging or warnings) is discarded. Errors still raise; the
    callers turn them into one EdgepruneError line. absl writes before InitializeLog go straight to fd 2,
    which is why redirecting sys.stderr alone (what contextlib offers) is not enough."""
    quiet_env()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = []
    sink = tempfile.TemporaryFile()
    previous_disable = logging.root.manager.disable
    try:
        for fd in (1, 2):
            try:
                saved.append((fd, os.dup(fd)))
                os.dup2(sink.fileno(), fd)
            except OSError:  # no such descriptor (an embedding host): Python-level silencing still applies
                pass
        logging.disable(logging.WARNING)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous_disable)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        sink.close()
