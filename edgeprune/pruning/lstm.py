"""Gate-block LSTM pruner for torch-pruning (PITFALLS.md item 1).

torch-pruning's LSTMPruner selects weight rows by hidden unit, not by the four gate blocks
(rows g*H + j), asserts num_layers == 1 and crashes on hidden-size pruning; this replaces it.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch_pruning as tp

from edgeprune.errors import EdgepruneError

GATES = 4  # PyTorch row order in weight_ih / weight_hh / biases: input, forget, cell (g), output


def _keep(total: int, idxs: Sequence[int]) -> torch.Tensor:
    drop = set(int(i) for i in idxs)
    return torch.tensor([i for i in range(total) if i not in drop], dtype=torch.long)


def _gate_rows(keep: torch.Tensor, hidden: int) -> torch.Tensor:
    return torch.cat([keep + g * hidden for g in range(GATES)])


def _set(layer: nn.LSTM, name: str, tensor: torch.Tensor) -> None:
    # nn.LSTM.__setattr__ keeps _flat_weights in step with the named parameter.
    setattr(layer, name, nn.Parameter(tensor.contiguous(), requires_grad=getattr(layer, name).requires_grad))


def check_supported(layer: nn.LSTM, name: str = "LSTM") -> None:
    """Raise EdgepruneError for LSTM variants whose pruning is not implemented."""
    if getattr(layer, "proj_size", 0):
        raise EdgepruneError(f"LSTM {name!r} has proj_size={layer.proj_size}: pruning projected LSTMs is not supported")


class LSTMGatePruner(tp.pruner.function.BasePruningFunc):
    """Prunes LSTM hidden units (all four gate blocks, every layer) and input features.

    Hidden units of a bidirectional LSTM are refused (its output interleaves two directions,
    which the dependency graph maps as one block of `hidden_size`); input pruning works for it.
    """

    TARGET_MODULES = (nn.LSTM,)

    def prune_out_channels(self, layer: nn.LSTM, idxs: Sequence[int]) -> nn.LSTM:
        check_supported(layer)
        if layer.bidirectional:
            raise EdgepruneError("hidden units of a bidirectional LSTM cannot be pruned (output holds both directions)")
        hidden = layer.hidden_size
        keep = _keep(hidden, idxs)
        rows = _gate_rows(keep, hidden)
        for k in range(layer.num_layers):
            w_ih = getattr(layer, f"weight_ih_l{k}")[rows]
            if k > 0:  # layer k reads the hidden state of layer k-1
                w_ih = w_ih[:, keep]
            _set(layer, f"weight_ih_l{k}", w_ih)
            _set(layer, f"weight_hh_l{k}", getattr(layer, f"weight_hh_l{k}")[rows][:, keep])
            if layer.bias:
                _set(layer, f"bias_ih_l{k}", getattr(layer, f"bias_ih_l{k}")[rows])
                _set(layer, f"bias_hh_l{k}", getattr(layer, f"bias_hh_l{k}")[rows])
        layer.hidden_size = len(keep)
        return layer

    def prune_in_channels(self, layer: nn.LSTM, idxs: Sequence[int]) -> nn.LSTM:
        check_supported(layer)
        keep = _keep(layer.input_size, idxs)
        for suffix in ("", "_reverse") if layer.bidirectional else ("",):
            name = f"weight_ih_l0{suffix}"
            _set(layer, name, getattr(layer, name)[:, keep])
        layer.input_size = len(keep)
        return layer

    def get_out_channels(self, layer: nn.LSTM) -> int:
        return layer.hidden_size

    def get_in_channels(self, layer: nn.LSTM) -> int:
        return layer.input_size


def zero_hidden_units(layer: nn.LSTM, idxs: Sequence[int]) -> None:
    """Make hidden units `idxs` output exactly 0 (for the PITFALL 10 reference model).

    With the cell-gate (g) rows and biases zero, g = tanh(0) = 0, so c stays 0 from c0 = 0 and
    h = o * tanh(c) = 0: the unit behaves as if it were removed.
    """
    hidden = layer.hidden_size
    rows = torch.tensor([2 * hidden + int(i) for i in idxs], dtype=torch.long)
    with torch.no_grad():
        for k in range(layer.num_layers):
            for suffix in ("", "_reverse") if layer.bidirectional else ("",):
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    name = f"{kind}_l{k}{suffix}"
                    if hasattr(layer, name) and getattr(layer, name) is not None:
                        getattr(layer, name)[rows] = 0.0


def lstm_params(layer: nn.LSTM, hidden: int, inputs: int) -> int:
    """Parameter count of `layer` if it had `hidden` units and `inputs` input features."""
    dirs = 2 if layer.bidirectional else 1
    total = 0
    for k in range(layer.num_layers):
        width_in = inputs if k == 0 else hidden * dirs
        per_dir = 4 * hidden * (width_in + hidden) + (8 * hidden if layer.bias else 0)
        total += dirs * per_dir
    return total
