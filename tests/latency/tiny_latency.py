"""Helpers of the latency tests: a tiny two-conv model with BatchNorm and a fake target whose latency has a known
step at a width."""

from __future__ import annotations

import torch
import torch.nn as nn

from edgeprune.latency.target import Target


class TinyNet(nn.Module):
    """fbank (B, 40, T) -> conv(40->c1) -> BN -> ReLU -> conv(c1->c2) -> BN -> ReLU -> mean -> linear -> (B,)."""

    def __init__(self, c1: int = 24, c2: int = 16):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv1d(40, c1, 3), nn.BatchNorm1d(c1)
        self.conv2, self.bn2 = nn.Conv1d(c1, c2, 3), nn.BatchNorm1d(c2)
        self.fc = nn.Linear(c2, 1)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.fc(x.mean(dim=2)).squeeze(1)


def tiny_source(c1: int = 24, c2: int = 16):
    from edgeprune.export.source import resolve

    torch.manual_seed(0)
    model = TinyNet(c1, c2).eval()
    return resolve(model, example_inputs=(torch.randn(1, 40, 32),), input_names=("fbank",), task="binary")


def onnx_widths(path: str) -> dict[str, int]:
    """Output channels of each conv in an exported ONNX file (from its weight initialisers)."""
    import onnx

    model = onnx.load(path)
    shapes = {i.name: list(i.dims) for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    return {f"conv{k + 1}": shapes[n.input[1]][0] for k, n in enumerate(convs)}


class FakeTarget(Target):
    """A target whose latency is known exactly: 1 ms + 0.25 ms per started block of STEP conv1 channels (flat
    within a block, a step past each multiple of STEP) + 0.02 ms per conv2 channel, from the exported file's
    widths. Records the files it measured."""

    STEP = 8

    def __init__(self, version: str = "1.0", threads: int = 1, **kw):
        super().__init__("local", "ort", threads, **kw)
        self.version, self.measured = version, []

    def probe(self) -> dict:
        return {"machine": {"cpu_model": "fake", "arch": "x86_64", "logical_cores": 2, "usable_cores": 2},
                "runtime_version": self.version}

    @classmethod
    def latency_of(cls, c1: int, c2: int) -> float:
        return 1.0 + 0.25 * -(-c1 // cls.STEP) + 0.02 * c2

    def measure(self, paths):
        self.measured += list(paths)
        out = []
        for p in paths:
            w = onnx_widths(p)
            ms = self.latency_of(w["conv1"], w["conv2"])
            out.append({"p50": ms, "p90": ms * 1.1, "mean": ms, "min": ms * 0.9})
        return out
