"""Per-channel importance of a group: |BN gamma| (network slimming) or L1/L2 norms of the producing filters.

Scores are raw (no per-group normalisation, PITFALLS.md item 7) so that one global ranking compares
channels across layers. A channel of a coupled group scores the mean over the group's layers.
Under "bn_scale" a group without BatchNorm (LSTM hidden units, linear layers) has no score and is not a
candidate: mixing |gamma| with weight norms would rank on incomparable scales. Use "l1"/"l2" to cut those.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from edgeprune.pruning.groups import Group, Item
from edgeprune.pruning.layers import _BN

METHODS = ("bn_scale", "l1", "l2")


def _rows(item: Item) -> torch.Tensor:
    """One row of weights per layer channel (the filter that produces it)."""
    m = item.module
    if isinstance(m, nn.LSTM):
        h = m.hidden_size
        blocks = [getattr(m, n) for n in m._flat_weights_names if n.startswith("weight")]
        per_unit = [w.detach().reshape(4, h, -1).permute(1, 0, 2).reshape(h, -1) for w in blocks]
        return torch.cat(per_unit, dim=1)
    return m.weight.detach().reshape(m.weight.shape[0], -1)


def _scatter_mean(values: np.ndarray, item: Item, width: int) -> np.ndarray:
    total = np.zeros(width)
    hits = np.zeros(width)
    np.add.at(total, item.root_idxs, values[item.idxs])
    np.add.at(hits, item.root_idxs, 1)
    return total / np.maximum(hits, 1)


def scores(group: Group, method: str) -> np.ndarray | None:
    """Scores of the group's root channels (length group.width), or None when the method cannot rank it."""
    if method == "bn_scale":
        sources = [it for it in group.items if isinstance(it.module, _BN) and it.module.affine]
        if not sources:
            return None
        per = [_scatter_mean(it.module.weight.detach().abs().double().numpy(), it, group.width) for it in sources]
    else:
        sources = group.producers
        if not sources:
            return None
        p = 1 if method == "l1" else 2
        per = [_scatter_mean(_rows(it).double().norm(p=p, dim=1).numpy(), it, group.width) for it in sources]
    return np.mean(per, axis=0)
