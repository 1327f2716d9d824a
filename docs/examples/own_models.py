"""Three small user models of the kinds "Prune your own model" (docs/OWN_MODEL.md) walks through.

- `DSCNN`: a depthwise-separable keyword spotter on (B, 1, T, F) FBank images.
- `CRNN`: conv blocks, then a frequency-major reshape (column f*C + c) into an LSTM.
- `FusionNet`: a lip encoder applied per frame (frames folded into the batch), its embeddings concatenated
  with the raw FBank frames (early fusion), then an LSTM.
Each ends in a linear `fc` classifier: the layer a user passes as `ignored_layers=[model.fc]`.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


class DSCNN(nn.Module):
    """Keyword spotter: a strided stem, depthwise-separable blocks, global average pooling, classifier."""

    def __init__(self, classes: int = 12, width: int = 32, blocks: int = 3):
        super().__init__()
        self.stem = conv_bn(1, width, 3, 2)
        self.blocks = nn.Sequential(*[nn.Sequential(conv_bn(width, width, 3, groups=width), conv_bn(width, width, 1))
                                      for _ in range(blocks)])
        self.fc = nn.Linear(width, classes)

    def forward(self, x):  # (B, 1, T, F)
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))


class CRNN(nn.Module):
    """Conv front end, frequency-major flattening into an LSTM, last-frame classifier."""

    def __init__(self, classes: int = 2, freq: int = 40, channels: int = 32, hidden: int = 64):
        super().__init__()
        self.c1 = conv_bn(1, channels)
        self.c2 = nn.Sequential(conv_bn(channels, channels), nn.MaxPool2d((1, 4)))  # pools frequency
        self.lstm = nn.LSTM(channels * (freq // 4), hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):  # (B, 1, T, F)
        y = self.c2(self.c1(x))  # (B, C, T, F/4)
        b, c, t, f = y.shape
        y = y.permute(0, 2, 3, 1).reshape(b, t, f * c)  # frequency-major: column f*C + c
        seq, _ = self.lstm(y)
        return self.fc(seq[:, -1])


class FusionNet(nn.Module):
    """Early fusion: FBank frames ++ per-frame lip embeddings, into an LSTM."""

    def __init__(self, classes: int = 2, fbank: int = 40, emb: int = 32, hidden: int = 48):
        super().__init__()
        self.lip = nn.Sequential(conv_bn(1, 16, 3, 2), conv_bn(16, emb, 3, 2))
        self.lstm = nn.LSTM(fbank + emb, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, fbank, video):  # (B, T, 40), (B, T, 1, H, W)
        b, t = video.shape[:2]
        e = self.lip(video.reshape(b * t, *video.shape[2:])).mean((2, 3)).reshape(b, t, -1)
        seq, _ = self.lstm(torch.cat([fbank, e], -1))
        return self.fc(seq.mean(1))


def as_if_trained(model: nn.Module, dead: float = 0.4, seed: int = 0) -> nn.Module:
    """Stand-in for a model trained with an L1 penalty on BatchNorm gammas (network slimming): spread gammas and
    running statistics, and `dead` of the channels of every width with gamma = beta = 0 (the same channels
    in every BatchNorm of that width, so that the layers one channel passes through agree)."""
    g = torch.Generator().manual_seed(seed)
    chosen: dict[int, torch.Tensor] = {}
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) * 0.9 + 0.1)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
                if n not in chosen:
                    chosen[n] = torch.randperm(n, generator=g)[: round(dead * n)]
                m.weight[chosen[n]] = 0.0
                m.bias[chosen[n]] = 0.0
    return model


def example_inputs(name: str, batch: int = 2, frames: int = 20) -> tuple[torch.Tensor, ...]:
    """Random inputs of the right shapes for `DSCNN`, `CRNN` or `FusionNet`."""
    g = torch.Generator().manual_seed(0)
    if name == "FusionNet":
        return torch.randn(batch, frames, 40, generator=g), torch.randn(batch, frames, 1, 24, 24, generator=g)
    return (torch.randn(batch, 1, frames, 40, generator=g),)
