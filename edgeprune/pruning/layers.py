"""The pruner's view of the layer-kind registry: which layers may be cut, by which torch-pruning function object.

Kinds whose torch-pruning pruner is right (`builtin`) keep it; every other kind (LSTM/GRU/RNN, GroupNorm, a
user's own layer) is handed to the dependency graph as a customized pruner that calls the kind.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch_pruning as tp

from edgeprune.kinds import LayerKind, kind_of, types

_BN = nn.modules.batchnorm._BatchNorm


class KindPruner(tp.pruner.function.BasePruningFunc):
    """A torch-pruning pruner that calls a LayerKind (input and output cut separately)."""

    def __init__(self, kind: LayerKind):
        super().__init__()
        self.kind = kind

    def prune_out_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        with torch.no_grad():
            self.kind.prune_out(layer, sorted(int(i) for i in idxs))
        return layer

    def prune_in_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        with torch.no_grad():
            self.kind.prune_in(layer, sorted(int(i) for i in idxs))
        return layer

    def get_out_channels(self, layer: nn.Module) -> int:
        return self.kind.widths(layer)[0]

    def get_in_channels(self, layer: nn.Module) -> int:
        return self.kind.widths(layer)[1]


class TiedKindPruner(KindPruner):
    """One channel axis: torch-pruning reads `prune_in_channels is prune_out_channels` as the intra-layer tie."""

    prune_in_channels = KindPruner.prune_out_channels


_ADAPTERS: dict[int, KindPruner] = {}


def _adapter(kind: LayerKind) -> KindPruner:
    if id(kind) not in _ADAPTERS:
        _ADAPTERS[id(kind)] = (TiedKindPruner if kind.tied else KindPruner)(kind)
    return _ADAPTERS[id(kind)]


def customized(model: nn.Module) -> dict:
    """{layer class: pruner} for the dependency graph, for every layer of `model` whose kind torch-pruning does
    not cut right (torch-pruning looks customized pruners up by exact class)."""
    out = {}
    for m in model.modules():
        kind = kind_of(m)
        if kind is not None and not kind.builtin and _has_widths(kind):
            out[type(m)] = _adapter(kind)
    return out


def root_types() -> tuple[type, ...]:
    return types(lambda k: k.root)


def supported(m: nn.Module) -> bool:
    """Layers whose channel cut (and parameter count) edgeprune models exactly."""
    kind = kind_of(m)
    return kind is not None and _has_widths(kind) and kind.refuse(m) is None and not kind.agnostic(m)


def passes_by(m: nn.Module) -> bool:
    """A layer that treats every channel alike (a shared PReLU slope): nothing of it is cut."""
    kind = kind_of(m)
    return kind is not None and kind.agnostic(m)


def channels_last(module) -> bool | None:
    """Whether a layer holds its channels on the last axis (linear, recurrent) or on axis 1 (conv, norms);
    None for anything without channels of its own (graph ops, parameters, layers without widths)."""
    kind = kind_of(module) if isinstance(module, nn.Module) else None
    return kind.channels_last if kind is not None and _has_widths(kind) else None


def _has_widths(kind: LayerKind) -> bool:
    return type(kind).widths is not LayerKind.widths


def refusal(m: nn.Module) -> str:
    """Why layer `m` cannot be cut (for the report)."""
    kind = kind_of(m)
    if kind is not None and kind.refuse(m):
        return f"is not pruned: {kind.refuse(m)}"
    return "is not supported by the pruner (register a LayerKind for it: custom_kinds=)"


def pruner_of(m: nn.Module):
    """The torch-pruning function object that cuts `m` (torch-pruning's own for builtin kinds)."""
    kind = kind_of(m)
    if kind.builtin:
        return tp.pruner.function.PrunerBox[tp.ops.module2type(m)]
    return _adapter(kind)


def produces(m: nn.Module) -> bool:
    kind = kind_of(m)
    return kind is not None and kind.produces(m)


def widths(m: nn.Module) -> tuple[int, int]:
    """(out, in) channel widths of a supported layer."""
    return kind_of(m).widths(m)


def params_at(m: nn.Module, cut_out: int, cut_in: int) -> int:
    """Parameters of `m` once `cut_out` output and `cut_in` input channels are removed."""
    return kind_of(m).params_at(m, cut_out, cut_in)
