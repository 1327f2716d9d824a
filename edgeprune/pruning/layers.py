"""Which layers the pruner may cut, how each is cut, and how many parameters it holds at given widths."""

from __future__ import annotations

import torch.nn as nn
import torch_pruning as tp

from edgeprune.pruning.lstm import LSTMGatePruner, lstm_params

_CONV = nn.modules.conv._ConvNd
_BN = nn.modules.batchnorm._BatchNorm
LSTM_PRUNER = LSTMGatePruner()
ROOT_TYPES = (_CONV, nn.Linear, nn.LSTM)


def is_depthwise(m: nn.Module) -> bool:
    return isinstance(m, _CONV) and m.groups == m.out_channels and m.out_channels > 1


def supported(m: nn.Module) -> bool:
    """Layers whose channel cut (and parameter count) edgeprune models exactly."""
    if isinstance(m, _CONV):
        return m.groups == 1 or is_depthwise(m)
    return isinstance(m, (nn.Linear, _BN, nn.LSTM))


def pruner_of(m: nn.Module):
    """The pruning function object for a supported layer (ours for LSTM, torch-pruning's otherwise)."""
    if isinstance(m, nn.LSTM):
        return LSTM_PRUNER
    return tp.pruner.function.PrunerBox[tp.ops.module2type(m)]


def widths(m: nn.Module) -> tuple[int, int]:
    """(out, in) channel widths of a supported layer."""
    if isinstance(m, _CONV):
        return m.out_channels, m.in_channels
    if isinstance(m, nn.Linear):
        return m.out_features, m.in_features
    if isinstance(m, nn.LSTM):
        return m.hidden_size, m.input_size
    return m.num_features, m.num_features


def params_at(m: nn.Module, cut_out: int, cut_in: int) -> int:
    """Parameters of `m` once `cut_out` output and `cut_in` input channels are removed."""
    out, inp = widths(m)
    if isinstance(m, _BN) or is_depthwise(m):
        kept = out - max(cut_out, cut_in)  # one tied axis
        if isinstance(m, _BN):
            return 2 * kept if m.affine else 0
        per = m.weight[0].numel()
        return kept * per + (kept if m.bias is not None else 0)
    o, i = out - cut_out, inp - cut_in
    if isinstance(m, _CONV):
        k = m.weight[0, 0].numel()
        return o * i * k + (o if m.bias is not None else 0)
    if isinstance(m, nn.Linear):
        return o * i + (o if m.bias is not None else 0)
    return lstm_params(m, o, i)
