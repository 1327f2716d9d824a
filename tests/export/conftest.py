"""Stand-in models for the export tests: a small conv + LSTM wake-word net, importable by name (a factory)."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

STANDIN = textwrap.dedent(
    '''
    """A small wake-word-like net: conv + BN over fbank frames, LSTM, per-frame FC, max over time."""
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self, channels=16, hidden=12):
            super().__init__()
            self.conv = nn.Conv1d(40, channels, 3, padding=1)
            self.bn = nn.BatchNorm1d(channels)
            self.lstm = nn.LSTM(channels, hidden, batch_first=True)
            self.fc = nn.Linear(hidden, 1)

        def forward(self, fbank):
            x = torch.relu(self.bn(self.conv(fbank.transpose(1, 2)))).transpose(1, 2)
            y, _ = self.lstm(x)
            return self.fc(y).amax(1).squeeze(-1)


    def build(**kwargs):
        net = Net(**kwargs)
        with torch.no_grad():  # spread the logits, so int8 decisions are not all at the threshold
            net.fc.weight.mul_(8.0)
        return net
    '''
)


def output_spread(model, inputs) -> tuple[float, float]:
    """(largest std over the samples of any output element, largest |output|) of `model` on a batch `inputs`."""
    with torch.no_grad():
        y = model(*inputs)
    y = y.reshape(y.shape[0], -1).double()
    return float(y.std(dim=0).max()), float(y.abs().max())


def assert_outputs_vary(model, inputs, relative: float = 0.01, absolute: float = 1e-4) -> None:
    """A parity check on constant outputs compares constants: the outputs must vary over the samples."""
    std, top = output_spread(model, inputs)
    assert std > absolute and std > relative * top, f"outputs hardly vary over {len(inputs[0])} inputs: std {std:.2e}, max {top:.2e}"


@pytest.fixture()
def outputs_vary():
    """assert_outputs_vary, for tests of models built elsewhere."""
    return assert_outputs_vary


def import_text(tmp_path, monkeypatch, name: str, source: str):
    """Module `name` written from `source` into tmp_path/pkg and imported (importable by name, as a checkpoint's
    factory is); the caller pops it from sys.modules when done."""
    import importlib

    pkg = tmp_path / "pkg"
    pkg.mkdir(exist_ok=True)
    (pkg / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(pkg))
    sys.modules.pop(name, None)
    return importlib.import_module(name)


@pytest.fixture()
def module_from_text(tmp_path, monkeypatch):
    """import_text for tests in this folder: module_from_text(name, source) (a test file importing `conftest`
    gets whichever conftest.py was imported first in the session)."""
    return lambda name, source: import_text(tmp_path, monkeypatch, name, source)


@pytest.fixture()
def standin(tmp_path, monkeypatch):
    """The stand-in module `export_standin` (importable by name here), with a fixed seed."""
    export_standin = import_text(tmp_path, monkeypatch, "export_standin", STANDIN)
    torch.manual_seed(0)
    assert_outputs_vary(export_standin.build().eval(), (torch.randn(16, 30, 40, generator=torch.Generator().manual_seed(1)),))
    torch.manual_seed(0)
    yield export_standin
    sys.modules.pop("export_standin", None)


@pytest.fixture()
def fbank():
    return (torch.randn(1, 30, 40, generator=torch.Generator().manual_seed(5)),)
