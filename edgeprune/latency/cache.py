"""Measured points kept per (device, runtime + version, threads, model architecture), so a second run costs nothing."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
import torch.nn as nn

from edgeprune import atomic

DEVICE_KEYS = ("cpu_model", "arch", "logical_cores", "usable_cores")
SCHEMA = "edgeprune.latency-cache/2"


def cache_dir() -> Path:
    """$EDGEPRUNE_CACHE/latency, else ~/.cache/edgeprune/latency."""
    base = os.environ.get("EDGEPRUNE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgeprune")
    return Path(base) / "latency"


def architecture_hash(model: nn.Module, example_inputs) -> str:
    """A digest of what latency depends on: every module's type and scalar settings, every parameter and buffer
    shape, and the example input shapes (never the weight values)."""
    h = hashlib.sha256()
    for name, m in model.named_modules():
        settings = {k: v for k, v in sorted(vars(m).items())
                    if not k.startswith("_") and k != "training" and isinstance(v, (int, float, str, bool, tuple, type(None)))}
        h.update(f"{name}|{type(m).__name__}|{settings!r}\n".encode())
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}\n".encode())
    for x in example_inputs:
        h.update(f"in:{tuple(x.shape)}:{x.dtype if torch.is_tensor(x) else type(x)}\n".encode())
    return h.hexdigest()[:16]


def device_fingerprint(machine: dict, target: str) -> dict:
    """What identifies the measuring device: CPU model, architecture, cores, and the SSH target if remote."""
    out = {k: machine.get(k) for k in DEVICE_KEYS}
    out["target"] = target
    return out


def cache_key(device: dict, runtime: str, runtime_version: str, threads: int, arch_hash: str) -> dict:
    return {"device": device, "runtime": runtime, "runtime_version": runtime_version, "threads": int(threads),
            "architecture": arch_hash}


class PointCache:
    """A JSON file of measured points for one cache key: {"ROOT@WIDTH": {...}}; written through a rename."""

    def __init__(self, key: dict, folder: Path | None = None):
        self.key = key
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
        self.path = Path(folder or cache_dir()) / f"{digest}.json"
        self.points: dict[str, dict] = {}
        self.meta: dict = {}  # what the analysis found (groups, layer MACs): a fully cached run needs no analysis
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            if data.get("schema") == SCHEMA and data.get("key") == key:  # a digest collision reads as empty
                self.points = dict(data.get("points") or {})
                self.meta = dict(data.get("meta") or {})

    @staticmethod
    def label(root: str, width: int) -> str:
        return f"{root}@{int(width)}"

    def get(self, root: str, width: int) -> dict | None:
        return self.points.get(self.label(root, width))

    def put(self, entries: dict[str, dict] | None = None, **meta) -> None:
        """Add points (and meta) and write the file at once (a run stopped later keeps them)."""
        self.points.update(entries or {})
        self.meta.update(meta)
        atomic.write_json(self.path, {"schema": SCHEMA, "key": self.key, "meta": self.meta, "points": self.points})
