"""Per-channel importance of the candidate groups, on one scale so that a single global ranking compares them.

- "bn_scale": |BN gamma| (network slimming, the CPLR paper). Raw, no per-group normalisation (PITFALLS.md
  item 7): gammas are comparable across layers. Groups without BatchNorm (LSTM hidden units, linear layers)
  have no score and are not candidates.
- "l1" / "l2": norm of the filter that produces the channel (an LSTM unit: its rows in all four gate blocks).
  Raw norms are not comparable across layers: an L1 norm grows with the fan-in (an LSTM unit of tv-audio has
  1,280 weights, an fc1 unit 160), and a conv followed by BatchNorm has no meaningful weight scale at all. A
  raw global ranking therefore deletes whole layers (tv-audio: fc1 128 -> 1 in one 30 % step). The default
  normaliser "mean" divides each group's norms by their mean over the group (torch-pruning's default group
  normaliser): a channel ranks by how weak it is *within its layer*, which is free of fan-in and weight scale;
  "none" is the raw norm. A per-parameter norm (mean |w|, RMS) was measured and dropped: under the usual
  1/sqrt(fan-in) init it still ranks whole layers below others (tv-audio trained 2 epochs, one shot to WSR 0.8,
  no fine-tuning: conv2 160 -> 1 and dev Score 1.0, as with raw L1; "mean": every layer 54-70 wide, dev Score
  0.69 against 0.67 dense).
- "bn_scale+l1": groups with BatchNorm by |gamma|, the others (LSTM hidden units, FC units) by "mean"-normalised
  L1 norm; each family is then standardised robustly over its candidate channels, (score - family median) /
  family interquartile range, so that "one IQR below the typical channel of its family" means the same in
  both. Location and spread both differ between the families (tv-audio, random init with spread gammas:
  dividing by the medians alone left the LSTM at 127 of 160 units while the convs went to 13 of 128 at
  WSR 0.76; standardised: 89 and 50). Within the BatchNorm family the order is the paper's raw global |gamma|
  order (one common shift and scale), and a gamma driven to ~0 by sparse training lies far below its family's
  median, so it still goes early. Rank (quantile) normalisation balanced as well but makes exact cross-family
  ties whenever the families hold equally many channels (tv-audio: 288 each).
A channel of a coupled group scores the mean over the group's layers.
"""

from __future__ import annotations

import numpy as np
import torch

from edgeprune.kinds import kind_of
from edgeprune.pruning.groups import Group, Item

METHODS = ("bn_scale+l1", "bn_scale", "l1", "l2")
NORMALIZERS = ("mean", "none")


def _rows(item: Item) -> torch.Tensor:
    """One row of weights per layer channel (the filter that produces it), as the layer's kind gives it."""
    return kind_of(item.module).rows(item.module)


def _scatter_mean(values: np.ndarray, item: Item, width: int) -> np.ndarray:
    total = np.zeros(width)
    hits = np.zeros(width)
    np.add.at(total, item.root_idxs, values[item.idxs])
    np.add.at(hits, item.root_idxs, 1)
    return total / np.maximum(hits, 1)


def _divide(values: np.ndarray, scale: float) -> np.ndarray:
    """values / scale, leaving all-zero (or non-finite-scaled) scores as they are."""
    return values / scale if np.isfinite(scale) and scale > 0 else values


def _bn_scores(group: Group) -> np.ndarray | None:
    gammas = [(it, kind_of(it.module).gamma(it.module)) for it in group.items]
    sources = [(it, g) for it, g in gammas if g is not None]
    if not sources:
        return None
    per = [_scatter_mean(g.abs().double().numpy(), it, group.width) for it, g in sources]
    return np.mean(per, axis=0)


def _norm_scores(group: Group, p: int, normalizer: str) -> np.ndarray | None:
    sources = group.producers
    if not sources:
        return None
    per = [_scatter_mean(_rows(it).double().norm(p=p, dim=1).numpy(), it, group.width) for it in sources]
    out = np.mean(per, axis=0)
    return _divide(out, float(out.mean())) if normalizer == "mean" else out


def scores(group: Group, method: str, normalizer: str = "mean") -> np.ndarray | None:
    """Scores of one group's root channels before any cross-group scaling, or None when `method` cannot rank it.

    For "bn_scale+l1" this is |gamma| where the group has BatchNorm, else its "mean"-normalised L1 norm; use
    `rank` for the scores a global ranking compares.
    """
    if method == "bn_scale":
        return _bn_scores(group)
    if method == "bn_scale+l1":
        bn = _bn_scores(group)
        return bn if bn is not None else _norm_scores(group, 1, "mean")
    return _norm_scores(group, 1 if method == "l1" else 2, normalizer)


def rank(groups: dict[int, Group], method: str, normalizer: str = "mean") -> dict[int, np.ndarray]:
    """Scores of every group of `groups` (index -> group) that `method` can rank, on one comparable scale."""
    out = {gi: scores(g, method, normalizer) for gi, g in groups.items()}
    out = {gi: s for gi, s in out.items() if s is not None}
    if method != "bn_scale+l1" or not out:
        return out
    families = {True: [], False: []}  # has BatchNorm -> group indices
    for gi in out:
        families[_bn_scores(groups[gi]) is not None].append(gi)
    for members in families.values():
        if members:
            pooled = np.concatenate([out[gi] for gi in members])
            q1, median, q3 = np.percentile(pooled, [25, 50, 75])
            spread = q3 - q1 if q3 > q1 else float(np.mean(np.abs(pooled - median)))
            for gi in members:
                out[gi] = _divide(out[gi] - median, spread)
    return out
