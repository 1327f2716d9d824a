"""Channel removals as data: apply a list of layer cuts, and replay a pruning history on a fresh model.

A history is a JSON list of steps, each {"ops": [{"layer": name, "axis": "out"|"in", "idxs": [...]}]},
with indices in the layer's coordinates *before that step*. Replaying needs no dependency graph.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn as nn

from edgeprune.errors import EdgepruneError
from edgeprune.pruning import layers


def compile_ops(groups, chosen) -> list[dict]:
    """Merge the per-group choices into one cut per (layer, axis), in original indices."""
    merged: dict[tuple[str, str], set[int]] = {}
    for gi, roots in chosen.items():
        if len(roots) == 0:
            continue
        for it in groups[gi].items:
            merged.setdefault((it.name, it.kind), set()).update(it.select(roots))
    return [{"layer": n, "axis": a, "idxs": sorted(v)} for (n, a), v in sorted(merged.items()) if v]


def _module(model: nn.Module, name: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError as exc:
        raise EdgepruneError(f"history names layer {name!r}, which this model does not have") from exc


_SCALARS = (int, float, bool, str, tuple, type(None))


def _snapshot(m: nn.Module) -> dict:
    """What a channel cut replaces in `m`: its parameter/buffer slots, the LSTM weight list, width attributes.

    Cutting builds new tensors (torch-pruning's and our LSTM pruner never write into the old ones), so
    keeping references is enough to undo it.
    """
    state = {}
    for k, v in m.__dict__.items():
        if k in ("_parameters", "_buffers"):
            state[k] = dict(v)
        elif k == "_flat_weights":
            state[k] = list(v)
        elif isinstance(v, _SCALARS):
            state[k] = v
    return state


def _put_back(m: nn.Module, state: dict) -> None:
    for k, v in state.items():
        if k in ("_parameters", "_buffers"):
            m.__dict__[k].clear()
            m.__dict__[k].update(v)
        else:
            m.__dict__[k] = v


def apply_ops(model: nn.Module, ops: Sequence[dict]) -> Callable[[], None]:
    """Remove the listed channels in place (every op validated before any is applied).

    Returns `undo()`, which puts every touched layer back as it was (the same parameter objects). If a cut
    fails part-way, the layers are put back before the error propagates.
    """
    resolved = []
    for op in ops:
        m = _module(model, op["layer"])
        if not layers.supported(m):
            raise EdgepruneError(f"history cuts layer {op['layer']!r} ({type(m).__name__}), which cannot be pruned")
        out, inp = layers.widths(m)
        limit = out if op["axis"] == "out" else inp
        idxs = [int(i) for i in op["idxs"]]
        if any(i < 0 or i >= limit for i in idxs) or len(set(idxs)) >= limit:
            raise EdgepruneError(f"history cut of layer {op['layer']!r} ({op['axis']}) does not fit its width {limit}")
        resolved.append((m, op["axis"], idxs))
    saved = {id(m): (m, _snapshot(m)) for m, _, _ in resolved}

    def undo() -> None:
        for m, state in saved.values():
            _put_back(m, state)

    try:
        for m, axis, idxs in resolved:
            pruner = layers.pruner_of(m)
            fn = pruner.prune_out_channels if axis == "out" else pruner.prune_in_channels
            with torch.no_grad():
                fn(m, idxs)
    except BaseException:
        undo()
        raise
    return undo


def replay(model: nn.Module, example_inputs, history: Sequence[dict]) -> nn.Module:
    """Apply `history` (PruneReport.history) to another instance of the same architecture, in place.

    The example inputs are run once at the end to check that the replayed model works.
    """
    if not isinstance(history, (list, tuple)) or any(not isinstance(s, dict) or "ops" not in s for s in history):
        raise EdgepruneError("history must be a list of {'ops': [...]} steps (PruneReport.history)")
    for step in history:
        apply_ops(model, step["ops"])
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*example_inputs)
    except Exception as exc:
        raise EdgepruneError(f"replayed model fails on the example inputs: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    finally:
        model.train(was_training)
    return model
