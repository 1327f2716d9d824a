"""One round's cut for --latency-budget: per-group widths chosen from the latency table by predicted ms saved per
unit of the method's importance lost (edgeprune.latency.budget.choose), then the cut itself: the lowest-ranked
channels of each group (the method's own ranking, as ChannelPruner ranks them) removed down to that width,
checked against the zeroed unpruned model (PITFALLS 10) and kept in the replayable history."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeprune.errors import EdgepruneError


@dataclass
class CutPlan:
    """The widths a round cuts to; `apply` is called by Method.cut on the same model the plan was made on."""

    model: object
    groups: list  # the pruner's candidate groups (edgeprune.pruning.groups.Group)
    scores: dict  # group index -> ranking scores of its current channels
    widths: dict  # root -> width after the cut (only the groups that change)
    info: dict  # for metrics.json: aim, calibration, the chooser's steps and reason

    def apply(self, method, state, stage) -> tuple:
        from edgeprune import count
        from edgeprune.pruning.replay import apply_ops, compile_ops

        model = state.model
        if model is not self.model:
            raise EdgepruneError("internal: a latency cut applied to another model than it was planned on")
        chosen = {}
        for gi, g in enumerate(self.groups):
            keep = self.widths.get(g.root)
            if keep is not None and keep < g.width:
                chosen[gi] = np.sort(np.argsort(self.scores[gi], kind="stable")[: g.width - keep])
        ops = compile_ops(self.groups, chosen)
        inputs = method.ctx.example
        before = count(model, inputs)
        max_diff = _verified(model, ops, inputs, apply_ops)
        after = count(model, inputs)
        cut = {"amount": None, "unit": "latency", "achieved": 1 - after.params / before.params,
               "params_before": int(before.params), "params_after": int(after.params),
               "macs_before": int(before.macs), "macs_after": int(after.macs), "max_diff": max_diff}
        return state.replace(history=list(state.history) + [{"ops": ops}]), {"cut": cut, "latency_cut": self.info}


def _verified(model, ops, inputs, apply_ops) -> float:
    """Apply `ops` to `model` and compare every touched layer with the zeroed unpruned model (the pruner's own
    check, edgeprune.pruning.verify); a float32 miss is re-measured in float64 on a copy before refusing."""
    from edgeprune.pruning.pruner import confirm_in_float64
    from edgeprune.pruning.verify import LIMIT, Reference

    if not ops:
        return 0.0
    ref = Reference(model, ops, inputs)
    undo = apply_ops(model, ops)
    diff, where, _ = ref.compare(model)
    if diff <= LIMIT:
        return float(diff)
    diff, _ = confirm_in_float64(model, ops, inputs, undo, diff, where)  # raises (model restored) if it stays
    return float(diff)


def ranked_groups(pruner) -> tuple:
    """(the candidate groups of `pruner`, {group index: the ranking's scores}), as its own cut ranks them."""
    from edgeprune.pruning import importance as imp

    groups = pruner.candidate_groups()
    return groups, imp.rank(dict(enumerate(groups)), pruner.importance, pruner.normalizer)


def importance_of(groups: list, scores: dict, roots) -> dict:
    """{root: scores} of the groups in `roots`, shifted so that no score is negative (bn_scale+l1 standardises
    around each family's median; `choose` divides the time saved by the sum of the scores removed)."""
    picked = {g.root: np.asarray(scores[gi], dtype=float) for gi, g in enumerate(groups) if gi in scores and g.root in roots}
    low = min((float(s.min()) for s in picked.values() if s.size), default=0.0)
    return {r: s - low if low < 0 else s for r, s in picked.items()}


def plan(ctx, method, state, stage, table, *, aim_ms: float, budget_ms: float, measured_ms: float,
         example, measure_model) -> CutPlan | None:
    """The next cut of state.model towards `aim_ms` (p90, calibrated by the last measurement `measured_ms`), or
    None when no measured width left saves time. `measure_model(model) -> p90 ms` checks a cut that the table
    says meets the budget itself (only when `aim_ms` is the budget)."""
    from edgeprune.latency.budget import choose, model_predictor
    from edgeprune.latency.groups import Analysis

    from edgeprune.methods.context import modules_outside, modules_under

    cfg = method.cfg
    model = state.model
    ignored = list(modules_under(model, stage.ignored))  # as Method.stage_pruner, through `ctx` (tests pass a fake)
    if stage.part is not None:
        ignored += modules_outside(model, (stage.part,))
    pruner = ctx.pruner(model, importance=method.importance(), scope=cfg.scope, ignored=sorted(set(ignored)))
    groups, scores = ranked_groups(pruner)
    roots = [g.root for gi, g in enumerate(groups) if gi in scores and g.root in table.groups]
    importance = importance_of(groups, scores, roots)
    start = {g.root: int(g.width) for g in groups if g.root in importance}
    share = cfg.max_step_share
    floors = {r: max(int(cfg.min_channels), w - (int(share * w + 1e-9) if share is not None else w)) for r, w in start.items()}
    model.eval()  # the analysis and the predictor run forward passes; the trainer sets its own mode
    analysis = Analysis(model, example)
    predictor = model_predictor(table, analysis, "p90")
    predicted = predictor(dict(start))
    scale = measured_ms / predicted if predicted > 0 else 1.0

    def measure(widths: dict) -> float:
        return measure_model(analysis.cut({r: w for r, w in widths.items() if w < analysis.groups[r].width}))

    final = aim_ms <= budget_ms
    chosen = choose(table, importance, aim_ms, predictor=predictor, measure=measure if final else None,
                    stat="p90", min_width=floors, start=start, scale=scale)
    info = {"aim_ms": aim_ms, "budget_ms": budget_ms, "measured_before_ms": measured_ms, "predicted_before_ms": predicted,
            "scale": scale, "predicted_ms": chosen.predicted_ms * scale, "measured_in_plan_ms": chosen.measured_ms,
            "reason": chosen.reason, "steps": chosen.steps, "widths_before": start,
            "widths_after": dict(chosen.widths),
            "not_in_table": sorted(g.root for gi, g in enumerate(groups) if gi in scores and g.root not in table.groups)}
    if not chosen.steps:
        return None
    return CutPlan(model, groups, scores, {r: w for r, w in chosen.widths.items() if w < start[r]}, info)
