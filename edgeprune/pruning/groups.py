"""Candidate groups: the dependency graph's coupled channel sets, in original indices, with why others are left alone."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch.nn as nn
import torch_pruning as tp

from edgeprune.kinds import kind_of
from edgeprune.pruning import layers


@dataclass
class Item:
    """One layer axis touched by a group: channel `idxs[j]` of `name` goes with root channel `root_idxs[j]`."""

    name: str
    module: nn.Module
    kind: str  # "out" (the layer produces the channel, or its axis is tied: BN, depthwise) or "in"
    idxs: np.ndarray
    root_idxs: np.ndarray

    def select(self, roots: np.ndarray) -> list[int]:
        """The layer channels that go when root channels `roots` go."""
        return sorted(set(self.idxs[np.isin(self.root_idxs, roots)].tolist()))


@dataclass
class Group:
    root: str
    width: int
    items: list[Item]
    reason: str | None = None  # set when the group is not a candidate
    rule: str | None = None  # which rule held it: ignored, frozen, output, unsupported, opaque, range, probe, ...
    coupled: bool = False
    opaque: list[str] = field(default_factory=list)  # graph nodes the channels pass through unseen

    @property
    def producers(self) -> list[Item]:
        """Layers whose output filters create the channel (not BN, not depthwise)."""
        return [it for it in self.items if it.kind == "out" and layers.produces(it.module)]


def _kind(dep, module) -> str:
    if not layers.supported(module):
        return "out"
    pruner = layers.pruner_of(module)
    return "out" if dep.handler.__func__ is type(pruner).prune_out_channels else "in"


def collect(dg, model: nn.Module, ignored: set[int], opaque_nodes: dict, frozen: set[int] = frozenset()) -> list[Group]:
    """All groups rooted at layers whose kind is a root (conv, linear, recurrent, embedding, a user's), each with `reason` and `rule` set when it may not be cut.

    `ignored` holds id() of modules whose own output channels are kept (torch-pruning's `ignored_layers`: their
    inputs may still shrink); `frozen` id() of modules no cut may touch at all (the group is held if any of its
    items is one); `opaque_nodes` maps graph nodes through which channel indices cannot be followed to a
    description (see reshape.py / concat.py).
    """
    names = {m: n for n, m in model.named_modules()}
    out = []
    for g in dg.get_all_groups(root_module_types=layers.root_types()):
        root_module = g[0].dep.target.module
        items, held, opaque = [], [], []

        def hold(rule: str, why: str) -> None:
            held.append((rule, why))

        for gi in g:
            dep = gi.dep
            target = dep.target
            mod = target.module
            if target in opaque_nodes:
                opaque.append(opaque_nodes[target])
            if isinstance(mod, tp.ops._OutputOp):
                hold("output", "its channels are model outputs")
                continue
            if isinstance(mod, nn.Parameter):
                hold("unsupported", f"a raw nn.Parameter ({dg._param_to_name.get(mod, 'unnamed')}) the graph cannot see through")
                continue
            is_layer = isinstance(mod, nn.Module) and mod in names
            if target in dg.edgeprune_outputs and (not is_layer or _kind(dep, mod) == "out"):
                hold("output", "its channels are model outputs")
            if not is_layer:
                continue  # torch-pruning's dummy ops (concat, reshape, element-wise)
            name = names[mod]
            if not layers.supported(mod):
                if not layers.passes_by(mod):
                    hold("unsupported", f"layer {name!r} ({type(mod).__name__}) {layers.refusal(mod)}")
                continue
            kind = _kind(dep, mod)
            if id(mod) in frozen:
                hold("frozen", f"touches frozen layer {name!r} (frozen_layers)")
            elif id(mod) in ignored and kind == "out":
                hold("ignored", f"ignored layer {name!r} keeps its output channels (ignored_layers)")
            items.append(Item(name, mod, kind, np.asarray(gi.idxs, dtype=np.int64),
                              np.asarray(gi.root_idxs, dtype=np.int64)))
        root = names.get(root_module, "?")
        width = layers.widths(root_module)[0] if layers.supported(root_module) else 0
        if opaque:
            hold("opaque", opaque[0])
        group = Group(root=root, width=int(width or 0), items=items, opaque=opaque)
        held.sort(key=lambda h: h[0] not in ("frozen", "ignored"))  # the user's own rules first
        group.rule, group.reason = held[0] if held else (None, None)
        group.coupled = len(group.producers) >= 2
        if group.reason is None and _range_problem(group):
            group.rule, group.reason = "range", _range_problem(group)
        if group.reason is None and layers.supported(root_module) and kind_of(root_module).hold_out(root_module, root):
            group.rule, group.reason = "unsupported", kind_of(root_module).hold_out(root_module, root)
        out.append(group)
    return out


def _range_problem(group: Group) -> str | None:
    """A mapping that points outside a layer means the graph misread the model: refuse that group."""
    for it in group.items:
        out, inp = layers.widths(it.module)
        limit = out if it.kind == "out" else inp
        if len(it.idxs) and (it.idxs.min() < 0 or it.idxs.max() >= limit):
            return f"the graph maps channels outside layer {it.name!r} ({it.kind} width {limit})"
    return None
