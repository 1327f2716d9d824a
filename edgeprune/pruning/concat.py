"""Correct channel offsets at concatenations, including with raw model inputs (PITFALLS.md item 3).

A raw input (FBank frames in early fusion) has no node in the traced graph, so torch-pruning numbers the
traced branch from offset 0 and removes columns of the raw input instead; a concat on the last axis of a
3-D tensor (B, T, F) is not mapped at all. Offsets here come from the recorded input sizes and the
position of each traced branch among the concat's inputs.
"""

from __future__ import annotations

import torch
import torch_pruning as tp
from torch_pruning.dependency.index_mapping import _ConcatIndexMapping

from edgeprune.pruning import layers

_CATS = {torch.cat, torch.concat, torch.concatenate}



def feature_axis(node, ndim: int) -> int:
    """The channel axis the first layer downstream of `node` reads (1 for conv/BN, last for linear/LSTM)."""
    seen, stack = set(), list(node.outputs)
    while stack:
        n = stack.pop(0)
        if n in seen:
            continue
        seen.add(n)
        last = layers.channels_last(n.module)
        if last is not None:
            return ndim - 1 if last else 1
        stack.extend(n.outputs)
    return 1


def fix(dg, recorder, opaque: dict) -> None:
    """Install offset mappings on every concat node (in place); unmappable ones go into `opaque`."""
    for node in list(dg.module2node.values()):
        if node.type != tp.ops.OPTYPE.CONCAT:
            continue
        rec = recorder.ops.get(node.grad_fn)
        if rec is None:
            continue  # a concat inside a layer's kernel (bidirectional LSTM): torch-pruning's map, checked by the probe
        if rec.func not in _CATS or not rec.in_shapes:
            opaque[node] = "channels pass through a concatenation edgeprune cannot read"
            continue
        shapes = rec.in_shapes[0]
        ndim = len(shapes[0])
        dim = rec.kwargs.get("dim", rec.args[1] if len(rec.args) > 1 else 0) % ndim
        node.enable_index_mapping = False  # keep torch-pruning from rewriting what is set here
        branches = [fn for fn, _ in node.grad_fn.next_functions]
        for in_node in node.inputs:
            positions = [p for p, fn in enumerate(branches) if fn is in_node.grad_fn]
            if len(positions) != 1:
                opaque[node] = "channels pass through a concatenation that uses one tensor twice"
                break
            p = positions[0]
            if dim == feature_axis(node, ndim):
                offsets = [sum(s[dim] for s in shapes[:p]), sum(s[dim] for s in shapes[: p + 1])]
                back, forward = _ConcatIndexMapping(offsets, reverse=True), _ConcatIndexMapping(offsets, reverse=False)
            else:  # concatenated along time/space: channel c of every input is channel c of the output
                back = forward = None
            for dep in node.dependencies:
                if dep.target is in_node:
                    dep.index_mapping[1] = back
            for dep in in_node.dependencies:
                if dep.target is node:
                    dep.index_mapping[1] = forward
