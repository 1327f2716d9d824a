"""Carry the analysed groups across a cut, so the next step needs no new trace, group collection or probe.

Channel pruning changes widths, not structure: the groups of the pruned model are those of the unpruned
one restricted to the kept channels and renumbered (this is also how torch-pruning's own pruners reuse
one graph over many steps). Anything that does not restrict cleanly returns None: analyse afresh.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch.nn as nn

from edgeprune.pruning import layers

_NONE = np.zeros(0, dtype=np.int64)


def _renumber(idxs: np.ndarray, gone: np.ndarray) -> np.ndarray:
    """New positions of the kept indices `idxs` once the sorted indices `gone` are removed."""
    return idxs - np.searchsorted(gone, idxs)


def restrict(model: nn.Module, groups: list, chosen: dict, ops: list[dict]) -> list | None:
    """The groups of `model` after the cut `ops` (made from `chosen` root channels of `groups`), or None."""
    removed = {(op["layer"], op["axis"]): np.asarray(sorted(op["idxs"]), dtype=np.int64) for op in ops}
    out = []
    for gi, g in enumerate(groups):
        roots = np.asarray(sorted(chosen.get(gi, [])), dtype=np.int64)
        items = []
        for it in g.items:
            gone = removed.get((it.name, it.kind), _NONE)
            lost = np.isin(it.idxs, gone)
            if not np.array_equal(lost, np.isin(it.root_idxs, roots)):
                return None  # a layer channel that another group removed, or one this group kept: re-analyse
            keep = ~lost
            items.append(replace(it, idxs=_renumber(it.idxs[keep], gone), root_idxs=_renumber(it.root_idxs[keep], roots)))
        width = g.width - len(roots)
        if g.width and g.root != "?":
            try:
                root = model.get_submodule(g.root)
            except AttributeError:
                return None
            if not layers.supported(root) or layers.widths(root)[0] != width:
                return None
        out.append(replace(g, width=width, items=items))
    return out


def signature(model: nn.Module) -> tuple:
    """Module identities and widths: when it changes outside the pruner, carried groups are stale."""
    return tuple((n, id(m), layers.widths(m) if layers.supported(m) else None) for n, m in model.named_modules())
