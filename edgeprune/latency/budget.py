"""Cuts chosen for a latency budget: greedily, the cut with the most predicted time saved per unit of importance
lost, until the predicted (then measured) latency is within the budget. For a later `slim --latency-budget`.

Candidate widths are the table's measured widths, so a cut lands where the latency is known; a cut that removes
channels but no time (e.g. to a width inside the same kernel block) saves nothing and is never preferred.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from edgeprune.errors import EdgepruneError
from edgeprune.latency.predict import additive
from edgeprune.latency.table import LatencyTable

Predictor = Callable[[dict], float]  # group widths -> predicted latency (ms)
Measurer = Callable[[dict], float]  # group widths -> measured latency (ms) of the model cut to them


@dataclass
class Plan:
    widths: dict
    met: bool
    reason: str
    predicted_ms: float
    measured_ms: float | None = None
    steps: list = field(default_factory=list)  # one dict per cut: root, from, to, saved_ms, lost, predicted_ms, ...

    def to_dict(self) -> dict:
        return {"widths": dict(self.widths), "met": self.met, "reason": self.reason,
                "predicted_ms": self.predicted_ms, "measured_ms": self.measured_ms, "steps": list(self.steps)}


def table_predictor(table: LatencyTable, stat: str = "p90") -> Predictor:
    """The additive prediction of the table (pure; exact when the groups' costs add up, as for a fake runner)."""
    return lambda widths: additive(table, widths, stat)


def model_predictor(table: LatencyTable, analysis, stat: str = "p90") -> Predictor:
    """The table's `layers` prediction of the analysed model cut to the widths (each call cuts a copy and counts
    its per-layer MACs: exact for shared layers, a forward pass per call)."""
    from edgeprune.latency.predict import predict

    def run(widths: dict) -> float:
        cut = {r: w for r, w in widths.items() if w < analysis.groups[r].width}
        return predict(table, analysis.cut(cut), analysis.example, stat)
    return run


def _lost(scores: np.ndarray, width: int, now: int, to: int) -> float:
    """Importance of the channels that go from `now` to `to` (the lowest-ranked first, as the pruner cuts)."""
    ranked = np.sort(np.asarray(scores, dtype=float))
    return float(ranked[width - now: width - to].sum())


def choose(table: LatencyTable, importance: dict, budget_ms: float, predictor: Predictor | None = None,
           measure: Measurer | None = None, stat: str = "p90", min_width: int | dict = 1, max_steps: int = 1000,
           start: dict | None = None, scale: float = 1.0) -> Plan:
    """Widths per group (a subset of `importance`'s groups: those may be cut) meeting `budget_ms`.

    Each step considers every measured width below each group's current one and takes the cut with the highest
    predicted ms saved / importance lost (ties: the smaller cut). When the prediction is within the budget and
    `measure` is given, the model is measured: within budget ends the search; over it rescales later
    predictions by measured / predicted and the cuts go on.

    `start`: the groups' current widths (default: the table's dense ones), `importance[root]` then holds one score
    per current channel; `scale`: measured / predicted latency of the model at `start` (a calibration from an
    earlier measurement); `min_width`: one floor for every group or one per group."""
    if not (isinstance(budget_ms, (int, float)) and budget_ms > 0):
        raise EdgepruneError(f"the latency budget must be a positive number of ms, got {budget_ms!r}")
    unknown = [r for r in importance if r not in table.groups]
    if unknown:
        raise EdgepruneError(f"groups not in the latency table: {', '.join(unknown)}")
    predict = predictor or table_predictor(table, stat)
    full = {r: int((start or {}).get(r, table.groups[r]["width"])) for r in importance}
    for r in importance:
        if len(importance[r]) != full[r]:
            raise EdgepruneError(f"group {r!r} has {len(importance[r])} importance scores for its {full[r]} channels")
    floor = {r: int(min_width.get(r, 1) if isinstance(min_width, dict) else min_width) for r in importance}
    widths = dict(full)
    measured = None
    now = predict(widths)
    plan = Plan(dict(widths), False, "", now)
    for _ in range(max_steps):
        if now * scale <= budget_ms:
            if measure is None:
                return _done(plan, widths, now, None, "predicted latency within the budget")
            measured = measure(dict(widths))
            if measured <= budget_ms:
                return _done(plan, widths, now, measured, "measured latency within the budget")
            scale = measured / now if now > 0 else 1.0
            if plan.steps:
                plan.steps[-1]["measured_ms"] = measured
        best = None
        for root in importance:
            for to in table.widths(root):
                if not floor[root] <= to < widths[root]:
                    continue
                trial = {**widths, root: to}
                after = predict(trial)
                saved = now - after
                if saved <= 0:
                    continue
                lost = _lost(importance[root], full[root], widths[root], to)
                # 9 significant digits: float noise in the ms must not break a tie that the smaller cut wins
                key = (float(f"{saved / max(lost, 1e-12):.9g}"), -(widths[root] - to))
                if best is None or key > best[0]:
                    best = (key, root, to, after, saved, lost)
        if best is None:
            return _done(plan, widths, now, measured, "no cut left that saves time", met=False)
        _, root, to, after, saved, lost = best
        plan.steps.append({"root": root, "from": widths[root], "to": to, "saved_ms": saved, "lost": lost,
                           "predicted_ms": after * scale, "measured_ms": None})
        widths[root], now = to, after
    return _done(plan, widths, now, measured, f"stopped after {max_steps} steps", met=False)


def _done(plan: Plan, widths: dict, now: float, measured, reason: str, met: bool = True) -> Plan:
    plan.widths, plan.predicted_ms, plan.measured_ms, plan.reason, plan.met = dict(widths), now, measured, reason, met
    if plan.steps and measured is not None:
        plan.steps[-1]["measured_ms"] = measured
    return plan
