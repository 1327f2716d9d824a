"""--ratios auto: per-group target widths chosen once from the round-0 model's sensitivity curves (AIMET's greedy
selection, edgeprune.sensitivity.select), then each round's cut spread over the groups in proportion to the way
each still has to go to its target, so an iterative method stays iterative and a one-shot one goes straight there.

The curves are computed once, after round 0, and cached in the run directory (`sensitivity/`, written atomically):
a resumed run reads them back. Which channels of a group go is still the group's importance ranking.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from edgeprune.errors import EdgepruneError

FOLDER = "sensitivity"  # in the run directory: sensitivity.json/.md/.png of round 0, selection.json
BN_BATCHES = 10  # training batches the curves re-estimate BatchNorm on (as `edgeprune sensitivity`)


def check(method) -> None:
    """Refuse what --ratios auto cannot run, before round 0 trains (one EdgepruneError line); the config's own
    checks (--granularity channel) are in methods/validate.py."""
    if len(method.stages) > 1:
        raise EdgepruneError("--ratios auto selects ratios for one whole-model target; staged pruning (the lip "
                             "encoder first) is not supported: pass --staged off or --ratios global")


def plan(method) -> dict:
    """The run's per-group targets {"targets": {root: kept width}, "dense_widths", "selection", ...}, computed
    from round 0 (curves from the run directory's cache when there) and kept on `method` for later rounds."""
    cached = getattr(method, "_auto_ratios_plan", None)
    if cached is None:
        cached = method._auto_ratios_plan = _plan(method)
    return cached


def _plan(method) -> dict:
    from edgeprune.methods.state import read_state
    from edgeprune.sensitivity.select import Selection, select

    ctx, cfg = method.ctx, method.cfg
    model0 = read_state(ctx.rundir.round_path(0), "cpu").model.eval()
    groups, _ = _candidates(method, model0)
    curves_result = _curves(method, model0, [g.root for g in groups])
    missing = [g.root for g in groups if g.root not in curves_result["groups"]]
    if missing:
        raise EdgepruneError(f"{ctx.rundir.path / FOLDER / 'sensitivity.json'} has no curve for group(s) "
                             f"{', '.join(missing)}: remove that folder to recompute it")
    dense = curves_result["dense_score"]
    floor = lambda w: min(w, max(1, int(cfg.min_channels)))  # noqa: E731  (the pruner's per-layer floor)
    curves, kept = {}, {}
    for g in groups:
        pts = curves_result["groups"][g.root]["points"]
        curves[g.root] = [(float(p["removed"]), float(p["score"]) - dense) for p in pts]
        kept[g.root] = {float(p["removed"]): max(floor(g.width), int(p["width"])) for p in pts}
    cost, order, total = _cost(method, groups, model0)
    index = {g.root: gi for gi, g in enumerate(groups)}

    def removed_of(ratios: dict[str, float]) -> float:  # exact: shared layers are counted once
        chosen = {index[r]: order[index[r]][: groups[index[r]].width - kept[r][x]] for r, x in ratios.items() if x > 0}
        return float(total - cost.params_after(chosen))

    needed = total - (1.0 - cfg.target_wsr) * ctx.dense_params
    if needed <= 0:
        sel = Selection({r: 0.0 for r in curves}, 0.0, 0.0, needed, True)
    else:
        sel = select(curves, removed_of, needed)
    targets = {r: (kept[r][x] if x > 0 else groups[index[r]].width) for r, x in sel.ratios.items()}
    if not sel.reached:
        print(f"--ratios auto: even the largest measured cut of every group removes {sel.removed:.0f} of the "
              f"{needed:.0f} params the target needs; the run stops where those cuts end")
    return {"target_wsr": cfg.target_wsr, "bound": sel.bound, "reached": sel.reached,
            "params_to_remove": needed, "params_removed_by_targets": sel.removed,
            "metric": curves_result["metric"], "dense_score": dense, "ratios": dict(sel.ratios),
            "dense_widths": {g.root: g.width for g in groups}, "targets": targets}


def _curves(method, model0, roots: list[str]) -> dict:
    """sensitivity.json of round 0: read from the run directory, or computed and written there (atomically,
    with its Markdown table and plot) without touching the run's random state."""
    import random
    from types import SimpleNamespace

    import torch

    from edgeprune.data.progress import silenced
    from edgeprune.rundir import read_json
    from edgeprune.sensitivity import curves, report

    ctx, cfg = method.ctx, method.cfg
    folder = ctx.rundir.path / FOLDER
    if (folder / "sensitivity.json").is_file():
        return read_json(folder / "sensitivity.json")
    source = SimpleNamespace(model=model0, input_names=tuple(ctx.spec.inputs), example=ctx.example,
                             task=ctx.spec.task)
    py, np_state = random.getstate(), np.random.get_state()
    # resuming must equal not stopping: the curves draw no numbers from the run; --no-progress: no bar
    with torch.random.fork_rng(), silenced(not cfg.progress):
        try:
            result = curves.sensitivity(source, ctx.data, curves.FRACTIONS, BN_BATCHES, int(cfg.train.batch_size),
                                        method.importance(), cfg.seed, roots)
        finally:
            random.setstate(py)
            np.random.set_state(np_state)
    result.update(checkpoint=str(Path("round_000") / "model.safetensors"), data=cfg.data,
                  fractions=list(curves.FRACTIONS))
    with ctx.rundir.writing(FOLDER) as tmp:
        report.write(result, tmp)
    return result


def _candidates(method, model):
    """The pruner of this run on `model` (its first stage) and its candidate groups (held groups left out)."""
    pruner = method.stage_pruner(model, method.stages[0])
    return pruner.candidate_groups(), pruner


def _cost(method, groups, model):
    """(exact params counter, per-group channel order least important first, params of `model`)."""
    from edgeprune.counting import count_params
    from edgeprune.pruning import importance
    from edgeprune.pruning.search import CostModel

    total = count_params(model)
    scores = importance.rank(dict(enumerate(groups)), method.importance())
    order = {gi: np.argsort(np.asarray(s), kind="stable") for gi, s in scores.items()}
    return CostModel(groups, total), order, total


def counts_at(share: float, ways: dict[int, int], caps: dict[int, int]) -> dict[int, int]:
    """Channels cut per group when each covers `share` of its remaining way (capped by floor and step ceiling)."""
    return {gi: min(caps[gi], int(math.floor(share * d + 0.5))) for gi, d in ways.items()}


def spread(removed, goal: float, ways: dict[int, int], caps: dict[int, int], steps: int = 40) -> float:
    """The share of the remaining way (0..1) whose cut removes closest to `goal`; `removed(counts)` must not
    decrease as the share grows. 1.0 when even the whole way removes less."""
    if removed(counts_at(1.0, ways, caps)) <= goal:
        return 1.0
    lo, hi = 0.0, 1.0  # removed(lo) < goal <= removed(hi)
    for _ in range(steps):
        mid = (lo + hi) / 2
        if removed(counts_at(mid, ways, caps)) >= goal:
            hi = mid
        else:
            lo = mid
    return min((lo, hi), key=lambda s: (abs(removed(counts_at(s, ways, caps)) - goal), s))


def cut(method, state, amount: float, stage) -> tuple:
    """One round's channel cut under --ratios auto: `amount` of the current params (or channels) removed, spread
    over the groups by their remaining way to the selected targets; verified as ChannelPruner verifies a step."""
    from edgeprune.counting import count_params
    from edgeprune.pruning import layers
    from edgeprune.pruning.pruner import confirm_in_float64  # the pruner's float64 re-check of a float32 mismatch
    from edgeprune.pruning.replay import apply_ops, compile_ops
    from edgeprune.pruning.verify import LIMIT, Reference

    cfg, model = method.cfg, state.model
    p = plan(method)
    groups, pruner = _candidates(method, model)
    cost, order, total = _cost(method, groups, model)
    share_cap = cfg.max_step_share
    caps, ways = {}, {}
    for gi, g in enumerate(groups):
        floor = min(g.width, max(1, int(cfg.min_channels)))
        ceiling = g.width if share_cap is None else int(math.floor(share_cap * g.width + 1e-9))
        caps[gi] = max(0, min(g.width - floor, ceiling))
        ways[gi] = max(0, g.width - int(p["targets"].get(g.root, g.width)))
    choose = lambda counts: {gi: np.sort(order[gi][:n]) for gi, n in counts.items() if n > 0}  # noqa: E731
    if cfg.per_round_unit == "params":
        removed = lambda counts: total - cost.params_after(choose(counts))  # noqa: E731
        goal = amount * total
    else:
        removed = lambda counts: sum(counts.values())  # noqa: E731
        goal = amount * sum(g.width for g in groups)
    share = spread(removed, goal, ways, caps)
    counts = counts_at(share, ways, caps)
    chosen = choose(counts)
    ops = compile_ops(groups, chosen)
    untouched = [{"name": g["root"], "rule": g["rule"], "reason": g["reason"]}
                 for g in pruner.groups() if g["reason"] and g["width"] > 0]
    widths_before = {n: (type(m).__name__, layers.widths(m)) for n, m in model.named_modules() if layers.supported(m)}
    ref = Reference(model, ops, pruner.inputs) if ops else None
    max_diff, macs_before = 0.0, (ref.macs if ref is not None else None)
    macs_after = macs_before
    if ops:
        undo = apply_ops(model, ops)
        try:
            max_diff, where, macs_after = ref.compare(model)
            if not max_diff <= LIMIT:
                max_diff, where = confirm_in_float64(model, ops, pruner.inputs, undo, max_diff, where)
        except BaseException:
            undo()
            raise
    params_after = count_params(model)
    achieved = (1 - params_after / total) if cfg.per_round_unit == "params" else (
        sum(counts.values()) / max(1, sum(g.width for g in groups)))
    reached = abs(achieved - amount) <= 0.01 * amount
    note = "" if reached else (f"the selected per-group targets allow {achieved:.4f} of the {cfg.per_round_unit} "
                               f"this round (asked {amount:.4f})")
    rows = []
    for n, (t, b) in widths_before.items():
        a = layers.widths(model.get_submodule(n))
        rows.append({"name": n, "type": t, "before": b[0], "after": a[0], "in_before": b[1], "in_after": a[1]})
    groups_info = {g.root: {"before": g.width, "after": g.width - counts.get(gi, 0), "target": p["targets"][g.root]}
                   for gi, g in enumerate(groups) if g.root in p["targets"]}
    info = {"cut": {"amount": amount, "unit": cfg.per_round_unit, "achieved": float(achieved), "reached": reached,
                    "note": note, "params_before": total, "params_after": params_after, "macs_before": macs_before,
                    "macs_after": macs_after, "max_diff": max_diff},
            "layers": rows,
            "untouched": untouched,
            "auto_ratios": {"share_of_way": share, "groups": groups_info}}
    history = list(state.history) + ([{"ops": ops}] if ops else [])
    extra = dict(state.extra, auto_ratios=summary(p))
    return state.replace(history=history, extra=extra), info


def summary(p: dict) -> dict:
    """What a run records of its selection (state.json, metrics.json): the bound, and per group its ratio,
    dense width and target width."""
    return {"target_wsr": p["target_wsr"], "bound": p["bound"], "reached": p["reached"], "metric": p["metric"],
            "groups": {r: {"ratio": p["ratios"][r], "width": p["dense_widths"][r], "target": p["targets"][r]}
                       for r in p["targets"]}}
