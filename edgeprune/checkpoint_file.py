"""The checkpoint file itself: the safetensors header read by hand, the format checks and the SHA-256 over the
canonical metadata and the tensors (edgeprune.checkpoint builds and checks the model on top of it)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgeprune.atomic import dumps
from edgeprune.errors import EdgepruneError

FORMAT = "edgeprune-checkpoint"
# 2: the SHA-256 covers the metadata too. Format 1 (tensors only) is refused, not read: accepting it would let
# anyone bypass the metadata hash by writing "1" (there were no users of format 1).
FORMAT_VERSION = 2
SIGNED = ("format", "format_version", "edgeprune_version", "arch", "widths", "meta")  # hashed header fields
JSON_FIELDS = ("arch", "widths", "meta")


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def tensors_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as contiguous CPU tensors; shared storages are copied (safetensors refuses aliases)."""
    tensors, seen = {}, set()
    for key, value in model.state_dict().items():
        if not isinstance(value, torch.Tensor):
            raise EdgepruneError(f"state dict entry {key!r} is a {type(value).__name__}, not a tensor")
        t = value.detach().to("cpu").contiguous()
        if t.numel() and t.data_ptr() in seen:
            t = t.clone()
        seen.add(t.data_ptr())
        tensors[key] = t
    return tensors


def digest(tensors: dict[str, torch.Tensor], header: dict) -> str:
    """SHA-256 of the canonical JSON of the signed header fields, then of every tensor (name, dtype, shape,
    bytes) in name order. The JSON fields are parsed and re-dumped, so only their values count."""
    signed = {k: (json.loads(header[k]) if k in JSON_FIELDS else header[k]) for k in SIGNED}
    h = hashlib.sha256()
    h.update(json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode())
    h.update(b"\0")
    for key in sorted(tensors):
        t = tensors[key]
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def json_default(value):
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def dump_field(value: Any, what: str) -> str:
    try:
        return dumps(value, default=json_default)  # NaN/inf as null
    except (TypeError, ValueError) as exc:
        raise EdgepruneError(f"checkpoint {what} must be JSON-serialisable: {exc}") from None


def load_field(header: dict, key: str, path):
    try:
        return json.loads(header[key])
    except (KeyError, TypeError, RecursionError, json.JSONDecodeError) as exc:
        raise EdgepruneError(f"{path}: checkpoint header field {key!r} is missing or damaged ({exc})") from None


def read_file(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """-> (header with arch, widths and meta parsed, tensors), after the format and hash checks."""
    from safetensors.torch import load as st_load

    if not path.is_file():
        raise EdgepruneError(f"{path}: no such checkpoint file")
    data = path.read_bytes()
    header = parse_header(path, data)
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise EdgepruneError(f"{path} is a safetensors file but not an edgeprune checkpoint (no edgeprune header)")
    version = meta.get("format_version")
    if not isinstance(version, str) or not version.isdigit():
        raise EdgepruneError(f"{path}: checkpoint format_version {version!r} is not a number")
    if int(version) > FORMAT_VERSION:
        raise EdgepruneError(f"{path}: checkpoint format {version} is newer than this edgeprune reads")
    if int(version) < FORMAT_VERSION:
        raise EdgepruneError(f"{path}: checkpoint format {version} (metadata not covered by its hash) is no longer "
                             f"read; re-create it with this edgeprune")
    bad = sorted(k for k, v in meta.items() if not isinstance(v, str))
    if bad:
        raise EdgepruneError(f"{path}: checkpoint header field {bad[0]!r} is not a string")
    try:
        tensors = st_load(data)
    except Exception as exc:  # safetensors raises several types for a bad body
        raise EdgepruneError(f"{path}: damaged checkpoint ({first_line(exc)})") from None
    parsed = {k: load_field(meta, k, path) for k in JSON_FIELDS}
    if "edgeprune_version" not in meta or digest(tensors, meta) != meta.get("sha256"):
        raise EdgepruneError(f"{path}: checkpoint does not match its recorded SHA-256 (metadata or weights "
                             f"tampered with, or corrupt)")
    for key, kind in (("arch", dict), ("widths", dict), ("meta", dict)):
        if not isinstance(parsed[key], kind):
            raise EdgepruneError(f"{path}: checkpoint {key} must be a JSON object, not a {type(parsed[key]).__name__}")
    return {**meta, **parsed}, tensors


def parse_header(path: Path, data: bytes) -> dict:
    """Parse the safetensors header by hand, so a foreign or truncated file gets a clear message."""
    if len(data) < 8:
        raise EdgepruneError(f"{path} is not an edgeprune checkpoint (file too short: {len(data)} bytes)")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8 or size > 100_000_000:
        raise EdgepruneError(f"{path} is not an edgeprune checkpoint (truncated or not a safetensors file)")
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EdgepruneError(f"{path} is not an edgeprune checkpoint (no safetensors header)") from None
    if not isinstance(header, dict):
        raise EdgepruneError(f"{path} is not an edgeprune checkpoint (header is not a JSON object)")
    end = 0
    for key, entry in header.items():
        offsets = entry.get("data_offsets") if isinstance(entry, dict) and key != "__metadata__" else None
        if isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets):
            end = max(end, offsets[1])
    if 8 + size + end > len(data):
        raise EdgepruneError(f"{path}: checkpoint is truncated ({len(data)} bytes, header promises {8 + size + end})")
    return header



