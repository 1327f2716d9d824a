"""Small hand-made models for the pruning tests, one per structure PITFALLS.md warns about."""

import copy

import torch
import torch.nn as nn


def spread_gammas(model: nn.Module, seed: int = 0) -> nn.Module:
    """Untrained BN gammas are all 1.0 (ties): give them a real ranking, as training would."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.9 + 0.1)
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
    return model


def removed_rows(before: torch.Tensor, after: torch.Tensor) -> list[int]:
    """Rows of `before` (dim 0) that are missing from `after`, found by value (independent of any history)."""
    flat_b = before.detach().reshape(before.shape[0], -1)
    flat_a = after.detach().reshape(after.shape[0], -1)
    kept = []
    for row in flat_a:
        hits = (flat_b == row).all(dim=1).nonzero().flatten().tolist()
        kept.append(hits[0])
    return sorted(set(range(before.shape[0])) - set(kept))


def narrowed(head: nn.Linear, keep: list[int]) -> nn.Linear:
    """A copy of `head` that reads only its input columns `keep` (a consumer with the other channels removed)."""
    small = nn.Linear(len(keep), head.out_features)
    with torch.no_grad():
        small.weight.copy_(head.weight[:, keep])
        small.bias.copy_(head.bias)
    return small


def zeroed_bn_copy(model: nn.Module, conv_name: str, bn_name: str, pruned: nn.Module) -> nn.Module:
    """Copy of the unpruned `model` whose channels removed from `conv_name` are zeroed at its BatchNorm."""
    ref = copy.deepcopy(model).eval()
    gone = removed_rows(model.get_submodule(conv_name).weight, pruned.get_submodule(conv_name).weight)
    bn = ref.get_submodule(bn_name)
    with torch.no_grad():
        bn.weight[gone] = 0.0
        bn.bias[gone] = 0.0
    return ref


class ConvLSTM(nn.Module):
    """conv -> permute/reshape -> LSTM, the spectrogram flattened channel-major or frequency-major."""

    def __init__(self, layout: str, channels: int = 6, freq: int = 5, hidden: int = 12, num_layers: int = 1):
        super().__init__()
        self.layout = layout
        self.conv = nn.Conv2d(1, channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(channels)
        self.lstm = nn.LSTM(channels * freq, hidden, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x):  # x: (B, F, T)
        b = x.shape[0]
        y = torch.relu(self.bn(self.conv(x.unsqueeze(1))))  # (B, C, F, T)
        if self.layout == "channel":
            y = y.permute(0, 3, 1, 2).reshape(b, y.shape[3], -1)  # column c*F + f
        else:
            y = y.permute(0, 3, 2, 1).reshape(b, y.shape[3], -1)  # column f*C + c
        seq, _ = self.lstm(y)
        return self.fc(seq[:, -1]).squeeze(-1)


class EarlyFusion(nn.Module):
    """Raw FBank frames concatenated with a lip branch (either order), then a fused layer."""

    def __init__(self, order: str, lip_dim: int = 10, emb: int = 8, fused: int = 16):
        super().__init__()
        self.order = order
        self.lip = nn.Conv1d(lip_dim, emb, 1)
        self.bn = nn.BatchNorm1d(emb)
        self.fuse = nn.LSTM(40 + emb, fused, batch_first=True)
        self.out = nn.Linear(fused, 1)

    def forward(self, fbank, lips):  # (B, T, 40), (B, T, lip_dim)
        e = torch.relu(self.bn(self.lip(lips.transpose(1, 2)))).transpose(1, 2)
        x = torch.cat([fbank, e], dim=-1) if self.order == "audio_first" else torch.cat([e, fbank], dim=-1)
        seq, _ = self.fuse(x)
        return self.out(seq.mean(dim=1)).squeeze(-1)


class ImageBackend(nn.Module):
    """The MISP back end: LSTM output viewed as a one-channel (B, 1, H, T) image."""

    def __init__(self, hidden: int = 10):
        super().__init__()
        self.conv0 = nn.Conv1d(8, 12, 3, padding=1)
        self.bn0 = nn.BatchNorm1d(12)
        self.lstm = nn.LSTM(12, hidden, batch_first=True)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 1)

    def forward(self, x):  # (B, 8, T)
        seq, _ = self.lstm(torch.relu(self.bn0(self.conv0(x))).transpose(1, 2))
        img = seq.transpose(1, 2).unsqueeze(1)
        y = torch.relu(self.bn(self.conv(img))).mean(dim=(2, 3))
        return self.fc(y).squeeze(-1)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class TinyResNet(nn.Module):
    """Stem, an identity block and a downsample-shortcut block: residual-coupled groups."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layer1 = Block(8, 8, 1)
        self.layer2 = Block(8, 16, 2)
        self.fc = nn.Linear(16, 1)

    def forward(self, x):
        y = self.layer2(self.layer1(self.stem(x)))
        return self.fc(y.mean(dim=(2, 3))).squeeze(-1)


class InvertedResidual(nn.Module):
    """A MobileNetV2 linear bottleneck (expand, depthwise, project) with its residual."""

    def __init__(self, c: int = 8, expand: int = 4):
        super().__init__()
        h = c * expand
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU6())
        self.body = nn.Sequential(
            nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
            nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
            nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))
        self.fc = nn.Linear(c, 1)

    def forward(self, x):
        y = self.stem(x)
        y = y + self.body(y)
        return self.fc(y.mean(dim=(2, 3))).squeeze(-1)


class RawScale(nn.Module):
    """A custom layer holding a raw per-channel nn.Parameter."""

    def __init__(self, c):
        super().__init__()
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, c))

    def forward(self, x):
        return x * self.scale.view(1, -1, 1, 1)


class WithOpaque(nn.Module):
    """conv1 feeds a raw-parameter layer, conv2 feeds a channel-mixing op; conv3 is ordinary."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.scale = RawScale(6)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(6)
        self.conv3 = nn.Conv2d(6, 8, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 1)

    def forward(self, x):
        y = self.scale(torch.relu(self.bn1(self.conv1(x))))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = y - y.mean(dim=1, keepdim=True)  # mixes every channel into every other one
        y = torch.relu(self.bn3(self.conv3(y)))
        return self.fc(y.mean(dim=(2, 3))).squeeze(-1)


class PerFrame(nn.Module):
    """A lip encoder run per frame (frames folded into the batch) whose embeddings join the FBank frames."""

    def __init__(self, spelling: str = "reshape", emb: int = 8, hidden: int = 10):
        super().__init__()
        self.spelling = spelling
        self.conv = nn.Conv2d(1, emb, 3, padding=1)
        self.bn = nn.BatchNorm2d(emb)
        self.lstm = nn.LSTM(40 + emb, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, fbank, video):  # (B, T, 40), (B, T, 1, H, W)
        b, t = video.shape[:2]
        enc = lambda v: torch.relu(self.bn(self.conv(v)))  # noqa: E731
        if self.spelling == "reshape":
            e = enc(video.reshape(b * t, *video.shape[2:])).mean((2, 3)).reshape(b, t, -1)
        elif self.spelling == "view":
            e = enc(video.view(b * t, *video.shape[2:])).mean(dim=(-1, -2)).view(b, t, -1)
        elif self.spelling == "flatten":
            e = enc(video.flatten(0, 1)).amax((2, 3)).unflatten(0, (b, t))
        else:  # "pool": keepdim pooling, then flatten
            e = nn.functional.adaptive_avg_pool2d(enc(video.flatten(0, 1)), 1).flatten(1).reshape(b, t, -1)
        seq, _ = self.lstm(torch.cat([fbank, e], -1))
        return self.fc(seq.mean(1)).squeeze(-1)
