"""Output paths given on the command line, checked before any work starts: one line naming the path and why."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from edgeprune.errors import EdgepruneError


def check_out_dir(path, flag: str = "--out") -> Path:
    """A folder the command will create or reuse: not a file, and writable (or creatable) by this process."""
    target = Path(path).expanduser()
    if target.exists():
        if not target.is_dir():
            raise EdgepruneError(f"{flag} {target}: exists and is not a folder")
        _probe(target, flag, target)
    else:
        _probe(_nearest_existing(target, flag, target), flag, target)
    return target


def check_out_file(path, flag: str = "--out") -> Path:
    """A file the command will write (replacing an old one): not a folder, in a writable (or creatable) folder."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise EdgepruneError(f"{flag} {target}: is a folder; give a file name")
    if target.exists() and not target.is_file():
        raise EdgepruneError(f"{flag} {target}: exists and is not a regular file")
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise EdgepruneError(f"{flag} {target}: {parent} is not a folder")
    _probe(parent if parent.exists() else _nearest_existing(parent, flag, target), flag, target)
    return target


def _nearest_existing(path: Path, flag: str, target: Path) -> Path:
    for ancestor in path.absolute().parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise EdgepruneError(f"{flag} {target}: {ancestor} is a file, not a folder")
            return ancestor
    raise EdgepruneError(f"{flag} {target}: no existing folder above it")  # unreachable: / exists


def _probe(folder: Path, flag: str, target: Path) -> None:
    # Creating a file is the only reliable test: os.access says yes to root on a read-only mount, and
    # permission bits say nothing about ACLs or full disks.
    try:
        fd, name = tempfile.mkstemp(prefix=".edgeprune-probe-", dir=folder)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = "" if folder == target else f" (in {folder})"
        raise EdgepruneError(f"{flag} {target}: cannot write there{where}: {reason}") from None
    os.close(fd)
    os.unlink(name)
