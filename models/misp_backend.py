"""The MISP2021 baseline back end shared by misp-audio and misp-video.

The LSTM output (B, T, H) is viewed as a one-channel image (B, 1, H, T); three Conv2d (each followed by
BatchNorm, the CPLR paper's addition), a mean over the feature axis, a per-frame MLP and a pooling over time
(`pool`: lse by default, max as in the baseline; see pooling.py) give one logit per clip. Widths are read from tensors, so pruned layers still fit together.
"""

from __future__ import annotations

from torch import nn

from .activation import make_activation
from .pooling import TimePool


class MispBackend(nn.Module):
    """(B, T, H) sequence -> (B,) logit, as in the public MISP2021 KWS_Net (conv1..conv3, fc1..fc3)."""

    def __init__(self, act: str = "none", dropout: float = 0.2, pool: str = "lse"):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=5, stride=1, padding=2)
        self.bn1 = nn.BatchNorm2d(32)
        self.act1 = make_activation(act)
        self.conv2 = nn.Conv2d(32, 128, kernel_size=5, stride=2, padding=2)
        self.bn2 = nn.BatchNorm2d(128)
        self.act2 = make_activation(act)
        self.pool = nn.MaxPool2d(2, stride=(1, 2))
        self.conv3 = nn.Conv2d(128, 256, kernel_size=5, stride=(1, 2), padding=2)
        self.bn3 = nn.BatchNorm2d(256)
        self.act3 = make_activation(act)
        self.fc1 = nn.Linear(256, 512)
        self.act4 = make_activation(act)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(512, 256)
        self.act5 = make_activation(act)
        self.fc3 = nn.Linear(256, 1)
        self.time_pool = TimePool(pool)

    def forward(self, seq):
        x = seq.permute(0, 2, 1).unsqueeze(1)  # (B, 1, H, T): feature axis is the image height
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.pool(x)
        x = self.act3(self.bn3(self.conv3(x)))
        x = x.mean(dim=2).permute(0, 2, 1)  # (B, T', C)
        x = self.dropout(self.act4(self.fc1(x)))
        x = self.fc3(self.act5(self.fc2(x)))  # (B, T', 1) per-frame logits
        return self.time_pool(x)  # (B,)
