"""The conv + LSTM + FC back end of the ICASSP 2022 tv-* wake-word models (one module, three sizings).

(B, C, T) channels-first features -> [Conv1d + BatchNorm + ReLU] x N (BatchNorm added by edgeprune so
BN-scale pruning applies) -> LSTM (unidirectional, one layer) -> per-frame FC + ReLU -> FC -> pooled over
time (`pool`, default log-sum-exp; see pooling.py) -> (B,) logit. Strided convs bring 100 fps audio down to the 25 fps lip rate.
"""

from __future__ import annotations

from torch import nn

from edgeprune.errors import EdgepruneError

from .pooling import TimePool


class CRNNBackend(nn.Module):
    """`convs` is a list of [out_channels, kernel, stride]; widths are read from tensors in forward."""

    def __init__(self, in_dim: int, convs, lstm_hidden: int, fc_hidden: int, pool: str = "lse"):
        super().__init__()
        if not convs:
            raise EdgepruneError("the CRNN back end needs at least one conv layer")
        layers = []
        for spec in convs:
            if len(spec) != 3:
                raise EdgepruneError(f"a conv layer is [channels, kernel, stride], got {spec!r}")
            out_ch, kernel, stride = (int(v) for v in spec)
            layers += [
                nn.Conv1d(in_dim, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False),
                nn.BatchNorm1d(out_ch),
                nn.ReLU(),
            ]
            in_dim = out_ch
        self.convs = nn.Sequential(*layers)
        self.lstm = nn.LSTM(in_dim, lstm_hidden, num_layers=1, batch_first=True)
        self.fc1 = nn.Linear(lstm_hidden, fc_hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(fc_hidden, 1)
        self.time_pool = TimePool(pool)

    def forward(self, x):
        x = self.convs(x).permute(0, 2, 1)  # (B, T', C): channel-major by construction (no frequency axis)
        seq, _ = self.lstm(x)
        logits = self.fc2(self.relu(self.fc1(seq)))  # (B, T', 1)
        return self.time_pool(logits)
