"""The one model registry: names, per-model specs and default configs, build() and example_inputs()."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from edgeprune.errors import EdgepruneError

# Input sizes every model accepts in its cfg; they only shape example_inputs (and are checked by
# models that have a limit), never the architecture's widths.
CLIP_KEYS = ("frames", "lip_frames", "lip_size")
FBANK_DIM = 40
DEFAULT_FRAMES = 128  # 1.3 s of 10 ms hops with a 25 ms window
DEFAULT_LIP_FRAMES = 32  # 1.3 s at 25 fps
IMAGE_SHAPE = (1, 28, 28)


@dataclass(frozen=True)
class ModelSpec:
    """What the rest of edgeprune needs to know about a zoo model without building it."""

    name: str
    inputs: tuple[str, ...]
    task: str  # "binary" | "multiclass" | "embedding"
    num_classes: int
    lip_size: int | None
    # the model's training recommendation (TrainConfig fields: batch_size, lr, epochs), above TrainConfig's
    # defaults and below the data source's and the user's (edgeprune/methods/resolve.py)
    defaults: dict = field(default_factory=dict)
    paper: dict = field(default_factory=dict)  # params, mflops, source
    summary: str = ""


@dataclass(frozen=True)
class _Entry:
    spec: ModelSpec
    factory: Callable[..., nn.Module]
    arch_defaults: dict
    inputs_fn: Callable[..., tuple] | None
    finalize: Callable[[dict], dict] | None


_REGISTRY: dict[str, _Entry] = {}


def register(spec: ModelSpec, arch_defaults: dict, inputs_fn=None, finalize=None):
    """Decorator for a factory `f(**arch_cfg) -> nn.Module`; `arch_defaults` lists every key it takes.

    Optional `inputs_fn(batch, cfg) -> tuple` replaces the generic example inputs; optional
    `finalize(cfg) -> cfg` raises EdgepruneError for a cfg (clip keys included) the model cannot run,
    and may fill in derived values (a nested model's resolved cfg).
    Defaults hold lists, not tuples, so a cfg survives a JSON round trip unchanged.
    """

    def wrap(factory):
        if spec.name in _REGISTRY:
            raise ValueError(f"model {spec.name!r} registered twice")
        _REGISTRY[spec.name] = _Entry(spec, factory, dict(arch_defaults), inputs_fn, finalize)
        return factory

    return wrap


def _entry(name: str) -> _Entry:
    _load_families()
    if not isinstance(name, str) or name not in _REGISTRY:
        raise EdgepruneError(f"unknown model {name!r}; known models: {', '.join(names())}")
    return _REGISTRY[name]


def names() -> list[str]:
    """Every zoo model name, sorted."""
    _load_families()
    return sorted(_REGISTRY)


def spec(name: str) -> ModelSpec:
    """The ModelSpec of `name`; EdgepruneError for an unknown name."""
    return _entry(name).spec


def resolve_cfg(name: str, **cfg) -> dict:
    """The model's default cfg overridden by `cfg`; an unknown key raises EdgepruneError naming it."""
    entry = _entry(name)
    allowed = set(entry.arch_defaults) | set(CLIP_KEYS)
    unknown = sorted(set(cfg) - allowed)
    if unknown:
        raise EdgepruneError(
            f"model {name!r} has no config key {unknown[0]!r}; "
            f"keys: {', '.join(sorted(allowed))}"
        )
    resolved = copy.deepcopy(entry.arch_defaults)
    resolved.update(copy.deepcopy(cfg))
    if entry.finalize is not None:
        resolved = entry.finalize(resolved)
    return resolved


def build(name: str, **cfg) -> nn.Module:
    """Build zoo model `name` with `cfg`; tags it with `edgeprune_arch = {"zoo": name, "cfg": ...}`."""
    entry = _entry(name)
    resolved = resolve_cfg(name, **cfg)
    model = entry.factory(**{k: v for k, v in resolved.items() if k not in CLIP_KEYS})
    model.edgeprune_arch = {"zoo": name, "cfg": resolved}
    return model


def example_inputs(name: str, batch: int = 1, **cfg) -> tuple[torch.Tensor, ...]:
    """Deterministic random inputs for `name`, in the order of spec(name).inputs.

    cfg `frames` (fbank T, default 128), `lip_frames` (Tv, default 32) and `lip_size` (default the
    model's) choose the clip length; the other cfg keys are checked but do not change the inputs.
    """
    entry = _entry(name)
    resolved = resolve_cfg(name, **cfg)
    if not isinstance(batch, int) or batch < 1:
        raise EdgepruneError(f"batch must be a positive integer, got {batch!r}")
    if entry.inputs_fn is not None:
        return entry.inputs_fn(batch, resolved)
    return tuple(make_input(kind, batch, resolved, entry.spec.lip_size) for kind in entry.spec.inputs)


def make_input(kind: str, batch: int, cfg: dict, lip_size: int | None) -> torch.Tensor:
    """One example tensor of input `kind` ("fbank", "lips" or "image"), seeded so calls agree."""
    gen = torch.Generator().manual_seed(0)
    if kind == "fbank":
        frames = _positive(cfg.get("frames", DEFAULT_FRAMES), "frames")
        return torch.randn(batch, frames, FBANK_DIM, generator=gen)
    if kind == "lips":
        frames = _positive(cfg.get("lip_frames", DEFAULT_LIP_FRAMES), "lip_frames")
        size = _positive(cfg.get("lip_size", lip_size), "lip_size")
        return torch.randn(batch, frames, size, size, generator=gen)
    if kind == "image":
        return torch.randn(batch, *IMAGE_SHAPE, generator=gen)
    raise EdgepruneError(f"unknown model input kind {kind!r}")


def _positive(value, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EdgepruneError(f"{key} must be a positive integer, got {value!r}")
    return value


def _load_families() -> None:
    # The family modules register themselves on import; importing them here (not at module top)
    # keeps registry.py free of import cycles.
    from . import fusion, lenet, misp_audio, misp_video, tv  # noqa: F401
