"""edgeprune.save / edgeprune.load: safetensors weights plus the architecture as JSON data, never a pickle.

The safetensors header carries: the architecture source (zoo name + cfg, or a user factory + kwargs), the
per-layer widths (edgeprune.architecture), the caller's meta, and one SHA-256 over the canonical form of all
of these together with the tensors. On load, the architecture is first built on the meta device (no memory):
its size is bounded by the file's and the widths are checked against the tensor shapes before anything is
allocated. The hash catches edits and corruption; it is not a signature (anyone can recompute it), so the
structural checks hold on their own.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from edgeprune.architecture import apply_widths, capture_widths, check_widths
from edgeprune.atomic import write_bytes
from edgeprune.checkpoint_file import (FORMAT, FORMAT_VERSION, JSON_FIELDS, digest, dump_field, first_line, read_file,
                                       tensors_of)
from edgeprune.errors import EdgepruneError

# A rebuilt model may be this many times larger than the tensors its file holds, plus a fixed allowance
# (pruning to 1/64 of the dense size is far beyond what the methods reach); beyond it, loading is refused.
BUDGET_FACTOR = 64
BUDGET_SLACK_BYTES = 256 * 2**20


def save(model: nn.Module, path, *, factory: str | None = None, factory_kwargs: dict | None = None, **meta) -> Path:
    """Write `model` (dense or pruned) to `path` atomically; `meta` must be JSON-serialisable.

    The architecture comes from `model.edgeprune_arch` (set by edgeprune.models.build) or from
    `factory="pkg.mod:callable"` with `factory_kwargs`, which builds the dense model.
    """
    from safetensors.torch import save as st_save

    from edgeprune import __version__

    arch = _arch_of(model, factory, factory_kwargs)
    tensors = tensors_of(model)
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "edgeprune_version": __version__,
        "arch": dump_field(arch, "architecture"),
        "widths": dump_field(capture_widths(model), "widths"),
        "meta": dump_field(meta, "meta"),
    }
    header["sha256"] = digest(tensors, header)
    blob = st_save(tensors, metadata=header)
    path = Path(path)
    write_bytes(path, blob)
    return path


def load(path, factory: Callable[..., nn.Module] | str | None = None, *, trust_factory: bool = False):
    """Rebuild the model saved at `path` -> (model in eval mode, meta). meta includes "arch".

    A checkpoint naming a user factory imports it only when `factory=` is given (a callable or
    "pkg.mod:callable", called with the recorded kwargs) or `trust_factory=True`.
    """
    header, tensors = read_file(Path(path))
    arch, widths, meta = (header[k] for k in JSON_FIELDS)
    model = _build(arch, factory, trust_factory, path, widths, tensors)
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
    header, _ = read_file(Path(path))
    meta = dict(header["meta"])
    meta["arch"] = header["arch"]
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


def _build(arch: dict, factory, trust_factory: bool, path, widths, tensors) -> nn.Module:
    """The dense model of `arch`, built only after its meta-device twin passed the size and widths checks."""
    make, label = _constructor(arch, factory, trust_factory, path)
    try:
        with torch.device("meta"):
            skeleton = make()
    except EdgepruneError as exc:
        raise EdgepruneError(f"{path}: {exc}") from None
    except Exception as exc:
        if "zoo" in arch and factory is None:  # every zoo model builds on meta: the cfg is bad
            raise EdgepruneError(f"{path}: cannot build {label}: {type(exc).__name__}: {first_line(exc)}") from None
        skeleton = None  # a user factory that cannot build on the meta device: checked after the real build
    if skeleton is not None:
        _check_budget(skeleton, tensors, path, label)
        _checked(check_widths, skeleton, widths, tensors, path=path)
    try:
        model = make()
    except EdgepruneError as exc:
        raise EdgepruneError(f"{path}: {exc}") from None
    except Exception as exc:
        raise EdgepruneError(f"{path}: cannot build {label}: {type(exc).__name__}: {first_line(exc)}") from None
    _checked(check_widths, model, widths, tensors, path=path)
    return model


def _checked(fn, *args, path):
    try:
        return fn(*args)
    except EdgepruneError as exc:
        raise EdgepruneError(f"{path}: {exc}") from None


def _check_budget(skeleton: nn.Module, tensors: dict, path, label: str) -> None:
    """Refuse an architecture whose dense build needs far more memory than the tensors in the file hold."""
    def size(ts):
        return sum(t.numel() * t.element_size() for t in ts if t is not None)

    dense = size(skeleton.parameters()) + size(skeleton.buffers())
    held = size(tensors.values())
    if dense > BUDGET_FACTOR * held + BUDGET_SLACK_BYTES:
        raise EdgepruneError(f"{path}: {label} would allocate {dense / 2**20:.0f} MiB for a file holding "
                             f"{held / 2**20:.1f} MiB of weights; refusing (damaged or edited architecture?)")


def _constructor(arch: dict, factory, trust_factory: bool, path) -> tuple[Callable[[], nn.Module], str]:
    """(a no-argument callable that builds the dense model, a label naming it), without building it."""
    if callable(factory):
        return _deferred(factory, arch.get("kwargs", arch.get("cfg", {})), getattr(factory, "__name__", "factory"))
    if isinstance(factory, str):
        return _deferred(_import(factory), arch.get("kwargs", arch.get("cfg", {})), factory)
    if factory is not None:
        raise EdgepruneError(f"factory must be a callable or 'pkg.module:callable', got {factory!r}")
    if "zoo" in arch:
        from edgeprune import models

        if not isinstance(arch["zoo"], str) or arch["zoo"] not in models.names():
            raise EdgepruneError(f"{path}: unknown zoo model {arch['zoo']!r} (known: {', '.join(models.names())})")
        cfg = arch.get("cfg", {})
        if not isinstance(cfg, dict):
            raise EdgepruneError(f"{path}: the zoo cfg must be an object, not a {type(cfg).__name__}")
        return (lambda: models.build(arch["zoo"], **cfg)), f"zoo model {arch['zoo']!r} with cfg {cfg}"
    if "factory" in arch:
        if not trust_factory:
            raise EdgepruneError(
                f"{path} is built by the user factory {arch['factory']!r}: pass factory= or trust_factory=True "
                "to import it (importing runs its code)"
            )
        return _deferred(_import(arch["factory"]), arch.get("kwargs", {}), arch["factory"])
    raise EdgepruneError(f"{path}: the architecture record names neither a zoo model nor a factory")


def _deferred(factory, kwargs, label: str):
    if not isinstance(kwargs, dict):
        raise EdgepruneError(f"factory {label}: the recorded kwargs must be an object, not a {type(kwargs).__name__}")
    return (lambda: _call(factory, kwargs, label)), f"factory {label}"


def _import(spec: str) -> Callable[..., nn.Module]:
    if not isinstance(spec, str):
        raise EdgepruneError(f"factory must look like 'pkg.module:callable', got {spec!r}")
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
