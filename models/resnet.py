"""ResNet-18 per-frame trunk (BasicBlocks [2, 2, 2, 2], 64/128/256/512, 1x1 downsample shortcuts).

As in the MISP2021 lip front end: no stem of its own (the Conv3d front end feeds layer1), convs without
bias, each followed by BatchNorm; residual adds are out-of-place so a tracer can follow them.
"""

from __future__ import annotations

from torch import nn


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut (identity, or 1x1 conv + BN when the shape changes), ReLU."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu2 = nn.ReLU()
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu2(out + identity)


class ResNet18Trunk(nn.Module):
    """(N, 64, h, w) -> layer1..layer4 -> (N, 512, h/8, w/8)."""

    def __init__(self, in_ch: int = 64, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)):
        super().__init__()
        layers = []
        for i, (width, count) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            stage = [BasicBlock(in_ch, width, stride)]
            stage += [BasicBlock(width, width, 1) for _ in range(count - 1)]
            layers.append(nn.Sequential(*stage))
            in_ch = width
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        for m in self.modules():  # the MISP2021 baseline's init: N(0, 2 / (k * k * out_channels))
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")

    def forward(self, x):
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))
