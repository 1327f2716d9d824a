"""Conv3d and frame-wise MaxPool3d rewritten as 2-D ops, for TFLite conversion (litert-torch crashes on Conv3d).

litert-torch 0.10 dies with a segmentation fault in its MLIR converter on misp-video; converting its parts one
by one in subprocesses, the crash is the Conv3d stem alone (1 -> 64, kernel 5x7x7, stride 1x2x2), while its
MaxPool3d, the ResNet-18 trunk and the LSTM back end convert (docs/BENCHMARKS.md). A Conv3d with temporal
stride 1 equals a Conv2d applied to each output frame over the `kd` input frames it sees, stacked as channels:
the input is zero-padded in time, the kd shifted copies are stacked (B*T, kd*Cin, H, W), and the weight is
reordered to (Cout, kd*Cin, kh, kw). Output layout and values are those of the Conv3d (B, Cout, T, H', W').

A MaxPool3d with a temporal kernel and stride of 1 (misp-video's stem pool) converts, but as a reduce-window
whose MAXIMUM ops ai-edge-quantizer does not calibrate ("MAXIMUM not found in tensor_name_to_qsv"), so no int8
file could be made; it is computed as a MaxPool2d over each frame instead.

A BatchNorm3d in eval mode becomes a MUL and an ADD that broadcast a (1, 1, C, 1, 1) tensor over a 5-D one. In
int8, tflite-runtime 2.14 (the runtime of Raspberry Pi images) aborts on that 5-D broadcast MUL (SIGABRT in
invoke, with or without XNNPACK; found by truncating the int8 misp-video graph op by op), while ai-edge-litert
runs it. It is computed as a BatchNorm2d over each frame instead (4-D broadcasts), like the max pool.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from edgeprune.export.rewrite import replace_modules


class Conv3dAsConv2d(nn.Module):
    """A Conv3d (groups 1, temporal stride and dilation 1, numeric padding) computed by one Conv2d."""

    def __init__(self, conv: nn.Conv3d):
        super().__init__()
        cout, cin, kd, kh, kw = conv.weight.shape
        self.kd, self.pad_t = kd, conv.padding[0]
        weight = conv.weight.detach().permute(0, 2, 1, 3, 4).reshape(cout, kd * cin, kh, kw).clone()
        self.conv = nn.Conv2d(kd * cin, cout, (kh, kw), stride=conv.stride[1:], padding=conv.padding[1:],
                              dilation=conv.dilation[1:], bias=conv.bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            if conv.bias is not None:
                self.conv.bias.copy_(conv.bias.detach())

    def forward(self, x):  # (B, Cin, T, H, W)
        b, cin, t, h, w = x.shape
        x = F.pad(x, (0, 0, 0, 0, self.pad_t, self.pad_t))
        steps = x.shape[2] - self.kd + 1
        frames = torch.stack([x[:, :, k : k + steps] for k in range(self.kd)], dim=1)  # (B, kd, Cin, T', H, W)
        frames = frames.permute(0, 3, 1, 2, 4, 5).reshape(b * steps, self.kd * cin, h, w)
        y = self.conv(frames)  # (B*T', Cout, H', W')
        return y.reshape(b, steps, *y.shape[1:]).transpose(1, 2)


class FrameMaxPool(nn.Module):
    """A MaxPool3d with temporal kernel and stride 1 (no temporal padding) as a MaxPool2d over each frame."""

    def __init__(self, pool: nn.MaxPool3d):
        super().__init__()
        kernel, stride, padding = (_triple(v) for v in (pool.kernel_size, pool.stride or pool.kernel_size, pool.padding))
        self.pool = nn.MaxPool2d(kernel[1:], stride=stride[1:], padding=padding[1:], ceil_mode=pool.ceil_mode)

    def forward(self, x):  # (B, C, T, H, W)
        b, c, t, h, w = x.shape
        y = self.pool(x.transpose(1, 2).reshape(b * t, c, h, w))
        return y.reshape(b, t, c, *y.shape[2:]).transpose(1, 2)


class FrameBatchNorm(nn.Module):
    """An eval-mode BatchNorm3d as a BatchNorm2d over each frame (the same statistics and affine)."""

    def __init__(self, bn: nn.BatchNorm3d):
        super().__init__()
        self.bn = nn.BatchNorm2d(bn.num_features, eps=bn.eps, affine=bn.affine).eval()
        self.bn.load_state_dict({k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}, strict=False)

    def forward(self, x):  # (B, C, T, H, W)
        b, c, t, h, w = x.shape
        y = self.bn(x.transpose(1, 2).reshape(b * t, c, h, w))
        return y.reshape(b, t, c, h, w).transpose(1, 2)


def _frame_bn(bn: nn.Module) -> bool:
    return type(bn) is nn.BatchNorm3d and bn.track_running_stats  # export runs the model in eval mode


def _triple(value) -> tuple[int, int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value, value)


def _frame_pool(pool: nn.Module) -> bool:
    if type(pool) is not nn.MaxPool3d or pool.return_indices:
        return False
    kernel, stride, padding, dilation = (_triple(v) for v in (pool.kernel_size, pool.stride or pool.kernel_size,
                                                              pool.padding, pool.dilation))
    return kernel[0] == 1 and stride[0] == 1 and padding[0] == 0 and dilation == (1, 1, 1)


def rewritable(conv: nn.Module) -> bool:
    return (type(conv) is nn.Conv3d and conv.groups == 1 and conv.stride[0] == 1 and conv.dilation[0] == 1
            and not isinstance(conv.padding, str) and conv.padding_mode == "zeros")


def replace_conv3d(model: nn.Module) -> tuple[nn.Module, int]:
    """(a copy of `model` with every rewritable nn.Conv3d replaced by Conv3dAsConv2d, frame-wise MaxPool3d by
    FrameMaxPool and eval-mode BatchNorm3d by FrameBatchNorm, how many); `model` itself, untouched, when it has none."""
    def swap(module):
        if rewritable(module):
            return Conv3dAsConv2d(module)
        if _frame_pool(module):
            return FrameMaxPool(module)
        return FrameBatchNorm(module) if _frame_bn(module) else None

    return replace_modules(model, swap)
