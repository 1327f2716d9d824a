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
from edgeprune.pruning.lstm import check_supported
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
    ignored_layers: modules or qualified names (containers ignore everything inside them).
    min_channels: per-layer floor (>= 1: no layer is deleted whole); round_to: kept widths multiples of N.
    scope: "global" (one ranking over all groups) or "layerwise" (the fraction from every group).
    verify: after each prune compare every touched layer with the zeroed unpruned model; raise above 1e-5 relative.
    The graph is traced and probed once; later steps carry the groups over (carry.py) unless the model's
    modules or widths were changed outside the pruner, which triggers a fresh analysis.
    """

    def __init__(self, model: nn.Module, example_inputs, importance: str = "bn_scale", residual: str = "couple",
                 ignored_layers: Iterable = (), min_channels: int = 1, round_to: int | None = None,
                 scope: str = "global", verify: bool = True, normalizer: str = "mean",
                 max_step_share: float | None = None):
        if not isinstance(model, nn.Module):
            raise EdgepruneError(f"ChannelPruner needs an nn.Module, got {type(model).__name__}")
        _choice("importance", importance, importance_methods())
        _choice("residual", residual, ("couple", "skip"))
        _choice("scope", scope, ("global", "layerwise"))
        _choice("normalizer", normalizer, NORMALIZERS)
        if max_step_share is not None and not (isinstance(max_step_share, (int, float)) and 0 < max_step_share <= 1):
            raise EdgepruneError(f"max_step_share must be None or a fraction in (0, 1], got {max_step_share!r}")
        if not isinstance(min_channels, int) or min_channels < 1:
            raise EdgepruneError(f"min_channels must be an integer >= 1, got {min_channels!r}")
        if round_to is not None and (not isinstance(round_to, int) or round_to < 1):
            raise EdgepruneError(f"round_to must be None or an integer >= 1, got {round_to!r}")
        self.model = model
        self.inputs = (example_inputs,) if isinstance(example_inputs, torch.Tensor) else tuple(example_inputs)
        self.importance, self.residual, self.scope = importance, residual, scope
        self.min_channels, self.round_to, self.verify = min_channels, round_to, verify
        self.normalizer, self.max_step_share = normalizer, max_step_share
        self.ignored = _resolve_ignored(model, ignored_layers)
        for name, m in model.named_modules():
            if isinstance(m, nn.LSTM):
                check_supported(m, name)
        self.history: list[dict] = []
        self._verdicts: dict[str, str | None] = {}  # root name -> probe result, kept across steps
        self._macs: int | None = None  # MACs of the model as it was at self._signature
        self._signature: tuple | None = None
        self._memo: dict = {}  # id(group) -> importance scores, within one step
        self._groups = self._analyse()

    # -- analysis -------------------------------------------------------------------------------------
    def _analyse(self) -> list[groups_mod.Group]:
        dg, opaque = graph.build(self.model, self.inputs)
        found = groups_mod.collect(dg, self.model, self.ignored, opaque)
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
                g.reason = self._verdicts[g.root]
        return found

    def _current(self) -> list[groups_mod.Group]:
        """The groups of the model as it is now: carried over from the last step, or analysed afresh."""
        if self._groups is not None and carry.signature(self.model) != self._signature:
            self._groups = None  # modules or widths changed outside the pruner
        if self._groups is None:
            self._groups = self._analyse()
        return self._groups

    def groups(self) -> list[dict]:
        """The current groups: root layer, width, coupled, and why a group is not a candidate (None if it is)."""
        self._current()
        self._memo = {}
        return [{"root": g.root, "width": g.width, "coupled": g.coupled, "reason": self._why_not(g)}
                for g in self._groups]

    def _why_not(self, g: groups_mod.Group) -> str | None:
        if g.reason:
            return g.reason
        if g.width <= 1:
            return "a single channel (never deleted whole)"
        if self.residual == "skip" and g.coupled:
            return "residual-coupled (residual='skip')"
        if self._scores(g) is None:
            return "no BatchNorm to rank under importance='bn_scale' (use 'bn_scale+l1', 'l1' or 'l2')"
        return None

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
        _choice("unit", unit, ("params", "channels"))
        found = self._current()
        self._memo = {}
        untouched, candidates = [], {}
        for gi, g in enumerate(found):
            why = self._why_not(g)
            if why:
                if g.width > 0:
                    untouched.append({"name": g.root, "reason": why})
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
                    max_diff, where = _confirm(self.model, ops, self.inputs, undo, max_diff, where)
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
                           untouched=untouched, history=_copy_history(self.history), importance=self.importance,
                           scope=self.scope, ties=int(cut.ties))


    def _macs_now(self) -> int:
        if self._macs is None or carry.signature(self.model) != self._signature:
            self._macs, self._signature = count(self.model, self.inputs).macs, carry.signature(self.model)
        return self._macs


def _confirm(model: nn.Module, ops, inputs, undo, diff: float, where):
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


def _copy_history(history: list[dict]) -> list[dict]:
    """A copy the caller may change (cheaper than deepcopy, which grew with every step)."""
    return [{"ops": [dict(op, idxs=list(op["idxs"])) for op in step["ops"]]} for step in history]


def importance_methods() -> Sequence[str]:
    return importance.METHODS


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise EdgepruneError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def _resolve_ignored(model: nn.Module, ignored_layers) -> set[int]:
    if isinstance(ignored_layers, (str, nn.Module)):
        ignored_layers = [ignored_layers]
    ids = set()
    for entry in ignored_layers:
        if isinstance(entry, str):
            try:
                entry = model.get_submodule(entry)
            except AttributeError:
                raise EdgepruneError(f"ignored layer {entry!r} is not a module of the model") from None
        if not isinstance(entry, nn.Module):
            raise EdgepruneError(f"ignored_layers takes modules or qualified names, got {type(entry).__name__}")
        ids.update(id(m) for m in entry.modules())
    return ids


def _widths(model: nn.Module) -> dict:
    return {n: (type(m).__name__, layers.widths(m)) for n, m in model.named_modules() if layers.supported(m)}
