"""Trial cuts that find groups the dependency graph maps wrongly, before anything real is pruned.

One channel of every candidate group is cut in a copy and checked against the zeroed reference
(verify.py) in one batch; on a mismatch the batch is bisected down to the offending groups, which are
then left untouched. This is what keeps an op the graph cannot see through from being pruned wrong.
"""

from __future__ import annotations

import copy

import numpy as np
import torch.nn as nn

from edgeprune.pruning.replay import apply_ops, compile_ops
from edgeprune.pruning.verify import LIMIT, difference, reference_outputs, run64


def _trial(model: nn.Module, groups, members: list[int], inputs) -> str | None:
    chosen = {gi: np.array([groups[gi].width // 2]) for gi in members}
    ops = compile_ops(groups, chosen)
    trial = copy.deepcopy(model)
    try:
        apply_ops(trial, ops)
        got = run64(trial, inputs)
    except Exception as exc:  # the cut itself breaks the model: that group is refused
        return f"a trial cut fails ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    diff = difference(reference_outputs(model, ops, inputs), got)
    if diff > LIMIT:
        return f"a trial cut changes the outputs (relative difference {diff:.2e}): the graph misreads this layer's consumers"
    return None


def find_bad(model: nn.Module, groups, members: list[int], inputs) -> dict[int, str]:
    """Group index -> reason, for the groups among `members` whose trial cut is wrong."""
    members = [gi for gi in members if groups[gi].width > 1]
    if not members:
        return {}
    reason = _trial(model, groups, members, inputs)
    if reason is None:
        return {}
    if len(members) == 1:
        return {members[0]: reason}
    half = len(members) // 2
    return {**find_bad(model, groups, members[:half], inputs), **find_bad(model, groups, members[half:], inputs)}
