"""One registry of layer kinds: how each layer type is cut, counted, zeroed, ranked, masked and rebuilt.

Every module that needs to know a layer type (the pruner's graph, groups, importance and self-check, the
counters, the width records of checkpoints, the weight masks) asks `kind_of(module)`. A user's own layer
joins with `register(MyLayer, MyKind())` (or `ChannelPruner(..., custom_kinds={MyLayer: MyKind()})`):
subclass `LayerKind` and fill in what the layer has. Only torch is imported here, so `edgeprune.counting`
and `edgeprune.architecture` may use it without pulling in the pruner.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import torch
import torch.nn as nn

from edgeprune.errors import EdgepruneError


class LayerKind:
    """What edgeprune needs to know about one layer type. The defaults describe a layer without channels.

    Attributes: `width_attrs` (constructor attributes that carry a width, set when a checkpoint is rebuilt),
    `family` (conv, lstm, fc, norm or other: the per-type parameter table), `root` (its output channels can
    root a pruning group), `tied` (input and output are one channel axis, cut together: BatchNorm, PReLU),
    `channels_last` (its channel axis is the last one, as for linear layers; else axis 1), `builtin` (the
    torch-pruning pruner of this type is right, so edgeprune does not replace it), `maskable` (weight masks
    of LTH may zero its `weight*` parameters).
    """

    width_attrs: tuple[str, ...] = ()
    family = "other"
    root = False
    tied = False
    channels_last = False
    builtin = False
    maskable = False
    refuse_model = False  # a refused layer of this kind stops the pruner at once (the graph cannot read it)

    def refuse(self, m: nn.Module) -> str | None:
        """Why no channel of this layer may be cut (a short phrase), or None when it can be pruned."""
        return None

    def hold_out(self, m: nn.Module, name: str) -> str | None:
        """Why layer `name`'s own output channels may not be cut while its inputs may (e.g. bidirectional)."""
        return None

    def agnostic(self, m: nn.Module) -> bool:
        """True when the layer treats every channel alike (no per-channel parameter): the graph passes it by."""
        return False

    def produces(self, m: nn.Module) -> bool:
        """Whether its own weights make its output channels (it then has importance rows)."""
        return self.root and not self.tied

    # widths / prune_out / prune_in have no default: a layer without channels is never asked (the pruner holds
    # or passes it), so reaching one means a user's kind describes channels it cannot cut. Refused built-in
    # kinds (LayerNorm, attention) rely on this, which is why these are not abstract methods.
    def widths(self, m: nn.Module) -> tuple[int, int]:
        """(out, in) channel widths."""
        raise self._missing("widths", m)

    def prune_out(self, m: nn.Module, idxs: Sequence[int]) -> None:
        """Remove output channels `idxs` in place (new tensors; never write into the old ones)."""
        raise self._missing("prune_out", m)

    def prune_in(self, m: nn.Module, idxs: Sequence[int]) -> None:
        """Remove input channels `idxs` in place (a tied kind: the same as prune_out)."""
        if not self.tied:
            raise self._missing("prune_in", m)
        self.prune_out(m, idxs)

    def _missing(self, method: str, m: nn.Module) -> EdgepruneError:
        return EdgepruneError(f"layer kind {type(self).__name__} (for {type(m).__name__}) defines no {method}(): "
                              f"a kind whose channels are cut must define widths, prune_out and, unless tied, prune_in")

    def params_at(self, m: nn.Module, cut_out: int, cut_in: int) -> int:
        """Parameters of `m` once `cut_out` output and `cut_in` input channels are gone (no tensor touched)."""
        return sum(p.numel() for p in m.parameters(recurse=False))

    def macs(self, m: nn.Module, inputs: tuple, output) -> int | None:
        """Multiply-accumulates of one call (a forward hook's arguments); None: this kind is not counted."""
        return None

    def out_axis(self, m: nn.Module, t: torch.Tensor) -> int:
        return t.dim() - 1 if self.channels_last else min(1, t.dim() - 1)

    @contextlib.contextmanager
    def zeroed(self, m: nn.Module, idxs: torch.Tensor):
        """While inside, output channels `idxs` of `m` are exactly 0 (the self-check's reference)."""
        def hook(mod, args, out):
            t = out[0] if isinstance(out, tuple) else out
            t.index_fill_(self.out_axis(mod, t), idxs.to(t.device), 0.0)  # the layer's own fresh output
        handle = m.register_forward_hook(hook)
        try:
            yield
        finally:
            handle.remove()

    def rows(self, m: nn.Module) -> torch.Tensor | None:
        """One row of weights per output channel (the filter that makes it), for l1/l2 importance."""
        return None

    def gamma(self, m: nn.Module) -> torch.Tensor | None:
        """A per-channel scale for bn_scale importance (BatchNorm's gamma), or None."""
        return None

    def shapes(self, m: nn.Module, v: dict) -> dict[str, tuple]:
        """{parameter or buffer name: shape} the layer has with the width attributes `v`."""
        return {}


_BUILTIN: list[tuple[type, LayerKind]] = []
_CUSTOM: dict[type, LayerKind] = {}


def register(layer_type: type, kind: LayerKind, builtin: bool = False) -> None:
    """Make `kind` the kind of `layer_type` (and its subclasses) for every part of edgeprune in this process."""
    if not (isinstance(layer_type, type) and issubclass(layer_type, nn.Module)):
        raise EdgepruneError(f"custom_kinds keys must be nn.Module subclasses, got {layer_type!r}")
    if not isinstance(kind, LayerKind):
        raise EdgepruneError(f"the kind of {layer_type.__name__} must be a LayerKind instance, got {type(kind).__name__}")
    if builtin:
        _BUILTIN.append((layer_type, kind))
    else:
        _CUSTOM[layer_type] = kind


def unregister(layer_type: type) -> None:
    """Forget a user's kind of `layer_type` (the built-in kinds stay)."""
    _CUSTOM.pop(layer_type, None)


def kind_of(m) -> LayerKind | None:
    """The kind of module `m` (a user's registered kind first, most specific type first), or None."""
    _load()
    kind = _CUSTOM.get(type(m))
    if kind is not None:
        return kind
    for table in (list(_CUSTOM.items()), _BUILTIN):
        for t, k in table:
            if isinstance(m, t):
                return k
    return None


def types(where=lambda k: True) -> tuple[type, ...]:
    """The registered layer types whose kind satisfies `where`."""
    _load()
    return tuple(t for t, k in list(_CUSTOM.items()) + _BUILTIN if where(k))


def _load() -> None:
    if not _BUILTIN:
        from edgeprune.kinds import builtin, recurrent  # noqa: F401  (they register themselves on import)


def keep_index(width: int, idxs: Sequence[int]) -> torch.Tensor:
    """The indices of 0..width-1 not in `idxs`."""
    drop = {int(i) for i in idxs}
    return torch.tensor([i for i in range(width) if i not in drop], dtype=torch.long)


def replace_param(m: nn.Module, name: str, tensor: torch.Tensor) -> None:
    """Set parameter `name` of `m` to a new Parameter holding `tensor` (same requires_grad)."""
    old = getattr(m, name)
    setattr(m, name, nn.Parameter(tensor.detach().contiguous(), requires_grad=old.requires_grad))
