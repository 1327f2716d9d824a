"""The prunable groups of a model and one group cut alone: a copy of the model with one group at a given width.

The cut is ChannelPruner's own: its analysis (dependency graph, probe) finds the groups once, the group's
importance (the pruner's ranking for that group) says which channels go, and the removal is replayed on a
copy with `edgeprune.pruning.replay`. The groups are the pruner's own (`ChannelPruner.candidate_groups`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch.nn as nn

from edgeprune.errors import EdgepruneError


@dataclass(frozen=True)
class GroupInfo:
    """One candidate group: its root layer, width, and the counted layers whose output / input it sets."""

    root: str
    width: int
    out_layers: tuple[str, ...]
    in_layers: tuple[str, ...]
    coupled: bool = False

    def to_dict(self) -> dict:
        return {"root": self.root, "width": self.width, "out_layers": list(self.out_layers),
                "in_layers": list(self.in_layers), "coupled": self.coupled}


class Analysis:
    """The candidate groups of `model` (analysed once) and single-group cuts of copies of it."""

    def __init__(self, model: nn.Module, example_inputs, importance: str = "l1"):
        from edgeprune import ChannelPruner
        from edgeprune.counting import counted

        self.model, self.example, self.importance = model, tuple(example_inputs), importance
        reference = copy.deepcopy(model)  # the pruner's analysis runs forward passes; keep `model` as it is
        self._pruner = ChannelPruner(reference, self.example, importance=importance, verify=False)
        self._groups = {g.root: g for g in self._pruner.candidate_groups()}
        modules = dict(model.named_modules())
        self.groups: dict[str, GroupInfo] = {}
        for root, g in self._groups.items():
            outs = tuple(dict.fromkeys(it.name for it in g.items if it.kind == "out" and counted(modules[it.name])))
            ins = tuple(dict.fromkeys(it.name for it in g.items if it.kind == "in" and counted(modules[it.name])))
            self.groups[root] = GroupInfo(root, int(g.width), outs, ins, bool(g.coupled))

    def check(self, root: str) -> GroupInfo:
        if root not in self.groups:
            known = ", ".join(self.groups) or "none"
            raise EdgepruneError(f"{root!r} is not a prunable group of this model (groups: {known})")
        return self.groups[root]

    def order(self, root: str) -> np.ndarray:
        """The group's root channels, least important first (the pruner's ranking of this group alone)."""
        from edgeprune.pruning import importance

        g = self._groups[root]
        scores = importance.scores(g, self.importance)
        if scores is None:  # e.g. bn_scale on a group without BatchNorm: fall back to filter L1
            scores = importance.scores(g, "l1")
        return np.argsort(np.asarray(scores), kind="stable")

    def ops(self, widths: dict[str, int]) -> list[dict]:
        """The channel removals (replay ops, one step) that leave each group of `widths` at its width."""
        from edgeprune.pruning.replay import compile_ops

        roots, chosen = [], {}
        for root, keep in widths.items():
            info = self.check(root)
            if not (isinstance(keep, (int, np.integer)) and 1 <= keep <= info.width):
                raise EdgepruneError(f"width {keep!r} for group {root!r} must be an integer from 1 to {info.width}")
            chosen[len(roots)] = np.sort(self.order(root)[: info.width - int(keep)])
            roots.append(self._groups[root])
        return compile_ops(roots, chosen)

    def cut(self, widths: dict[str, int], model: nn.Module | None = None) -> nn.Module:
        """A copy of `model` (default: the analysed one) with each group in `widths` cut to its width."""
        from edgeprune.pruning import replay

        ops = self.ops(widths)
        out = copy.deepcopy(self.model if model is None else model)
        if ops:
            replay(out, self.example, [{"ops": ops}])
        return out.eval()


def root_width(model: nn.Module, root: str) -> int:
    """The output width of layer `root` in `model` (conv out channels, linear out features, LSTM hidden)."""
    from edgeprune.pruning.layers import widths

    try:
        return int(widths(model.get_submodule(root))[0])
    except AttributeError:
        raise EdgepruneError(f"the model has no layer {root!r}") from None
