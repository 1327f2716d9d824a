"""Parameter and MAC counting (`edgeprune.count`), with recurrent layers counted per time step and sample.

torch-pruning's count_ops_and_params multiplies LSTM MACs by T x directions instead of batch x T
(PITFALLS.md item 4), so this counts with our own forward hooks, each layer as its kind (edgeprune.kinds) says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import torch
import torch.nn as nn

from edgeprune.errors import EdgepruneError
from edgeprune.kinds import LayerKind, kind_of

@dataclass(frozen=True)
class Counts:
    """Parameters (all of the model) and multiply-accumulates of one forward pass of the example inputs."""

    params: int
    macs: int

    def to_dict(self) -> dict:
        return asdict(self)


def count_params(model: nn.Module) -> int:
    """Every parameter of the model, shared ones once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def counted(m: nn.Module) -> bool:
    """Whether `layer_macs` counts this layer (its kind counts MACs: conv, linear, LSTM/GRU/RNN, a user's kind)."""
    kind = kind_of(m)
    return kind is not None and type(kind).macs is not LayerKind.macs


def layer_macs(m: nn.Module, inp, out) -> int:
    """MACs of one call of layer `m` (a forward hook's arguments), as its kind counts them; 0 for others."""
    kind = kind_of(m)
    return int(kind.macs(m, inp, out) or 0) if kind is not None else 0


def count(model: nn.Module, example_inputs: Sequence[torch.Tensor] | torch.Tensor) -> Counts:
    """Count params and MACs of `model` on `example_inputs` (batch included: pass batch 1 for per-sample).

    MACs cover convolutions (any dimension, grouped and depthwise), linear layers and
    LSTM/GRU/RNN layers (gates x hidden x (input + hidden) per layer, direction, sample and time step).
    Element-wise work (BatchNorm, activations, pooling, gate non-linearities) is not counted.
    """
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    macs = [0]

    def hook(m, inp, out):
        macs[0] += layer_macs(m, inp, out)

    handles = [m.register_forward_hook(hook) for m in model.modules() if counted(m)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*example_inputs)
    except Exception as exc:  # a model that cannot run its example inputs is bad input
        raise EdgepruneError(f"count: the model failed on the example inputs: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return Counts(params=count_params(model), macs=int(macs[0]))
