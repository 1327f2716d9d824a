"""A channel cut under --kernel-widths: the method's own cut, then each group's width raised to the widest nearby
width whose layers onnxruntime runs no slower on this machine (edgeprune.latency.kernel_widths), so that a cut does
not land just past a kernel step (docs/BENCHMARKS.md: ORT's NCHWc convs want input widths that are multiples of 4
and pad outputs to 16, its depthwise kernel is 3-4x slower off multiples of 4; cp on misp-video keeps 0.97 of its
MAC cut as time with this and export --fixed-shape, 0.81 without)."""

from __future__ import annotations

import copy


def plan(method, state, stage, amount: float, timer=None):
    """The CutPlan (methods/latency_cut.py) of this round: the widths the method's pruner reaches with `amount`,
    each moved up (never above the width before the cut) by kernel_widths.choose, the channels removed being the
    lowest of the pruner's own ranking. `timer`: a LayerTimer (tests pass one with known steps)."""
    from edgeprune.latency.groups import Analysis
    from edgeprune.latency.kernel_widths import LayerTimer, choose
    from edgeprune.methods.latency_cut import CutPlan, ranked_groups

    ctx, model = method.ctx, state.model
    was_training = model.training
    model.eval()  # the analyses and the timer's shapes come from forward passes; the trainer sets its own mode
    try:
        groups, scores = ranked_groups(method.stage_pruner(model, stage))
        trial = copy.deepcopy(model)  # where the method's own cut lands, on a copy
        method.stage_pruner(trial, stage).prune(amount, unit=method.cfg.per_round_unit)
        before, after = Analysis(model, ctx.example), Analysis(trial, ctx.example)
        wanted = {g.root: int(after.groups[g.root].width) for gi, g in enumerate(groups)
                  if gi in scores and g.root in after.groups and after.groups[g.root].width < g.width}
        timer = timer or LayerTimer(model, ctx.example)
        chosen, info = choose({r: before.groups[r] for r in wanted}, wanted, timer)
    finally:
        model.train(was_training)
    start = {g.root: int(g.width) for g in groups}
    widths = {r: w for r, w in chosen.items() if w < start[r]}
    info = {**info, "widths_pruner": wanted, "widths_chosen": chosen}
    if not widths:  # every group moved back to its width: the round would remove nothing (and the loop would
        # stall short of the target), so this cut takes the pruner's own widths
        widths, info["fallback"] = dict(wanted), "no width the kernels like removes a channel: the pruner's widths"
    return CutPlan(model, groups, scores, widths, info)


def cut(method, state, amount: float, stage, timer=None) -> tuple:
    """Apply this round's kernel-width plan; metrics get the cut and, under "kernel_widths", each group's width
    as the pruner chose it and as moved."""
    planned = plan(method, state, stage, amount, timer)
    state, info = planned.apply(method, state, stage)
    info["kernel_widths"] = info.pop("latency_cut")
    info["cut"]["amount"], info["cut"]["unit"] = amount, f"{method.cfg.per_round_unit}, widths the kernels like"
    return state, info
