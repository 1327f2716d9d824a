"""Parameter and MAC counting (`edgeprune.count`), with recurrent layers counted per time step and sample.

torch-pruning's count_ops_and_params multiplies LSTM MACs by T x directions instead of batch x T
(PITFALLS.md item 4), so this counts with our own forward hooks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import torch
import torch.nn as nn

from edgeprune.errors import EdgepruneError

_GATES = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}


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


def _conv_macs(m: nn.modules.conv._ConvNd, out: torch.Tensor) -> int:
    per_output = (m.in_channels // m.groups) * int(torch.tensor(m.kernel_size).prod())
    return out.numel() * per_output


def _linear_macs(m: nn.Linear, out: torch.Tensor) -> int:
    return (out.numel() // m.out_features) * m.in_features * m.out_features


def _rnn_macs(m: nn.RNNBase, inp, out) -> int:
    x = inp[0]
    if isinstance(x, nn.utils.rnn.PackedSequence):
        steps = int(x.data.shape[0])  # every (sample, time) pair once
    else:
        steps = int(x.shape[0] * x.shape[1]) if x.dim() == 3 else int(x.shape[0])
    gates = _GATES[type(m)]
    dirs = 2 if m.bidirectional else 1
    hidden = m.hidden_size
    real_h = m.proj_size if getattr(m, "proj_size", 0) else hidden
    macs = 0
    for k in range(m.num_layers):
        width_in = m.input_size if k == 0 else real_h * dirs
        per_step = gates * hidden * (width_in + real_h)
        if real_h != hidden:
            per_step += hidden * real_h
        macs += dirs * per_step
    return steps * macs


def counted(m: nn.Module) -> bool:
    """Whether `layer_macs` counts this layer (conv, linear, LSTM/GRU/RNN)."""
    return isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)) or type(m) in _GATES


def layer_macs(m: nn.Module, inp, out) -> int:
    """MACs of one call of layer `m` (a forward hook's arguments); 0 for layers not counted."""
    if isinstance(m, nn.modules.conv._ConvNd):
        return _conv_macs(m, out)
    if isinstance(m, nn.Linear):
        return _linear_macs(m, out)
    if type(m) in _GATES:
        return _rnn_macs(m, inp, out)
    return 0


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
