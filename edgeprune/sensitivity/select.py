"""AIMET's greedy per-layer ratio selection: per layer the largest ratio whose Score loss stays under one bound,
the bound found by bisection so that the chosen ratios meet a global params target with the least loss.

(Qualitatively AIMET's "greedy compression-ratio selection": there the bound is an eval-score floor and a
layer's candidate is its smallest compression ratio above it; the search is the same.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from edgeprune.errors import EdgepruneError


@dataclass(frozen=True)
class Selection:
    ratios: dict  # layer -> removed fraction (0.0: left alone)
    bound: float  # the Score loss bound that chose them
    removed: float  # what `removed_of(ratios)` says they remove
    target: float
    reached: bool

    def to_dict(self) -> dict:
        return {"ratios": dict(self.ratios), "bound": self.bound, "removed": self.removed, "target": self.target,
                "reached": self.reached}


def ratios_under(curves: dict[str, list[tuple[float, float]]], bound: float) -> dict[str, float]:
    """Per layer, the largest ratio whose loss is at most `bound` (0.0 when none is)."""
    out = {}
    for layer, points in curves.items():
        ok = [r for r, loss in points if loss <= bound]
        out[layer] = max(ok) if ok else 0.0
    return out


def additive_params(removed: dict[str, dict[float, float]]) -> Callable[[dict[str, float]], float]:
    """removed_of for a table of params removed per (layer, ratio) cut alone, summed over layers (this
    counts twice a layer shared by two cut groups; pass an exact callable where that matters)."""
    def removed_of(ratios: dict[str, float]) -> float:
        return float(sum(removed[layer][r] for layer, r in ratios.items() if r > 0))
    return removed_of


def select(curves: dict[str, list[tuple[float, float]]], removed_of: Callable[[dict[str, float]], float],
           target: float, iterations: int = 60) -> Selection:
    """Ratios that remove at least `target` (in the units of `removed_of`, e.g. params) with the smallest
    loss bound. `curves`: layer -> [(ratio, Score loss against dense)]; `removed_of(ratios)` -> amount removed,
    which must not decrease as ratios grow. When even every layer's largest ratio misses the target, those
    ratios are returned with reached=False."""
    if not curves or not all(curves.values()):
        raise EdgepruneError("no sensitivity curves to select from")
    if not (isinstance(target, (int, float)) and target > 0):
        raise EdgepruneError(f"the target must be positive, got {target!r}")
    losses = sorted({loss for points in curves.values() for _, loss in points})
    top = ratios_under(curves, losses[-1])
    if removed_of(top) < target:
        return Selection(top, losses[-1], removed_of(top), target, False)
    # The chosen ratios change only at the measured losses: bisect over them (a bound below the smallest
    # loss chooses nothing), so the answer is the smallest measured loss that meets the target.
    lo, hi = -1, len(losses) - 1  # removed(losses[hi]) >= target; lo = "below every loss"
    for _ in range(iterations):
        if hi - lo <= 1:
            break
        mid = (lo + hi) // 2
        if removed_of(ratios_under(curves, losses[mid])) >= target:
            hi = mid
        else:
            lo = mid
    chosen = ratios_under(curves, losses[hi])
    return Selection(chosen, losses[hi], removed_of(chosen), target, True)
