"""LSTM, GRU and RNN layers: hidden units pruned by gate block in every layer (PITFALLS.md item 1).

Weight rows come in gate blocks (LSTM: input, forget, cell, output; GRU: reset, update, new; RNN: one):
unit j owns rows g*H + j of every block, and column j of the recurrent weights and of the next layer's
input weights. torch-pruning's LSTM pruner selects rows by unit, not by block, asserts num_layers == 1 and
knows no GRU, so this replaces it. Hidden units of a bidirectional layer are held (its output interleaves
both directions); its input features are cut. A projected LSTM (proj_size) is refused.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

from edgeprune.errors import EdgepruneError
from edgeprune.kinds import LayerKind, keep_index, register, replace_param

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
# The block whose rows, zeroed with their biases, make a unit output exactly 0 from a zero initial state:
# LSTM cell gate g (c stays 0, h = o * tanh(c)); GRU new gate n (h = z * h_prev stays 0); RNN its only block.
SILENT_BLOCK = {"LSTM": 2, "GRU": 2, "RNN_TANH": 0, "RNN_RELU": 0}


def _suffixes(m: nn.RNNBase) -> tuple[str, ...]:
    return ("", "_reverse") if m.bidirectional else ("",)


class Recurrent(LayerKind):
    width_attrs = ("input_size", "hidden_size", "proj_size")
    family, root, channels_last, maskable, refuse_model = "lstm", True, True, True, True

    def refuse(self, m):
        if getattr(m, "proj_size", 0):
            return f"a projected LSTM (proj_size={m.proj_size}) is not pruned"
        return None

    def hold_out(self, m, name):
        if m.bidirectional:
            return f"hidden units of bidirectional {type(m).__name__} {name!r} are not pruned (output holds both directions)"
        return None

    def widths(self, m):
        return m.hidden_size, m.input_size

    def _rows(self, m, keep: torch.Tensor) -> torch.Tensor:
        return torch.cat([keep + g * m.hidden_size for g in range(GATES[m.mode])])

    def prune_out(self, m, idxs):
        if m.bidirectional:
            raise EdgepruneError(f"hidden units of a bidirectional {type(m).__name__} cannot be pruned (output holds both directions)")
        keep = keep_index(m.hidden_size, idxs)
        rows = self._rows(m, keep)
        for k in range(m.num_layers):
            w_ih = getattr(m, f"weight_ih_l{k}")[rows]
            replace_param(m, f"weight_ih_l{k}", w_ih[:, keep] if k > 0 else w_ih)  # layer k reads layer k-1
            replace_param(m, f"weight_hh_l{k}", getattr(m, f"weight_hh_l{k}")[rows][:, keep])
            if m.bias:
                for b in ("bias_ih", "bias_hh"):
                    replace_param(m, f"{b}_l{k}", getattr(m, f"{b}_l{k}")[rows])
        m.hidden_size = len(keep)

    def prune_in(self, m, idxs):
        keep = keep_index(m.input_size, idxs)
        for sfx in _suffixes(m):
            replace_param(m, f"weight_ih_l0{sfx}", getattr(m, f"weight_ih_l0{sfx}")[:, keep])
        m.input_size = len(keep)

    def params_at(self, m, cut_out, cut_in):
        hidden, inputs, gates = m.hidden_size - cut_out, m.input_size - cut_in, GATES[m.mode]
        dirs = 2 if m.bidirectional else 1
        total = 0
        for k in range(m.num_layers):
            width_in = inputs if k == 0 else hidden * dirs
            total += dirs * (gates * hidden * (width_in + hidden) + (2 * gates * hidden if m.bias else 0))
        return total

    def macs(self, m, inputs, out):
        x = inputs[0]
        if isinstance(x, nn.utils.rnn.PackedSequence):
            steps = int(x.data.shape[0])  # every (sample, time) pair once
        else:
            steps = int(x.shape[0] * x.shape[1]) if x.dim() == 3 else int(x.shape[0])
        dirs, hidden = (2 if m.bidirectional else 1), m.hidden_size
        real_h = m.proj_size if getattr(m, "proj_size", 0) else hidden
        total = 0
        for k in range(m.num_layers):
            width_in = m.input_size if k == 0 else real_h * dirs
            per_step = GATES[m.mode] * hidden * (width_in + real_h) + (hidden * real_h if real_h != hidden else 0)
            total += dirs * per_step
        return steps * total

    @contextlib.contextmanager
    def zeroed(self, m, idxs):
        """Copies of the weights with units `idxs` silenced (a hook cannot: the units recur), put back after."""
        saved = {n: getattr(m, n) for n in m._flat_weights_names}
        rows = torch.as_tensor(idxs, dtype=torch.long) + SILENT_BLOCK[m.mode] * m.hidden_size
        try:
            for n, p in saved.items():
                fresh = p.detach().clone()
                fresh[rows] = 0.0
                setattr(m, n, nn.Parameter(fresh, requires_grad=p.requires_grad))
            yield
        finally:
            for n, p in saved.items():
                setattr(m, n, p)

    def rows(self, m):
        h, gates = m.hidden_size, GATES[m.mode]
        blocks = [getattr(m, n) for n in m._flat_weights_names if n.startswith("weight")]
        return torch.cat([w.detach().reshape(gates, h, -1).permute(1, 0, 2).reshape(h, -1) for w in blocks], dim=1)

    def shapes(self, m, v):
        hidden, proj = v["hidden_size"], v.get("proj_size", 0)
        if proj and proj >= hidden:
            raise ValueError(f"proj_size {proj} must be smaller than hidden_size {hidden}")
        gates, out, dirs = GATES[m.mode] * hidden, proj or hidden, 2 if m.bidirectional else 1
        shapes = {}
        for layer in range(m.num_layers):
            for sfx in _suffixes(m):
                shapes[f"weight_ih_l{layer}{sfx}"] = (gates, v["input_size"] if layer == 0 else out * dirs)
                shapes[f"weight_hh_l{layer}{sfx}"] = (gates, out)
                if m.bias:
                    shapes[f"bias_ih_l{layer}{sfx}"] = shapes[f"bias_hh_l{layer}{sfx}"] = (gates,)
                if proj:
                    shapes[f"weight_hr_l{layer}{sfx}"] = (proj, hidden)
        return shapes


register(nn.RNNBase, Recurrent(), builtin=True)
