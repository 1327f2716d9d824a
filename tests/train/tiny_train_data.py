"""Stand-ins for the trainer tests: a tiny DataBundle-like object of dict items and a tiny conv+BN+LSTM model."""

from types import SimpleNamespace

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

SNRS = (-5.0, 0.0, 5.0)


class DictDataset(Dataset):
    """Items like edgeprune.data's: fbank (T, 40), label (float32 scalar or int64), snr, id."""

    def __init__(self, fbank, labels, snrs, prefix):
        self.fbank, self.labels, self.snrs, self.prefix = fbank, labels, snrs, prefix

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"fbank": self.fbank[i], "label": self.labels[i], "snr": float(self.snrs[i]), "id": f"{self.prefix}{i}"}


def _split(n, seed, frames, multiclass):
    rng = np.random.default_rng(seed)
    snr = rng.choice(SNRS, size=n)
    noise = 10 ** (-snr / 20)  # louder noise at lower SNR
    x = rng.normal(size=(n, frames, 40)) * noise[:, None, None] * 0.8
    if multiclass:
        y = rng.integers(0, 3, size=n)
        for c in range(3):
            x[y == c, 4:10, 8 + 10 * c : 14 + 10 * c] += 1.5
        labels = torch.as_tensor(y, dtype=torch.int64)
    else:
        y = np.arange(n) % 2
        x[y == 1, 4:10, 10:16] += 1.5
        labels = torch.as_tensor(y, dtype=torch.float32)
    return torch.as_tensor(x, dtype=torch.float32), labels, snr


def tiny_data(n_train=64, n_dev=32, n_test=48, frames=16, seed=0, multiclass=False):
    """A DataBundle-like namespace (.train .dev .test .task .stats .info) of a small learnable problem."""
    splits = {}
    for k, (name, n) in enumerate((("train", n_train), ("dev", n_dev), ("test", n_test))):
        splits[name] = DictDataset(*_split(n, seed * 10 + k, frames, multiclass), prefix=name)
    task = "multiclass" if multiclass else "binary"
    return SimpleNamespace(**splits, task=task, stats={}, info={"spec": "tiny"}, bad=[])


class TinyNet(nn.Module):
    """fbank (B, T, 40) -> conv1d -> [BN] -> ReLU -> [dropout] -> LSTM -> linear -> mean over time."""

    def __init__(self, bn=True, dropout=0.0, classes=1):
        super().__init__()
        self.conv = nn.Conv1d(40, 8, 3, padding=1, bias=not bn)  # a bias before BN has no gradient
        self.bn = nn.BatchNorm1d(8) if bn else nn.Identity()
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(8, 8, batch_first=True)
        self.head = nn.Linear(8, classes)

    def forward(self, fbank):
        h = torch.relu(self.bn(self.conv(fbank.transpose(1, 2))))
        h, _ = self.lstm(self.drop(h).transpose(1, 2))
        out = self.head(h).mean(dim=1)
        return out[:, 0] if out.shape[1] == 1 else out


def tiny_model(seed=0, **kw):
    torch.manual_seed(seed)
    return TinyNet(**kw)
