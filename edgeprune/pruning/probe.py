"""Trial cuts that find groups the dependency graph maps wrongly, before anything real is pruned.

One channel of every candidate group is cut in the model itself and checked layer by layer against the
zeroed reference (verify.py) in one batch, then undone; on a mismatch the batch is bisected down to the
offending groups, which are then left untouched. This is what keeps an op the graph cannot see through
from being pruned wrong. It runs once per graph analysis (the pruner keeps the verdicts).
"""

from __future__ import annotations

import numpy as np
import torch.nn as nn

from edgeprune.pruning.replay import apply_ops, compile_ops
from edgeprune.pruning.verify import LIMIT, Reference


def trial(model: nn.Module, groups, members: list[int], inputs) -> tuple[str | None, Reference | None]:
    """Cut the middle channel of every group in `members`, compare, undo: (reason if wrong, the reference run)."""
    chosen = {gi: np.array([groups[gi].width // 2]) for gi in members}
    ops = compile_ops(groups, chosen)
    ref = Reference(model, ops, inputs)
    try:
        undo = apply_ops(model, ops)
    except Exception as exc:  # the cut itself breaks the model: that group is refused
        return _failed(exc), ref
    try:
        diff, where, _ = ref.compare(model)
    except Exception as exc:
        return _failed(exc), ref
    finally:
        undo()
    if diff > LIMIT:
        at = f" at {where!r}" if where else ""
        return (f"a trial cut changes the outputs{at} (relative difference {diff:.2e}): "
                f"the graph misreads this layer's consumers"), ref
    return None, ref


def _failed(exc: Exception) -> str:
    return f"a trial cut fails ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"


_UNTRIED = object()


def find_bad(model: nn.Module, groups, members: list[int], inputs, first=_UNTRIED) -> dict[int, str]:
    """Group index -> reason, for the groups among `members` whose trial cut is wrong.

    `first`, when given, is the verdict (reason or None) of a trial of exactly these `members` already run.
    """
    members = [gi for gi in members if groups[gi].width > 1]
    if not members:
        return {}
    reason = trial(model, groups, members, inputs)[0] if first is _UNTRIED else first
    if reason is None:
        return {}
    if len(members) == 1:
        return {members[0]: reason}
    half = len(members) // 2
    return {**find_bad(model, groups, members[:half], inputs), **find_bad(model, groups, members[half:], inputs)}
