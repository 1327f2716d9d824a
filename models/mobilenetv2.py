"""tv-lip-mbv2: the ICASSP 2022 paper's MobileNetV2 lip encoder (13 linear bottlenecks, average-pooled
per-frame embedding).

Input contract: `lips` (B, Tv, 88, 88) float32, normalised grayscale mouth crops at 25 fps (1.3 s = 32
frames; any Tv and any size >= 16 px run). Output: (B, Tv, D) embeddings (task "embedding"), D = 512.

Decisions (the paper gives only "13 linear bottlenecks", 88x88 gray, average pooling, 0.39 M params,
642.56 MFLOPs): the first 13 inverted residual blocks of MobileNetV2 (t,c,n,s = 1,16,1,1; 6,24,2,2;
6,32,3,2; 6,64,4,2; 6,96,3,1), a one-channel 3x3 stride-2 stem, width multiplier 0.75 (channels rounded
to multiples of 8 as in torchvision), then a 1x1 conv + BN + ReLU6 head to 512 channels (MobileNetV2's
feature head, narrowed), global average pooling. That is 360,480 params (-7.6 % of 0.39 M) and
25.70 M MACs per 88x88 frame: 642.4 M MACs for 25 frames (1 s), within 0.03 % of the paper's 642.56,
which suggests the paper counted MACs on a one-second clip.
"""

from __future__ import annotations

from torch import nn

from .registry import ModelSpec, register

# (expansion t, output channels c, repeats n, first stride s): MobileNetV2's first 13 bottlenecks.
BOTTLENECKS_13 = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1]]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of `divisor`, never below 90 % of it (torchvision's rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_act(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True):
    layers = [nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(out_ch)]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expand (skipped when t = 1) -> 3x3 depthwise -> 1x1 linear projection; residual add when shapes match."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expansion: int):
        super().__init__()
        hidden = in_ch * expansion
        layers = [] if expansion == 1 else [conv_bn_act(in_ch, hidden, 1)]
        layers += [conv_bn_act(hidden, hidden, 3, stride, groups=hidden), conv_bn_act(hidden, out_ch, 1, act=False)]
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_ch == out_ch

    def forward(self, x):
        out = self.block(x)
        return x + out if self.use_residual else out


class LipMobileNetV2(nn.Module):
    """lips (B, Tv, H, W) -> per-frame MobileNetV2 features -> average pool -> (B, Tv, embed_dim)."""

    def __init__(self, width: float = 0.75, embed_dim: int = 512, stem_channels: int = 32, bottlenecks=None):
        super().__init__()
        bottlenecks = BOTTLENECKS_13 if bottlenecks is None else bottlenecks
        in_ch = make_divisible(stem_channels * width)
        layers = [conv_bn_act(1, in_ch, 3, 2)]
        for t, c, n, s in bottlenecks:
            out_ch = make_divisible(c * width)
            for i in range(n):
                layers.append(InvertedResidual(in_ch, out_ch, s if i == 0 else 1, t))
                in_ch = out_ch
        if embed_dim:
            layers.append(conv_bn_act(in_ch, embed_dim, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        for m in self.modules():  # torchvision's MobileNetV2 initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def embedding_dim(self) -> int:
        """Current embedding width, read from the last conv's weight (for building layers on top)."""
        return [m for m in self.features.modules() if isinstance(m, nn.Conv2d)][-1].weight.shape[0]

    def forward(self, lips):
        b, t = lips.shape[0], lips.shape[1]
        x = lips.reshape(b * t, 1, lips.shape[2], lips.shape[3])
        x = self.pool(self.features(x))
        return x.reshape(b, t, -1)


SPEC = ModelSpec(
    name="tv-lip-mbv2",
    inputs=("lips",),
    task="embedding",
    num_classes=0,
    lip_size=88,
    defaults={"batch_size": 16, "lr": 2e-4, "epochs": 5},
    paper={"params": 0.39e6, "mflops": 642.56, "source": "seed 001 (ICASSP 2022) Table 2, lip encoder"},
    summary="MobileNetV2 lip encoder: 13 linear bottlenecks (x0.75), 1x1 head to 512, avg-pooled per frame",
)


@register(SPEC, {"width": 0.75, "embed_dim": 512, "stem_channels": 32, "bottlenecks": BOTTLENECKS_13})
def build_lip_mbv2(width, embed_dim, stem_channels, bottlenecks):
    return LipMobileNetV2(width=width, embed_dim=embed_dim, stem_channels=stem_channels, bottlenecks=bottlenecks)
