"""The run directory (open_lth style): config.json, round_NNN/ folders and final/, each written to a temp
folder and renamed, so a folder that exists is complete; a run resumes after its last complete round."""

from __future__ import annotations

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
_ROUND = re.compile(r"^round_(\d{3,})$")
_TMP_PREFIX = ".tmp-"


def write_json(path: Path, data) -> None:
    """Write JSON atomically (temp file in the same folder, then rename), keys sorted."""
    atomic.write_json(path, data, sort_keys=True, allow_nan=True)


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

    def claim(self, config: dict, identity_keys=None) -> bool:
        """Start a new run with `config`, or check that an existing one was made by the same command.

        Returns True when the run is new. Raises EdgepruneError when the folder holds a different run
        (compared on `identity_keys`, default all keys) or something that is not a run.
        """
        keys = set(config) if identity_keys is None else set(identity_keys)
        if self.exists():
            old = self.config()
            differ = sorted(k for k in keys if old.get(k, _MISSING) != config.get(k, _MISSING))
            if differ:
                shown = ", ".join(f"{k}={old.get(k)!r} (now {config.get(k)!r})" for k in differ[:4])
                more = f" and {len(differ) - 4} more" if len(differ) > 4 else ""
                raise EdgepruneError(f"{self.path} holds a different run: {shown}{more}; "
                                     f"pass another --out or remove the folder")
            self.clean_temp()
            return False
        if self.path.exists() and any(self.path.iterdir()):
            raise EdgepruneError(f"{self.path} exists, is not empty and has no {CONFIG}: not a run directory")
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.config_path, config)
        return True

    def clean_temp(self) -> None:
        """Remove temp folders left by an interrupted write."""
        for p in self.path.glob(_TMP_PREFIX + "*"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

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
        """Yield a temp folder; on success it is renamed to `name` (which must not exist yet)."""
        target = self.path / name
        if target.exists():
            raise EdgepruneError(f"{target} already exists; refusing to overwrite a finished step")
        tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{name}-", dir=self.path))
        try:
            yield tmp
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def round_metrics(self) -> list[dict]:
        """metrics.json of every complete round, in order."""
        return [read_json(self.round_path(n) / "metrics.json") for n in self.rounds()]


class _Missing:
    def __repr__(self):
        return "<unset>"


_MISSING = _Missing()
