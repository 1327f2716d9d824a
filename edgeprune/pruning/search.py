"""Choose which channels go: the global (or per-group) ranking cut that removes the asked amount.

Per group, at most width - floor channels go (min_channels), and at most floor(max_share * width) in one step
(the step ceiling: a ranking that favours one layer can take at most that share of it per step).

For unit="params" the cut is searched (bisection over the ranking) so that the removed fraction of the
*current* parameters lands as close as the channel granularity allows; the parameter count of every
candidate cut is computed exactly from layer widths (layers.params_at), without touching the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgeprune.pruning import layers
from edgeprune.pruning.groups import Group

TOLERANCE = 0.01  # unit="params": |achieved - amount| <= TOLERANCE * amount counts as reached


@dataclass
class Cut:
    chosen: dict[int, np.ndarray]  # group index -> root channels to remove
    params_after: int
    limited: str | None  # why fewer/more than asked (floors, round_to, nothing to cut), if so
    ties: int  # channels sharing the score at the cut, split between kept and removed


class CostModel:
    """Exact parameter count of the model for any choice of removed root channels."""

    def __init__(self, groups: list[Group], total_params: int):
        self.total = total_params
        self.modules: dict[int, object] = {}
        self.terms = []  # per group: [(module id, kind, multiplicity per root channel)]
        for g in groups:
            terms = []
            for it in g.items:
                self.modules[id(it.module)] = it.module
                mult = np.bincount(it.root_idxs, minlength=g.width)[: g.width]
                terms.append((id(it.module), it.kind, mult))
            self.terms.append(terms)
        self.dense = {k: layers.params_at(m, 0, 0) for k, m in self.modules.items()}

    def params_after(self, chosen: dict[int, np.ndarray]) -> int:
        cut = {k: [0, 0] for k in self.modules}
        for gi, roots in chosen.items():
            if len(roots) == 0:
                continue
            for key, kind, mult in self.terms[gi]:
                cut[key][0 if kind == "out" else 1] += int(mult[roots].sum())
        removed = sum(self.dense[k] - layers.params_at(self.modules[k], *cut[k]) for k in self.modules)
        return self.total - removed


def _floor(width: int, min_channels: int) -> int:
    return min(width, max(1, int(min_channels)))


def _rounded(width: int, n_cut: int, round_to: int | None) -> int:
    """Channels cut once the kept width is rounded up to a multiple of `round_to` (never above `width`)."""
    if not round_to or n_cut == 0:
        return n_cut
    kept = min(width, int(math.ceil((width - n_cut) / round_to) * round_to))
    return width - kept


def _ceiling(width: int, max_share: float | None) -> int:
    """Channels one step may take from a group of `width` (the epsilon keeps 0.29 * 100 at 29)."""
    if max_share is None:
        return width
    return int(math.floor(max_share * width + 1e-9))


class Ranking:
    """Candidate channels ordered by score (ties broken by group, then channel index), floors and ceiling applied."""

    def __init__(self, groups: list[Group], scores: dict[int, np.ndarray], min_channels: int, round_to,
                 max_share: float | None = None):
        self.groups, self.scores, self.round_to = groups, scores, round_to
        self.caps = {gi: min(groups[gi].width - _floor(groups[gi].width, min_channels),
                             _ceiling(groups[gi].width, max_share)) for gi in scores}
        self.per_group = {gi: np.argsort(s, kind="stable") for gi, s in scores.items()}
        entries = [(float(s[c]), gi, int(c)) for gi, s in scores.items() for c in range(len(s))]
        entries.sort()
        taken = {gi: 0 for gi in scores}
        self.eligible = []
        for _, gi, c in entries:
            if taken[gi] < self.caps[gi]:
                taken[gi] += 1
                self.eligible.append(gi)
        self.eligible = np.asarray(self.eligible, dtype=np.int64)
        self.total_channels = sum(groups[gi].width for gi in scores)

    def counts_global(self, k: int) -> dict[int, int]:
        n = np.bincount(self.eligible[:k], minlength=len(self.groups)) if k else np.zeros(len(self.groups), int)
        return {gi: int(n[gi]) for gi in self.scores}

    def counts_layerwise(self, fraction: float) -> dict[int, int]:
        return {gi: min(self.caps[gi], int(round(fraction * self.groups[gi].width))) for gi in self.scores}

    def choose(self, counts: dict[int, int]) -> dict[int, np.ndarray]:
        out = {}
        for gi, n in counts.items():
            n = _rounded(self.groups[gi].width, n, self.round_to)
            out[gi] = np.sort(self.per_group[gi][:n])
        return out

    def ties(self, chosen: dict[int, np.ndarray], scope: str) -> int:
        """Channels whose score equals the boundary score while some of them go and some stay."""
        def split(pairs_kept, pairs_cut):
            if not len(pairs_kept) or not len(pairs_cut):
                return 0
            edge = max(pairs_cut)
            kept_at_edge = int(np.sum(np.asarray(pairs_kept) == edge))
            if not kept_at_edge:  # kept channels below the edge are held by floors or the ceiling, not ties
                return 0
            return int(np.sum(np.asarray(pairs_cut) == edge)) + kept_at_edge

        if scope == "global":
            cut_s, kept_s = [], []
            for gi, s in self.scores.items():
                mask = np.zeros(len(s), bool)
                mask[chosen.get(gi, [])] = True
                cut_s += s[mask].tolist()
                kept_s += s[~mask].tolist()
            return split(kept_s, cut_s)
        total = 0
        for gi, s in self.scores.items():
            mask = np.zeros(len(s), bool)
            mask[chosen.get(gi, [])] = True
            total += split(s[~mask].tolist(), s[mask].tolist())
        return total


def _closest(evaluate, lo, hi, target):
    """Bisect a monotone `evaluate` (removed params) over integer steps lo..hi; return the step closest to target."""
    a, b = lo, hi
    while a < b:
        mid = (a + b) // 2
        if evaluate(mid) >= target:
            b = mid
        else:
            a = mid + 1
    best = min({max(lo, a - 1), a}, key=lambda k: (abs(evaluate(k) - target), k))
    return best


def find_cut(ranking: Ranking, cost: CostModel, amount: float, unit: str, scope: str) -> Cut:
    """The cut for `amount` of `unit` ("params" | "channels") under `scope` ("global" | "layerwise")."""
    layerwise_steps = 1000
    if scope == "global":
        counts_at = ranking.counts_global
        last = len(ranking.eligible)
    else:
        counts_at = lambda k: ranking.counts_layerwise(k / layerwise_steps)  # noqa: E731
        last = layerwise_steps
    cache: dict[int, int] = {}

    def removed(k: int) -> int:
        if k not in cache:
            cache[k] = cost.total - cost.params_after(ranking.choose(counts_at(k)))
        return cache[k]

    if unit == "params":
        target = amount * cost.total
        k = _closest(removed, 0, last, target)
        if scope == "global" and abs(removed(k) - target) > TOLERANCE * target:
            counts = _refine(ranking, cost, k, target)
            if counts is not None:
                return _finish(ranking, cost, ranking.choose(counts), None, scope)
    else:
        if scope == "global":
            k = min(last, int(round(amount * ranking.total_channels)))
        else:
            k = int(round(amount * layerwise_steps))
    chosen = ranking.choose(counts_at(k))
    limited = None
    if not ranking.scores:
        limited = "no candidate channels"
    elif unit == "params" and removed(last) < amount * cost.total * (1 - TOLERANCE):
        limited = (f"at most {removed(last) / cost.total:.4f} of the params can go (per-layer floors, "
                   f"step ceiling, candidates)")
    elif unit == "channels":
        asked = {gi: int(round(amount * ranking.groups[gi].width)) for gi in ranking.scores}
        got = {gi: len(c) for gi, c in chosen.items()}
        if scope == "global" and sum(got.values()) != int(round(amount * ranking.total_channels)):
            limited = "per-layer floors, step ceiling or round_to"
        if scope == "layerwise" and got != asked:
            limited = "per-layer floors, step ceiling or round_to"
    return _finish(ranking, cost, chosen, limited, scope)


def _finish(ranking, cost, chosen, limited, scope) -> Cut:
    return Cut(chosen=chosen, params_after=cost.params_after(chosen), limited=limited,
               ties=ranking.ties(chosen, scope))


def _refine(ranking: Ranking, cost: CostModel, k: int, target: float, window: int = 256):
    """Land within tolerance when one channel is coarser than it: from the largest prefix below the target,
    take the next channels in rank order, passing over (for good, per group, to keep each group's own
    order) any that would overshoot. Returns per-group counts, or None if no such cut is found."""
    counts = ranking.counts_global(k)
    removed = lambda c: cost.total - cost.params_after(ranking.choose(c))  # noqa: E731
    if removed(counts) > target:
        k = max(0, k - 1)
        counts = ranking.counts_global(k)
    blocked = set()
    for gi in ranking.eligible[k:k + window].tolist():
        if gi in blocked:
            continue
        trial = dict(counts)
        trial[gi] += 1
        got = removed(trial)
        if got > target * (1 + TOLERANCE):
            blocked.add(gi)
            continue
        counts = trial
        if abs(got - target) <= TOLERANCE * target:
            return counts
    return None
