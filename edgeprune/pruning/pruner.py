"""ChannelPruner: importance -> groups -> one exact cut -> physical removal -> PITFALL 10 self-check."""

from __future__ import annotations

import copy
from typing import Iterable, Sequence

import torch
import torch.nn as nn

from edgeprune.counting import Counts, count, count_params
from edgeprune.errors import EdgepruneError
from edgeprune.pruning import carry, graph, groups as groups_mod, importance, layers, probe
from edgeprune.pruning.importance import NORMALIZERS
from edgeprune.kinds import kind_of, register
from edgeprune.pruning.options import check_numbers, choice, copy_history, resolve_layers
from edgeprune.pruning.replay import apply_ops, compile_ops
from edgeprune.pruning.report import PruneReport
from edgeprune.pruning.search import TOLERANCE, CostModel, Ranking, find_cut
from edgeprune.pruning.verify import LIMIT, Reference


class ChannelPruner:
    """Physically remove channels of `model` in place (see docs/CONTRACTS.md and the README).

    importance: "bn_scale" (|gamma|, groups without BatchNorm are not candidates), "l1", "l2" (filter norms),
    "bn_scale+l1" (|gamma| where there is BatchNorm, L1 elsewhere, each family scaled by its median).
    normalizer: l1/l2 only: "mean" (each group's norms over their mean, the default) or "none" (raw norms).
    max_step_share: at most this share of a group's channels goes in one prune() (None: no ceiling).
    residual: "couple" cuts residual-coupled groups jointly; "skip" leaves every residual-tied channel alone.
    ignored_layers: modules or qualified names (containers: everything inside) whose own output channels are kept,
    as in torch-pruning: their inputs still shrink when the layer feeding them is cut (`ignored_layers=[model.fc]`).
    frozen_layers: modules or names no cut may touch at all: every group reaching one of them is held.
    custom_kinds: {layer class: LayerKind} for a user's own layers (edgeprune.kinds; registered process-wide,
    so that counting, checkpoints and masks know them too).
    min_channels: per-layer floor (>= 1: no layer is deleted whole); round_to: kept widths multiples of N.
    scope: "global" (one ranking over all groups) or "layerwise" (the fraction from every group).
    verify: after each prune compare every touched layer with the zeroed unpruned model; raise above 1e-5 relative.
    The graph is traced and probed once; later steps carry the groups over (carry.py) unless the model's
    modules or widths were changed outside the pruner, which triggers a fresh analysis.
    """

    def __init__(self, model: nn.Module, example_inputs, importance: str = "bn_scale", residual: str = "couple",
                 ignored_layers: Iterable = (), min_channels: int = 1, round_to: int | None = None,
                 scope: str = "global", verify: bool = True, normalizer: str = "mean",
                 max_step_share: float | None = None, frozen_layers: Iterable = (), custom_kinds: dict | None = None):
        if not isinstance(model, nn.Module):
            raise EdgepruneError(f"ChannelPruner needs an nn.Module, got {type(model).__name__}")
        choice("importance", importance, importance_methods())
        choice("residual", residual, ("couple", "skip"))
        choice("scope", scope, ("global", "layerwise"))
        choice("normalizer", normalizer, NORMALIZERS)
        check_numbers(min_channels, round_to, max_step_share)
        self.model = model
        self.inputs = (example_inputs,) if isinstance(example_inputs, torch.Tensor) else tuple(example_inputs)
        self.importance, self.residual, self.scope = importance, residual, scope
        self.min_channels, self.round_to, self.verify = min_channels, round_to, verify
        self.normalizer, self.max_step_share = normalizer, max_step_share
        self.ignored = resolve_layers(model, ignored_layers)
        self.frozen = resolve_layers(model, frozen_layers, "frozen_layers")
        for layer_type, kind in (custom_kinds or {}).items():
            register(layer_type, kind)
        for name, m in model.named_modules():
            kind = kind_of(m)
            if kind is not None and kind.refuse_model and kind.refuse(m):
                raise EdgepruneError(f"layer {name!r} ({type(m).__name__}): {kind.refuse(m)}")
        self.history: list[dict] = []
        self._verdicts: dict[str, str | None] = {}  # root name -> probe result, kept across steps
        self._macs: int | None = None  # MACs of the model as it was at self._signature
        self._signature: tuple | None = None
        self._memo: dict = {}  # id(group) -> importance scores, within one step
        self._groups = self._analyse()

    # -- analysis -------------------------------------------------------------------------------------
    def _analyse(self) -> list[groups_mod.Group]:
        dg, opaque = graph.build(self.model, self.inputs)
        found = groups_mod.collect(dg, self.model, self.ignored, opaque, self.frozen)
        graph.release(dg)
        del dg, opaque
        unknown = [gi for gi, g in enumerate(found) if g.reason is None and g.root not in self._verdicts]
        members = [gi for gi in unknown if found[gi].width > 1]
        bad = {}
        if members:
            first, ref = probe.trial(self.model, found, members, self.inputs)
            self._macs = ref.macs  # the trial's reference run is the unpruned model: its MACs come free
            bad = probe.find_bad(self.model, found, members, self.inputs, first=first)
        else:
            self._macs = None
        self._signature = carry.signature(self.model)
        for gi in unknown:
            self._verdicts[found[gi].root] = bad.get(gi)
        for g in found:
            if g.reason is None and self._verdicts.get(g.root):
                g.rule, g.reason = "probe", self._verdicts[g.root]
        return found

    def _current(self) -> list[groups_mod.Group]:
        """The groups of the model as it is now: carried over from the last step, or analysed afresh."""
        if self._groups is not None and carry.signature(self.model) != self._signature:
            self._groups = None  # modules or widths changed outside the pruner
        if self._groups is None:
            self._groups = self._analyse()
        return self._groups

    def groups(self) -> list[dict]:
        """The current groups: root layer, width, coupled, and why a group is not a candidate (None if it is)
        with the rule that holds it (`rule`: ignored, frozen, output, unsupported, opaque, range, probe, single,
        residual, importance)."""
        self._current()
        self._memo = {}
        return [{"root": g.root, "width": g.width, "coupled": g.coupled, **self._held(g)} for g in self._groups]

    def candidate_groups(self) -> list[groups_mod.Group]:
        """The current groups that a step may cut (none held by a rule), as the pruner's own Group objects:
        for tools that cut or time one group alone (edgeprune.latency)."""
        self._current()
        self._memo = {}
        return [g for g in self._groups if self._held(g)["reason"] is None]

    def _held(self, g: groups_mod.Group) -> dict:
        """{"rule": ..., "reason": ...} of what keeps `g` from being cut (both None for a candidate)."""
        if g.reason:
            return {"rule": g.rule, "reason": g.reason}
        if g.width <= 1:
            return {"rule": "single", "reason": "a single channel (never deleted whole)"}
        if self.residual == "skip" and g.coupled:
            return {"rule": "residual", "reason": "residual-coupled (residual='skip')"}
        if self._scores(g) is None:
            return {"rule": "importance",
                    "reason": "no BatchNorm to rank under importance='bn_scale' (use 'bn_scale+l1', 'l1' or 'l2')"}
        return {"rule": None, "reason": None}

    def _scores(self, g: groups_mod.Group):
        """importance.scores of `g`, computed once per step (the weights do not change within one)."""
        if id(g) not in self._memo:
            self._memo[id(g)] = importance.scores(g, self.importance)
        return self._memo[id(g)]

    # -- one step -------------------------------------------------------------------------------------
    def prune(self, amount: float, unit: str = "params") -> PruneReport:
        """Remove `amount` (0 < amount < 1) of the current params or of the candidate channels, in place."""
        if not isinstance(amount, (int, float)) or not 0 < float(amount) < 1:
            raise EdgepruneError(f"amount must be a fraction in (0, 1), got {amount!r}")
        choice("unit", unit, ("params", "channels"))
        found = self._current()
        self._memo = {}
        untouched, candidates = [], {}
        for gi, g in enumerate(found):
            held = self._held(g)
            if held["reason"]:
                if g.width > 0:
                    untouched.append({"name": g.root, **held})
            else:
                candidates[gi] = g
        # ranked together: bn_scale+l1 standardises each family over all candidate groups
        scores = importance.rank(candidates, self.importance, self.normalizer)
        params_before = count_params(self.model)
        cost = CostModel([found[gi] for gi in range(len(found))], params_before)
        ranking = Ranking(found, scores, self.min_channels, self.round_to, self.max_step_share)
        cut = find_cut(ranking, cost, float(amount), unit, self.scope)
        ops = compile_ops(found, cut.chosen)
        widths_before = _widths(self.model)
        ref = Reference(self.model, ops, self.inputs) if self.verify and ops else None
        macs_before = ref.macs if ref is not None else self._macs_now()
        undo = apply_ops(self.model, ops)
        max_diff = 0.0 if self.verify else None
        macs_after = macs_before
        try:
            if ref is not None:
                max_diff, where, macs_after = ref.compare(self.model)
                if not max_diff <= LIMIT:
                    max_diff, where = confirm_in_float64(self.model, ops, self.inputs, undo, max_diff, where)
            elif ops:
                macs_after = count(self.model, self.inputs).macs
            params_after = count_params(self.model)
            if params_after != cut.params_after:
                raise EdgepruneError(f"internal: expected {cut.params_after} params after the cut, found {params_after}")
        except BaseException:
            undo()
            raise
        if ops:
            self.history.append({"ops": ops})
            self._groups = carry.restrict(self.model, found, cut.chosen, ops)  # None: analyse afresh next time
        self._signature, self._macs = carry.signature(self.model), macs_after
        before, after = Counts(params_before, macs_before), Counts(params_after, macs_after)
        return self._report(float(amount), unit, before, after, cut, ranking, untouched, widths_before, max_diff)

    def _report(self, amount, unit, before, after, cut, ranking, untouched, widths_before, max_diff) -> PruneReport:
        if unit == "params":
            achieved = 1 - after.params / before.params
            reached = abs(achieved - amount) <= TOLERANCE * amount
        else:
            removed = sum(len(c) for c in cut.chosen.values())
            achieved = removed / ranking.total_channels if ranking.total_channels else 0.0
            reached = cut.limited is None
        notes = []
        if cut.limited:
            notes.append(f"could not reach {amount} of {unit}: {cut.limited}")
        elif not reached:
            notes.append(f"channel granularity: removed {achieved:.4f} of {unit}, asked {amount}")
        if cut.ties:
            notes.append(f"{cut.ties} channels tie at the cut score; among them the cut follows channel order, "
                         f"not importance (untrained BatchNorm gammas?)")
        widths_after = _widths(self.model)
        rows = [{"name": n, "type": t, "before": b[0], "after": widths_after[n][1][0],
                 "in_before": b[1], "in_after": widths_after[n][1][1]}
                for n, (t, b) in widths_before.items()]
        return PruneReport(amount=amount, unit=unit, achieved=float(achieved), reached=bool(reached and not cut.limited),
                           note="; ".join(notes), params_before=before.params, params_after=after.params,
                           macs_before=before.macs, macs_after=after.macs, max_diff=max_diff, layers=rows,
                           untouched=untouched, history=copy_history(self.history), importance=self.importance,
                           scope=self.scope, ties=int(cut.ties))

    def _macs_now(self) -> int:
        if self._macs is None or carry.signature(self.model) != self._signature:
            self._macs, self._signature = count(self.model, self.inputs).macs, carry.signature(self.model)
        return self._macs


def confirm_in_float64(model: nn.Module, ops, inputs, undo, diff: float, where):
    """A float32 mismatch is re-measured in float64 on a copy (rounding, or a real error?); raise if it stays.

    On success the cut stays applied to `model`; on failure `model` is put back and EdgepruneError raised.
    """
    floats = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if diff != float("inf") and floats and floats != {torch.float64}:
        undo()
        wide = copy.deepcopy(model).double()
        wide_inputs = tuple(x.double() if torch.is_tensor(x) and x.is_floating_point() else x for x in inputs)
        ref = Reference(wide, ops, wide_inputs)
        apply_ops(wide, ops)
        diff, where, _ = ref.compare(wide)
        if diff <= LIMIT:
            apply_ops(model, ops)
            return diff, where
    at = f" at layer {where!r}" if where else " at the model output"
    raise EdgepruneError(f"verification failed{at}: the pruned model differs from the zeroed reference by "
                         f"{diff:.2e} relative to that layer's scale (> {LIMIT:g}); the model was restored")


def importance_methods() -> Sequence[str]:
    return importance.METHODS


def _widths(model: nn.Module) -> dict:
    return {n: (type(m).__name__, layers.widths(m)) for n, m in model.named_modules() if layers.supported(m)}
