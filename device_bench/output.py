"""Where the JSON result goes: checked before anything is measured, then written through a rename."""

from __future__ import annotations

import json
import os
import tempfile

from .errors import BenchError


def check_output(path: str) -> None:
    """Raise BenchError (one line) unless a file can be written at `path`: not a folder, its folder exists and
    is one, and a file can really be created there (a probe, since root passes permission checks that a
    read-only mount still refuses)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise BenchError(f"cannot write {path}: it is a folder")
    if not os.path.exists(folder):
        raise BenchError(f"cannot write {path}: folder {folder} does not exist")
    if not os.path.isdir(folder):
        raise BenchError(f"cannot write {path}: {folder} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".device_bench.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise BenchError(f"cannot write {path}: folder {folder} is not writable ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def write_json(result: dict, path: str) -> None:
    """Write `result` to `path` through a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".device_bench.", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
