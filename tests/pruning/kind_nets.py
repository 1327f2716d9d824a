"""One small model per layer kind of edgeprune.kinds, each with BatchNorm-ranked and norm-ranked groups to cut."""

import torch
import torch.nn as nn


class RecurrentNet(nn.Module):
    """conv1d -> BN -> GRU/LSTM/RNN (any depth, either direction) -> linear."""

    def __init__(self, cell: str = "GRU", num_layers: int = 2, bidirectional: bool = False, hidden: int = 8):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 3, padding=1)
        self.bn = nn.BatchNorm1d(6)
        self.rnn = getattr(nn, cell)(6, hidden, num_layers=num_layers, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(hidden * (2 if bidirectional else 1), 3)

    def forward(self, x):  # (B, 4, T)
        seq, _ = self.rnn(torch.relu(self.bn(self.conv(x))).transpose(1, 2))
        return self.fc(seq[:, -1])


class ConvNet(nn.Module):
    """A Conv1d/2d/3d stack: plain conv, then a depthwise or grouped conv, a norm/activation, a 1x1 conv."""

    def __init__(self, dim: int = 2, middle: str = "depthwise", norm: str = "bn", act: str = "relu"):
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dim]
        bn = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dim]
        self.dim = dim
        self.conv1 = conv(2, 8, 3, padding=1)
        self.norm1 = bn(8) if norm == "bn" else nn.GroupNorm(8 if norm == "gn" else 2, 8)
        self.act = nn.PReLU(8) if act == "prelu" else nn.PReLU() if act == "prelu1" else nn.ReLU()
        groups = {"depthwise": 8, "grouped": 2, "plain": 1}[middle]
        self.conv2 = conv(8, 8, 3, padding=1, groups=groups, bias=False)
        self.bn2 = bn(8)
        self.conv3 = conv(8, 6, 1)
        self.bn3 = bn(6)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        y = self.act(self.norm1(self.conv1(x)))
        y = torch.relu(self.bn3(self.conv3(torch.relu(self.bn2(self.conv2(y))))))
        return self.fc(y.mean(dim=tuple(range(2, 2 + self.dim))))


class EmbeddingNet(nn.Module):
    """Token embedding -> linear -> LayerNorm or not -> mean over tokens -> linear."""

    def __init__(self, layer_norm: bool = False):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.fc1 = nn.Linear(8, 12)
        self.norm = nn.LayerNorm(12) if layer_norm else nn.Identity()
        self.fc2 = nn.Linear(12, 2)

    def forward(self, tokens):  # (B, T) int64
        return self.fc2(torch.relu(self.norm(self.fc1(self.emb(tokens)))).mean(1))


class AttentionNet(nn.Module):
    """conv1d -> BN -> self-attention over time -> linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.bn = nn.BatchNorm1d(8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):  # (B, 4, T)
        y = torch.relu(self.bn(self.conv(x))).transpose(1, 2)
        return self.fc(self.attn(y, y, y)[0].mean(1))


def inputs_for(model: nn.Module, batch: int = 2) -> tuple:
    g = torch.Generator().manual_seed(0)
    if isinstance(model, EmbeddingNet):
        return (torch.randint(0, 20, (batch, 7), generator=g),)
    if isinstance(model, ConvNet):
        return (torch.randn(batch, 2, *([6] * model.dim), generator=g),)
    return (torch.randn(batch, 4, 7, generator=g),)
