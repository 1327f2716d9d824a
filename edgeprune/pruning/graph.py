"""Build torch-pruning's dependency graph with edgeprune's fixes (the layer kinds' pruners, concat and reshape maps)."""

from __future__ import annotations

import warnings

import torch
import torch.nn as nn
import torch_pruning as tp

from edgeprune.errors import EdgepruneError
from edgeprune.pruning import concat, layers, reshape
from edgeprune.pruning.recorder import ShapeRecorder


class _Bridge(torch.autograd.Function):
    """One autograd node from a layer's input to its output. Autograd decomposes some kernels into hundreds of
    element-wise nodes (a GRU on CPU), which torch-pruning would follow as if channels passed straight through;
    during the trace each customized layer is this one node, as the fused LSTM kernel already is."""

    @staticmethod
    def forward(ctx, x, out, anchor):
        return out.clone()

    @staticmethod
    def backward(ctx, grad):
        return None, None, None


def _bridge(m: nn.Module, args, out):
    x = args[0] if args else None
    anchor = next(m.parameters(), None)
    if not torch.is_tensor(x) or anchor is None:
        return None
    first = out[0] if isinstance(out, tuple) else out
    if not torch.is_tensor(first):
        return None
    bridged = _Bridge.apply(x, first.detach(), anchor)
    return (bridged, *out[1:]) if isinstance(out, tuple) else bridged


def build(model: nn.Module, inputs: tuple) -> tuple[tp.DependencyGraph, dict]:
    """Trace `model` on `inputs`; return the graph and {node: description} of nodes channels cannot pass."""
    recorder = ShapeRecorder()

    def forward(m, args):
        with recorder:
            out = m(*args)
        recorder.outputs = out
        return out

    was_training = model.training
    custom = layers.customized(model)
    bridges = [m.register_forward_hook(_bridge) for m in model.modules() if type(m) in custom]
    try:
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dg = tp.DependencyGraph().build_dependency(
                model, example_inputs=inputs, forward_fn=forward, customized_pruners=custom, verbose=False)
    except EdgepruneError:
        raise
    except Exception as exc:
        raise EdgepruneError(f"cannot trace the model on the example inputs: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    finally:
        for h in bridges:
            h.remove()
        model.train(was_training)  # torch-pruning leaves the model in eval mode
    opaque: dict = {}
    dg.edgeprune_outputs = {n for n in dg.module2node.values() if n.grad_fn in recorder.output_fns()}
    concat.fix(dg, recorder, opaque)
    reshape.fix(dg, recorder, opaque)
    return dg, opaque


def release(dg: tp.DependencyGraph) -> None:
    """Break the graph's reference cycles so it is freed at once, not by a later full garbage collection
    (which then lands inside a pruning step: 0.1-0.4 s on the zoo)."""
    for node in dg.module2node.values():
        node.inputs.clear()
        node.outputs.clear()
        node.dependencies.clear()
    dg.module2node.clear()
    dg.__dict__.clear()
