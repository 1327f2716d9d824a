"""edgeprune.save / edgeprune.load: safetensors weights plus the architecture as JSON data, never a pickle.

The safetensors header carries: the architecture source (zoo name + cfg, or a user factory + kwargs), the
per-layer widths (edgeprune.architecture), the caller's meta, and a SHA-256 of the tensors.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from edgeprune.architecture import apply_widths, capture_widths
from edgeprune.atomic import write_bytes
from edgeprune.errors import EdgepruneError

FORMAT = "edgeprune-checkpoint"
FORMAT_VERSION = 1


def save(model: nn.Module, path, *, factory: str | None = None, factory_kwargs: dict | None = None, **meta) -> Path:
    """Write `model` (dense or pruned) to `path` atomically; `meta` must be JSON-serialisable.

    The architecture comes from `model.edgeprune_arch` (set by edgeprune.models.build) or from
    `factory="pkg.mod:callable"` with `factory_kwargs`, which builds the dense model.
    """
    from safetensors.torch import save as st_save

    from edgeprune import __version__

    arch = _arch_of(model, factory, factory_kwargs)
    tensors = _tensors_of(model)
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "edgeprune_version": __version__,
        "arch": _dumps(arch, "architecture"),
        "widths": json.dumps(capture_widths(model)),
        "meta": _dumps(meta, "meta"),
        "sha256": _digest(tensors),
    }
    blob = st_save(tensors, metadata=header)
    path = Path(path)
    write_bytes(path, blob)
    return path


def load(path, factory: Callable[..., nn.Module] | str | None = None, *, trust_factory: bool = False):
    """Rebuild the model saved at `path` -> (model in eval mode, meta). meta includes "arch".

    A checkpoint naming a user factory imports it only when `factory=` is given (a callable or
    "pkg.mod:callable", called with the recorded kwargs) or `trust_factory=True`.
    """
    header, tensors = _read(Path(path))
    arch = _loads(header, "arch")
    widths = _loads(header, "widths")
    meta = _loads(header, "meta")
    model = _build(arch, factory, trust_factory, path)
    apply_widths(model, widths, tensors)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise EdgepruneError(f"{path}: weights do not fit the rebuilt model: {' '.join(first[:3])}") from None
    model.edgeprune_arch = arch
    model.eval()
    meta = dict(meta)
    meta["arch"] = arch
    meta.setdefault("edgeprune_version", header.get("edgeprune_version"))
    return model, meta


def read_meta(path) -> dict:
    """The meta (with "arch") of a checkpoint, without building the model."""
    header, _ = _read(Path(path))
    meta = dict(_loads(header, "meta"))
    meta["arch"] = _loads(header, "arch")
    return meta


# ---- architecture source ----------------------------------------------------------------------------


def _arch_of(model: nn.Module, factory: str | None, factory_kwargs: dict | None) -> dict:
    if factory is not None:
        if not isinstance(factory, str) or ":" not in factory:
            raise EdgepruneError(f"factory must be a string 'pkg.module:callable', got {factory!r}")
        return {"factory": factory, "kwargs": dict(factory_kwargs or {})}
    arch = getattr(model, "edgeprune_arch", None)
    if isinstance(arch, dict) and ("zoo" in arch or "factory" in arch):
        if "zoo" in arch:
            return {"zoo": arch["zoo"], "cfg": dict(arch.get("cfg") or {})}
        return {"factory": arch["factory"], "kwargs": dict(arch.get("kwargs") or {})}
    raise EdgepruneError(
        f"cannot save a {type(model).__name__}: it was not built by edgeprune.models.build "
        "(no edgeprune_arch); pass factory='pkg.module:callable' (and factory_kwargs) naming its constructor"
    )


def _build(arch: dict, factory, trust_factory: bool, path) -> nn.Module:
    if callable(factory):
        return _call(factory, arch.get("kwargs", arch.get("cfg", {})), getattr(factory, "__name__", "factory"))
    if isinstance(factory, str):
        return _call(_import(factory), arch.get("kwargs", arch.get("cfg", {})), factory)
    if factory is not None:
        raise EdgepruneError(f"factory must be a callable or 'pkg.module:callable', got {factory!r}")
    if "zoo" in arch:
        from edgeprune import models

        if arch["zoo"] not in models.names():
            raise EdgepruneError(f"{path}: unknown zoo model {arch['zoo']!r} (known: {', '.join(models.names())})")
        return models.build(arch["zoo"], **arch.get("cfg", {}))
    if "factory" in arch:
        if not trust_factory:
            raise EdgepruneError(
                f"{path} is built by the user factory {arch['factory']!r}: pass factory= or trust_factory=True "
                "to import it (importing runs its code)"
            )
        return _call(_import(arch["factory"]), arch.get("kwargs", {}), arch["factory"])
    raise EdgepruneError(f"{path}: the architecture record names neither a zoo model nor a factory")


def _import(spec: str) -> Callable[..., nn.Module]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise EdgepruneError(f"factory must look like 'pkg.module:callable', got {spec!r}")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise EdgepruneError(f"cannot import factory module {module_name!r}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise EdgepruneError(f"factory {spec!r}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise EdgepruneError(f"factory {spec!r} is not callable")
    return obj


def _call(factory, kwargs: dict, label: str) -> nn.Module:
    model = factory(**kwargs)
    if not isinstance(model, nn.Module):
        raise EdgepruneError(f"factory {label} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


# ---- tensors, header and file ------------------------------------------------------------------------


def _tensors_of(model: nn.Module) -> dict[str, torch.Tensor]:
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


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key]
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _json_default(value):
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


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise EdgepruneError(f"checkpoint {what} must be JSON-serialisable: {exc}") from None


def _loads(header: dict, key: str):
    try:
        return json.loads(header[key])
    except (KeyError, json.JSONDecodeError) as exc:
        raise EdgepruneError(f"checkpoint header field {key!r} is missing or damaged ({exc})") from None


def _read(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    from safetensors.torch import load as st_load

    if not path.is_file():
        raise EdgepruneError(f"{path}: no such checkpoint file")
    data = path.read_bytes()
    header = _header(path, data)
    meta = header.get("__metadata__") or {}
    if meta.get("format") != FORMAT:
        raise EdgepruneError(f"{path} is a safetensors file but not an edgeprune checkpoint (no edgeprune header)")
    if int(meta.get("format_version", "0")) > FORMAT_VERSION:
        raise EdgepruneError(f"{path}: checkpoint format {meta.get('format_version')} is newer than this edgeprune reads")
    try:
        tensors = st_load(data)
    except Exception as exc:  # safetensors raises several types for a bad body
        raise EdgepruneError(f"{path}: damaged checkpoint ({exc})") from None
    if _digest(tensors) != meta.get("sha256"):
        raise EdgepruneError(f"{path}: checkpoint weights do not match their recorded SHA-256 (tampered or corrupt)")
    return meta, tensors


def _header(path: Path, data: bytes) -> dict:
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



