"""The PITFALLS.md item 10 self-check: the pruned model must equal the unpruned one with the removed channels zeroed.

The reference zeroes channels where they are *produced* (filters, biases, BN affine, LSTM cell gate), so it
does not share any index mapping of the consumers with the pruner, and a wrongly mapped consumer shows up.
Both models run in float64, so the figure measures the pruning and not float32 rounding.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from edgeprune.pruning import layers
from edgeprune.pruning.lstm import zero_hidden_units

LIMIT = 1e-5  # relative difference above which a prune is wrong


def zero_channels(model: nn.Module, ops) -> None:
    """Zero, in place, the channels the "out" ops remove, at the layers that produce them."""
    with torch.no_grad():
        for op in ops:
            if op["axis"] != "out":
                continue
            m = model.get_submodule(op["layer"])
            idx = torch.tensor(op["idxs"], dtype=torch.long)
            if isinstance(m, nn.LSTM):
                zero_hidden_units(m, op["idxs"])
            elif isinstance(m, layers._BN):
                if m.affine:
                    m.weight[idx] = 0.0
                    m.bias[idx] = 0.0
                else:  # its input is already zero: make (0 - mean) / std zero too
                    m.running_mean[idx] = 0.0
            else:
                m.weight[idx] = 0.0
                if m.bias is not None:
                    m.bias[idx] = 0.0


def _flat(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in _flat(v)]
    if isinstance(out, (list, tuple)):
        return [t for v in out for t in _flat(v)]
    return []


def _inputs64(inputs):
    return tuple(x.double() if torch.is_tensor(x) and x.is_floating_point() else x for x in inputs)


def run64(model: nn.Module, inputs) -> list[torch.Tensor]:
    """Outputs of a float64 eval-mode copy of `model` (the model itself is not changed)."""
    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        return _flat(m(*_inputs64(inputs)))


def difference(ref: list[torch.Tensor], got: list[torch.Tensor]) -> float:
    """max |ref - got| / max |ref| over all outputs (inf when shapes differ)."""
    if len(ref) != len(got) or any(a.shape != b.shape for a, b in zip(ref, got)):
        return float("inf")
    num = max((float((a - b).abs().max()) for a, b in zip(ref, got) if a.numel()), default=0.0)
    den = max((float(a.abs().max()) for a in ref if a.numel()), default=0.0)
    if num != num:  # NaN
        return float("inf")
    return num / den if den > 0 else num


def reference_outputs(unpruned: nn.Module, ops, inputs) -> list[torch.Tensor]:
    """Outputs of `unpruned` (float64 copy) with the channels of `ops` zeroed."""
    ref = copy.deepcopy(unpruned).double().eval()
    zero_channels(ref, ops)
    with torch.no_grad():
        return _flat(ref(*_inputs64(inputs)))
