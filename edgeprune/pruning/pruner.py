"""ChannelPruner: importance -> groups -> one exact cut -> physical removal -> PITFALL 10 self-check."""

from __future__ import annotations

import copy
from typing import Iterable, Sequence

import torch
import torch.nn as nn

from edgeprune.counting import count
from edgeprune.errors import EdgepruneError
from edgeprune.pruning import graph, groups as groups_mod, importance, layers, probe
from edgeprune.pruning.importance import NORMALIZERS
from edgeprune.pruning.lstm import check_supported
from edgeprune.pruning.replay import apply_ops, compile_ops
from edgeprune.pruning.report import PruneReport
from edgeprune.pruning.search import TOLERANCE, CostModel, Ranking, find_cut
from edgeprune.pruning.verify import LIMIT, difference, reference_outputs, run64


def _restore(model: nn.Module, backup: nn.Module) -> None:
    """Put every layer of `model` back to its state in `backup` (same module tree), keeping object identity."""
    saved = dict(backup.named_modules())
    for name, m in model.named_modules():
        state = {k: v for k, v in saved[name].__dict__.items() if k != "_modules"}
        m.__dict__.update(state)


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
    verify: after each prune compare against the zeroed unpruned model; raise above 1e-5 relative.
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
        self._groups = self._analyse()

    # -- analysis -------------------------------------------------------------------------------------
    def _analyse(self) -> list[groups_mod.Group]:
        dg, opaque = graph.build(self.model, self.inputs)
        found = groups_mod.collect(dg, self.model, self.ignored, opaque)
        unknown = [gi for gi, g in enumerate(found) if g.reason is None and g.root not in self._verdicts]
        bad = probe.find_bad(self.model, found, unknown, self.inputs)
        for gi in unknown:
            self._verdicts[found[gi].root] = bad.get(gi)
        for g in found:
            if g.reason is None and self._verdicts.get(g.root):
                g.reason = self._verdicts[g.root]
        return found

    def groups(self) -> list[dict]:
        """The current groups: root layer, width, coupled, and why a group is not a candidate (None if it is)."""
        if self._groups is None:
            self._groups = self._analyse()
        return [{"root": g.root, "width": g.width, "coupled": g.coupled, "reason": self._why_not(g)}
                for g in self._groups]

    def _why_not(self, g: groups_mod.Group) -> str | None:
        if g.reason:
            return g.reason
        if g.width <= 1:
            return "a single channel (never deleted whole)"
        if self.residual == "skip" and g.coupled:
            return "residual-coupled (residual='skip')"
        if importance.scores(g, self.importance) is None:
            return "no BatchNorm to rank under importance='bn_scale' (use 'bn_scale+l1', 'l1' or 'l2')"
        return None

    # -- one step -------------------------------------------------------------------------------------
    def prune(self, amount: float, unit: str = "params") -> PruneReport:
        """Remove `amount` (0 < amount < 1) of the current params or of the candidate channels, in place."""
        if not isinstance(amount, (int, float)) or not 0 < float(amount) < 1:
            raise EdgepruneError(f"amount must be a fraction in (0, 1), got {amount!r}")
        _choice("unit", unit, ("params", "channels"))
        if self._groups is None:
            self._groups = self._analyse()
        found, self._groups = self._groups, None  # the graph is rebuilt for the next step
        before = count(self.model, self.inputs)
        untouched, candidates = [], {}
        for gi, g in enumerate(found):
            why = self._why_not(g)
            if why:
                if g.width > 0:
                    untouched.append({"name": g.root, "reason": why})
            else:
                candidates[gi] = g
        scores = importance.rank(candidates, self.importance, self.normalizer)
        cost = CostModel([found[gi] for gi in range(len(found))], before.params)
        ranking = Ranking(found, scores, self.min_channels, self.round_to, self.max_step_share)
        cut = find_cut(ranking, cost, float(amount), unit, self.scope)
        ops = compile_ops(found, cut.chosen)
        widths_before = _widths(self.model)
        backup = copy.deepcopy(self.model) if self.verify else None
        apply_ops(self.model, ops)
        max_diff = None
        if self.verify and ops:
            max_diff = difference(reference_outputs(backup, ops, self.inputs), run64(self.model, self.inputs))
            if not max_diff <= LIMIT:
                _restore(self.model, backup)
                raise EdgepruneError(f"verification failed: pruned outputs differ from the zeroed reference by "
                                     f"{max_diff:.2e} relative (> {LIMIT:g}); the model was restored")
        elif self.verify:
            max_diff = 0.0
        after = count(self.model, self.inputs)
        if after.params != cut.params_after:
            raise EdgepruneError(f"internal: expected {cut.params_after} params after the cut, found {after.params}")
        if ops:
            self.history.append({"ops": ops})
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
                           untouched=untouched, history=copy.deepcopy(self.history), importance=self.importance,
                           scope=self.scope, ties=int(cut.ties))


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
