"""The on-disk cache of generated corpora: $EDGEPRUNE_CACHE or ~/.cache/edgeprune, keyed by a hash of
every generation argument; every file is written to a temp file and renamed (safe under torchrun)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from edgeprune.atomic import atomic_path


def cache_root(cache_dir=None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("EDGEPRUNE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "edgeprune"


def cache_key(args: dict) -> str:
    """A short stable hash of JSON-serialisable generation arguments."""
    blob = json.dumps(args, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def save_npz(path: Path, arrays: dict) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)


def save_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
