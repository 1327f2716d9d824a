"""LSTMs rewritten for TFLite conversion: the same maths, with both biases folded into the input projection.

litert-torch unrolls an nn.LSTM into per-time-step ops (it cannot emit TFLite's fused LSTM op: its converter
lowers no LSTM composite, docs/BENCHMARKS.md). Each step's recurrent product then carries its own bias
(b_hh), and a full-integer quantiser must give every step's copy its own int32 scale (input scale x weight
scale, and the hidden state's scale differs per step): tv-audio's int8 file held 32 copies of that bias with
per-channel scales and zero points, about 240 KB of a 600 KB file. Here the input projection of all steps
carries b_ih + b_hh and the per-step products have no bias, so nothing is copied.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from edgeprune.export.rewrite import replace_modules


class FoldedBiasLSTM(nn.Module):
    """A one-layer, unidirectional nn.LSTM (batch_first or not, no projection) computed step by step."""

    def __init__(self, lstm: nn.LSTM):
        super().__init__()
        self.batch_first = lstm.batch_first
        self.hidden = lstm.hidden_size
        self.weight_ih = nn.Parameter(lstm.weight_ih_l0.detach().clone(), requires_grad=False)
        self.weight_hh = nn.Parameter(lstm.weight_hh_l0.detach().clone(), requires_grad=False)
        bias = torch.zeros(4 * lstm.hidden_size)
        if lstm.bias:
            bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().clone()
        self.bias = nn.Parameter(bias, requires_grad=False)

    def forward(self, x, state=None):
        if not self.batch_first:
            x = x.transpose(0, 1)
        batch, steps = x.shape[0], x.shape[1]
        if state is None:
            h = x.new_zeros(batch, self.hidden)
            c = x.new_zeros(batch, self.hidden)
        else:
            h, c = state[0][0], state[1][0]
        projected = F.linear(x, self.weight_ih, self.bias)  # (B, T, 4H): every step's input term at once
        outputs = []
        for t in range(steps):
            gates = projected[:, t] + F.linear(h, self.weight_hh)
            i, f, g, o = gates.chunk(4, dim=1)  # PyTorch's gate order
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        seq = torch.stack(outputs, dim=1)
        if not self.batch_first:
            seq = seq.transpose(0, 1)
        return seq, (h.unsqueeze(0), c.unsqueeze(0))


def foldable(lstm: nn.Module) -> bool:
    return (isinstance(lstm, nn.LSTM) and lstm.num_layers == 1 and not lstm.bidirectional
            and getattr(lstm, "proj_size", 0) == 0)


def fold_lstm_biases(model: nn.Module) -> tuple[nn.Module, int]:
    """(a copy of `model` with every foldable nn.LSTM replaced by FoldedBiasLSTM, how many were replaced);
    `model` itself is returned untouched when it has none."""
    return replace_modules(model, lambda module: FoldedBiasLSTM(module) if foldable(module) else None)
