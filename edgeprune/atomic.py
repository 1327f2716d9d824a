"""Never-half-written files and folders: write to a temporary sibling, then rename into place.

The one implementation for edgeprune (device_bench keeps its own: it may not import edgeprune).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_mode(path, directory: bool) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries; give them the usual umask-based mode."""
    base = 0o777 if directory else 0o666
    os.chmod(path, base & ~_umask() | (stat.S_IWUSR | stat.S_IRUSR))


@contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temporary file path beside `path`; on success rename it onto `path` (os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        publish_mode(Path(tmp), directory=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_bytes(path, blob: bytes) -> Path:
    """Write `blob` to `path` atomically, flushed to disk before the rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def finite(data):
    """A copy of `data` with every NaN/inf float replaced by None, so that it dumps as RFC 8259 JSON (null)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {_key(k): finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def _key(key):
    """JSON keys are strings: turn number, bool and None keys into the strings json itself would write
    ("10.0", "Infinity", "NaN", "true"), so that non-finite keys pass and mixed key types still sort."""
    if isinstance(key, (bool, int, float)) or key is None:
        return json.dumps(key)
    return key


def dumps(data, **dump_kw) -> str:
    """json.dumps of `data` with non-finite floats written as null (never the non-standard NaN token)."""
    dump_kw["allow_nan"] = False
    default = dump_kw.get("default")
    if default is not None:  # values the default hook converts may hold NaN too
        dump_kw["default"] = lambda value: finite(default(value))
    return json.dumps(finite(data), **dump_kw)


def write_json(path, data, **dump_kw) -> Path:
    """Write `data` as indented JSON (plus a newline) to `path` atomically; NaN/inf are written as null."""
    dump_kw.setdefault("indent", 2)
    text = dumps(data, **dump_kw)  # before the temp file: a value that cannot be written leaves nothing behind
    with atomic_path(path, suffix=".json") as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.write("\n")
    return Path(path)


@contextmanager
def atomic_dir(path):
    """Yield a temporary folder beside `path`; on success it replaces `path` (an old one is removed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        publish_mode(tmp, directory=True)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.rename(path, old / "x")
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
