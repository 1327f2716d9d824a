"""The run directory (open_lth style): config.json, round_NNN/ folders and final/, each written to a temp
folder and renamed, so a folder that exists is complete; a run resumes after its last complete round. One
process at a time works in a run directory: it holds an exclusive lock on `.lock` until it ends."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from edgeprune import atomic
from edgeprune.errors import EdgepruneError

CONFIG = "config.json"
FINAL = "final"
LOCK = ".lock"
DATA = "data.json"  # written by the run's data loading before round 0 (skipped files)
_ROUND = re.compile(r"^round_(\d{3,})$")
_TMP_PREFIX = ".tmp-"
# Temp entries a writer in the run directory leaves when killed: RunDir.writing folders and atomic.py files.
_TEMP = re.compile(r"^(\.tmp-.+|\..+\.tmp(\.json)?)$")

# Lock files this process holds, by resolved run path: {path: open file descriptor}. flock locks belong to
# an open file description, so a second open in this process would block itself; the OS drops them on exit.
_HELD: dict[str, int] = {}


def write_json(path: Path, data) -> None:
    """Write JSON atomically (temp file in the same folder, then rename), keys sorted, NaN as null."""
    atomic.write_json(path, data, sort_keys=True)


def read_json(path: Path):
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgepruneError(f"{path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise EdgepruneError(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno})") from None


class RunDir:
    """One run: `path/config.json`, `path/round_000/ ...`, `path/final/`."""

    def __init__(self, path):
        self.path = Path(path)

    # -- config ---------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    def exists(self) -> bool:
        return self.config_path.is_file()

    def config(self) -> dict:
        return read_json(self.config_path)

    def claim(self, config: dict, identity_keys=None, identity=None) -> bool:
        """Lock the folder for this process, then start a new run with `config` or check that the existing
        one was made by the same command.

        Returns True when the run is new (or replaces one that never finished a step). Raises EdgepruneError
        when another process holds the folder, when it holds a different run with at least one finished
        step (compared on `identity(config)`, a flat dict, default the config itself, on `identity_keys`,
        default all keys), or when it is something that is not a run.
        """
        ident = identity or (lambda d: d)
        if not self.exists():
            self._check_not_foreign()
        acquired = not self.holds_lock()
        self.lock()
        try:
            return self._claim_locked(config, ident, identity_keys)
        except BaseException:
            if acquired:
                self.release()
            raise

    def _claim_locked(self, config: dict, ident, identity_keys) -> bool:
        if self.exists():
            mine = ident(config)
            started = bool(self.rounds()) or self.finished()
            try:
                old = ident(self.config())
            except EdgepruneError as exc:
                if started:
                    raise EdgepruneError(f"{self.config_path} is not a run this version can read ({exc}); "
                                         f"pass another --out or remove the folder") from None
                old = {}  # never finished a step: replaced below
            keys = set(mine) | set(old) if identity_keys is None else set(identity_keys)
            differ = sorted(k for k in keys if old.get(k, _MISSING) != mine.get(k, _MISSING))
            if differ and started:
                shown = ", ".join(f"{k}={old.get(k, _MISSING)!r} (now {mine.get(k, _MISSING)!r})" for k in differ[:4])
                more = f" and {len(differ) - 4} more" if len(differ) > 4 else ""
                raise EdgepruneError(f"{self.path} holds a different run: {shown}{more}; "
                                     f"pass another --out or remove the folder")
            self.clean_temp()
            if not differ:
                return False
            # a run that failed or was stopped before finishing round 0 is replaced, not held against the
            # corrected command; what it wrote before round 0 belongs to it and goes with it
            (self.path / DATA).unlink(missing_ok=True)
        else:
            self._check_not_foreign()  # again under the lock
            self.clean_temp()
        write_json(self.config_path, config)
        return True

    def _check_not_foreign(self) -> None:
        """Refuse a path that is a file, or a non-empty folder that is not a run (only the lock, or the
        config's own temp file, of a run killed before it wrote config.json are allowed)."""
        if self.path.exists() and not self.path.is_dir():
            raise EdgepruneError(f"{self.path} exists and is not a folder: pass another --out")
        if self.path.is_dir():
            others = [p.name for p in self.path.iterdir() if p.name != LOCK and not p.name.startswith(f".{CONFIG}.")]
            if others:
                raise EdgepruneError(f"{self.path} exists, is not empty and has no {CONFIG}: not a run directory")

    # -- lock -----------------------------------------------------------
    def lock(self) -> None:
        """Take the exclusive lock on this run directory for this process (kept until release() or exit;
        the OS drops it when the process dies, so a killed run never wedges its folder)."""
        if self.holds_lock():
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise EdgepruneError(f"cannot use {self.path} as a run directory: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise EdgepruneError(f"run {self.path} is in use by pid {holder}") from None
        except OSError as exc:  # e.g. a file system without locks
            os.close(fd)
            raise EdgepruneError(f"cannot lock run directory {self.path}: {exc.strerror}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[str(self.path.resolve())] = fd

    def release(self) -> None:
        """Drop this process's lock on the run directory (no-op when not held)."""
        fd = _HELD.pop(str(self.path.resolve()), None)
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock; the file stays (unlinking races)

    def holds_lock(self) -> bool:
        return str(self.path.resolve()) in _HELD

    def clean_temp(self) -> None:
        """Remove temp entries left by an interrupted write. Only the lock holder may: every temp entry in
        the folder then belongs to a writer that has died (or to this process's own finished writes)."""
        if not self.holds_lock():
            raise EdgepruneError(f"{self.path}: temp folders are cleaned only under the run's lock")
        for p in self.path.iterdir():
            if _TEMP.match(p.name):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)

    # -- rounds ---------------------------------------------------------
    def round_path(self, n: int) -> Path:
        return self.path / f"round_{n:03d}"

    def rounds(self) -> list[int]:
        """Numbers of the complete round folders, ascending."""
        if not self.path.is_dir():
            return []
        found = []
        for p in self.path.iterdir():
            m = _ROUND.match(p.name)
            if m and p.is_dir():
                found.append(int(m.group(1)))
        return sorted(found)

    def last_round(self) -> int | None:
        r = self.rounds()
        return r[-1] if r else None

    @property
    def final_path(self) -> Path:
        return self.path / FINAL

    def finished(self) -> bool:
        return self.final_path.is_dir()

    @contextmanager
    def writing(self, name: str):
        """Yield a temp folder; on success it is renamed to `name` (which must not exist yet) with the usual
        modes. Only the lock holder writes, so no other process can remove the temp folder meanwhile."""
        target = self.path / name
        if not self.holds_lock():
            raise EdgepruneError(f"{self.path}: a step is written only under the run's lock (claim the run first)")
        if target.exists():
            raise EdgepruneError(f"{target} already exists; refusing to overwrite a finished step")
        tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{name}-", dir=self.path))
        try:
            yield tmp
            atomic.publish_mode(tmp, directory=True)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def round_metrics(self) -> list[dict]:
        """metrics.json of every complete round, in order."""
        return [read_json(self.round_path(n) / "metrics.json") for n in self.rounds()]


def _read_pid(fd: int) -> str:
    """The pid the lock holder wrote (it truncates, then writes: retry briefly while the file is empty)."""
    import time

    for _ in range(20):
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text:
            return text
        time.sleep(0.05)
    return "unknown"


class _Missing:
    def __repr__(self):
        return "<unset>"


_MISSING = _Missing()
