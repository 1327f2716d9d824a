"""The stop rules of the round loop, as a pure function of the saved round metrics: what the next round
cuts (and in which stage), or why the loop stops and which round the final model starts from."""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgeprune.methods.schedule import round_cut

#: A stage counts as done when its WSR is within this of the target (channel cuts are discrete).
REACH_SLACK = 0.005


@dataclass(frozen=True)
class Stage:
    """One pruning stage: `part` is the module prefix whose own params measure the stage's WSR (None: the
    whole model); `ignored` are module prefixes left unpruned; `frozen` those not trained."""

    name: str
    target: float
    part: str | None = None
    ignored: tuple[str, ...] = ()
    frozen: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    stop: str | None  # why the loop stops; None: run another round
    stage: int = 0  # stage of the next round
    amount: float = 0.0  # fraction of the current params (or of each group, layer-wise) to cut
    base_round: int | None = None  # when stopping: the round the final model starts from


def score_of(metrics: dict) -> float:
    """The dev Score of a round (lower is better); 1 - accuracy for multiclass models."""
    dev = metrics.get("dev") or {}
    if "score" in dev:
        return math.nan if dev["score"] is None else float(dev["score"])  # NaN is saved as null
    if "accuracy" in dev:
        return math.nan if dev["accuracy"] is None else 1.0 - float(dev["accuracy"])
    return math.nan


def decide(rounds: list[dict], stages: list[Stage], per_round: float, *, last_cut: str = "clip",
           max_rounds: int = 60, tolerance: float | None = None) -> Decision:
    """Next step after the saved `rounds` (round 0 first; each has round, stage, part_wsr, removed, dev)."""
    if not rounds:
        raise ValueError("decide() needs round 0")
    last = rounds[-1]
    n = int(last["round"])
    worse = _tolerance(rounds, tolerance)
    if worse is not None:
        return worse
    stage = int(last.get("stage", 0))
    stalled = n > 0 and int(last.get("removed", 1)) <= 0
    while stage < len(stages):
        st = stages[stage]
        wsr_now = float(last["part_wsr"][st.name])
        if wsr_now >= st.target - REACH_SLACK or (stalled and int(last.get("stage", 0)) == stage):
            stage += 1
            continue
        break
    if stage >= len(stages):
        reason = "a round removed nothing more" if stalled and float(
            last["part_wsr"][stages[-1].name]) < stages[-1].target - REACH_SLACK else "target WSR reached"
        return Decision(stop=reason, stage=len(stages) - 1, base_round=n)
    if n >= max_rounds:
        return Decision(stop=f"max rounds ({max_rounds}) reached", stage=stage, base_round=n)
    st = stages[stage]
    amount = round_cut(float(last["part_wsr"][st.name]), st.target, per_round, last_cut)
    return Decision(stop=None, stage=stage, amount=amount)


def _tolerance(rounds: list[dict], tolerance: float | None) -> Decision | None:
    """Stop when the last round's dev Score is worse than the dense one's by more than `tolerance`."""
    last = rounds[-1]
    if tolerance is None or int(last["round"]) == 0:
        return None
    limit = score_of(rounds[0]) + tolerance
    if score_of(last) <= limit:
        return None
    good = [r for r in rounds if score_of(r) <= limit]
    base = int(good[-1]["round"]) if good else 0
    return Decision(stop=f"dev Score {score_of(last):.4f} is worse than the dense "
                         f"{score_of(rounds[0]):.4f} by more than {tolerance}; keeping round {base}",
                    base_round=base)


def decide_latency(rounds: list[dict], budget_ms: float, per_round: float, *, max_rounds: int = 60,
                   tolerance: float | None = None) -> Decision:
    """Next step of a --latency-budget run: stop at the first round whose p90 measured on the target (its
    metrics' `latency`) is within `budget_ms`; --target-wsr is not a stop rule here. Whether a cut is left that
    saves time is the planner's question (methods/latency_budget.py), asked before each round."""
    if not rounds:
        raise ValueError("decide_latency() needs round 0")
    last = rounds[-1]
    n = int(last["round"])
    worse = _tolerance(rounds, tolerance)
    if worse is not None:
        return worse
    p90 = float(last["latency"]["p90"])
    if p90 <= budget_ms:
        return Decision(stop=f"measured p90 {p90:.4g} ms on {last['latency'].get('target', 'the target')} is within "
                             f"the {budget_ms:g} ms budget (round {n})", base_round=n)
    if n >= max_rounds:
        return Decision(stop=f"max rounds ({max_rounds}) reached; measured p90 {p90:.4g} ms is over the "
                             f"{budget_ms:g} ms budget", base_round=n)
    return Decision(stop=None, amount=per_round)


def nothing_left(rounds: list[dict], budget_ms: float) -> Decision:
    """The stop of a --latency-budget run whose table offers no cut that saves time any more."""
    last = rounds[-1]
    return Decision(stop=f"nothing left to cut that saves time by the latency table; measured p90 "
                         f"{float(last['latency']['p90']):.4g} ms is over the {budget_ms:g} ms budget",
                    base_round=int(last["round"]))
