"""edgeprune.save / edgeprune.load: pruned models round-trip bit-identically, bad files fail clearly, no code runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import edgeprune
from edgeprune.errors import EdgepruneError

STANDIN = textwrap.dedent(
    '''
    """A stand-in user model with every layer kind whose width a pruner changes."""
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self, channels=16, hidden=12, groups=4):
            super().__init__()
            self.conv1 = nn.Conv1d(40, channels, 3, padding=1)
            self.bn1 = nn.BatchNorm1d(channels)
            self.dw = nn.Conv1d(channels, channels, 3, padding=1, groups=channels)
            self.gn = nn.GroupNorm(groups, channels)
            self.lstm = nn.LSTM(channels, hidden, batch_first=True)
            self.ln = nn.LayerNorm(hidden)
            self.prelu = nn.PReLU(hidden)
            self.fc = nn.Linear(hidden, 1)

        def forward(self, fbank):
            x = torch.relu(self.bn1(self.conv1(fbank.transpose(1, 2))))
            x = self.gn(self.dw(x)).transpose(1, 2)
            y, _ = self.lstm(x)
            b, t, h = y.shape
            y = self.prelu(self.ln(y).reshape(b * t, h)).reshape(b, t, h)
            return self.fc(y).amax(1).squeeze(-1)


    def build(**kwargs):
        return Net(**kwargs)
    '''
)


@pytest.fixture()
def standin(tmp_path, monkeypatch):
    """The stand-in module, importable as `ckpt_standin` here and in subprocesses (via PYTHONPATH)."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "ckpt_standin.py").write_text(STANDIN)
    monkeypatch.syspath_prepend(str(pkg))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pkg), os.environ.get("PYTHONPATH", "")]))
    sys.modules.pop("ckpt_standin", None)
    import ckpt_standin

    yield ckpt_standin
    sys.modules.pop("ckpt_standin", None)


def _keep(param: torch.Tensor, index: torch.Tensor, dim: int) -> nn.Parameter:
    return nn.Parameter(param.detach().index_select(dim, index).clone())


def prune_by_hand(net: nn.Module, channels: list[int], hidden: list[int], groups: int) -> None:
    """Physically remove conv channels and LSTM hidden units (gate-block rows), as a pruner would."""
    c = torch.tensor(channels)
    h = torch.tensor(hidden)
    net.conv1.weight, net.conv1.bias = _keep(net.conv1.weight, c, 0), _keep(net.conv1.bias, c, 0)
    net.conv1.out_channels = len(channels)
    bn = net.bn1
    bn.weight, bn.bias = _keep(bn.weight, c, 0), _keep(bn.bias, c, 0)
    bn.running_mean, bn.running_var = bn.running_mean[c].clone(), bn.running_var[c].clone()
    bn.num_features = len(channels)
    dw = net.dw
    dw.weight, dw.bias = _keep(dw.weight, c, 0), _keep(dw.bias, c, 0)
    dw.in_channels = dw.out_channels = dw.groups = len(channels)
    net.gn.weight, net.gn.bias = _keep(net.gn.weight, c, 0), _keep(net.gn.bias, c, 0)
    net.gn.num_channels, net.gn.num_groups = len(channels), groups
    lstm = net.lstm
    H = lstm.hidden_size
    rows = torch.cat([h + g * H for g in range(4)])
    lstm.weight_ih_l0 = _keep(_keep(lstm.weight_ih_l0, rows, 0), c, 1)
    lstm.weight_hh_l0 = _keep(_keep(lstm.weight_hh_l0, rows, 0), h, 1)
    lstm.bias_ih_l0, lstm.bias_hh_l0 = _keep(lstm.bias_ih_l0, rows, 0), _keep(lstm.bias_hh_l0, rows, 0)
    lstm.input_size, lstm.hidden_size = len(channels), len(hidden)
    lstm._init_flat_weights()
    net.ln.weight, net.ln.bias = _keep(net.ln.weight, h, 0), _keep(net.ln.bias, h, 0)
    net.ln.normalized_shape = (len(hidden),)
    net.prelu.weight, net.prelu.num_parameters = _keep(net.prelu.weight, h, 0), len(hidden)
    net.fc.weight, net.fc.in_features = _keep(net.fc.weight, h, 1), len(hidden)


def _trained_pruned(standin) -> nn.Module:
    net = standin.build(channels=16, hidden=12, groups=4)
    with torch.no_grad():  # non-trivial BN statistics and weights, so a wrong re-shape shows in outputs
        net.bn1.running_mean.normal_()
        net.bn1.running_var.uniform_(0.5, 2.0)
        net.bn1.num_batches_tracked.fill_(7)
        net.ln.weight.uniform_(0.5, 1.5)
    prune_by_hand(net, channels=[0, 2, 3, 5, 8, 9, 11, 15], hidden=[1, 2, 4, 7, 10], groups=2)
    return net.eval()


def test_pruned_user_model_round_trips_bit_identical(tmp_path, standin):
    net = _trained_pruned(standin)
    x = torch.randn(3, 20, 40)
    expected = net(x)
    path = edgeprune.save(net, tmp_path / "m.safetensors", factory="ckpt_standin:build",
                          factory_kwargs={"channels": 16, "hidden": 12, "groups": 4},
                          method="cplr", wsr=0.42, feature_stats={"mean": [0.5] * 40, "std": [2.0] * 40})
    model, meta = edgeprune.load(path, trust_factory=True)
    assert torch.equal(model(x), expected)
    assert model.lstm.hidden_size == 5 and model.lstm.input_size == 8
    assert model.dw.groups == 8 and model.gn.num_groups == 2 and model.ln.normalized_shape == (5,)
    assert model.bn1.num_batches_tracked.item() == 7
    assert not model.training
    assert meta["method"] == "cplr" and meta["wsr"] == 0.42 and meta["feature_stats"]["std"][0] == 2.0
    assert meta["arch"] == {"factory": "ckpt_standin:build", "kwargs": {"channels": 16, "hidden": 12, "groups": 4}}


def test_pruned_model_loaded_in_another_process_is_bit_identical(tmp_path, standin):
    net = _trained_pruned(standin)
    x = torch.randn(2, 17, 40)
    torch.save(x, tmp_path / "x.pt")
    edgeprune.save(net, tmp_path / "m.safetensors", factory="ckpt_standin:build")
    script = textwrap.dedent(
        f"""
        import torch, edgeprune
        model, _ = edgeprune.load({str(tmp_path / 'm.safetensors')!r}, factory="ckpt_standin:build")
        x = torch.load({str(tmp_path / 'x.pt')!r}, weights_only=True)
        with torch.no_grad():
            torch.save(model(x), {str(tmp_path / 'y.pt')!r})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, env=os.environ.copy(), timeout=120)
    other = torch.load(tmp_path / "y.pt", weights_only=True)
    with torch.no_grad():
        assert torch.equal(other, net(x))


def test_callable_factory_builds_the_dense_model(tmp_path, standin):
    net = _trained_pruned(standin)
    edgeprune.save(net, tmp_path / "m.safetensors", factory="ckpt_standin:build")
    model, _ = edgeprune.load(tmp_path / "m.safetensors", factory=standin.build)
    x = torch.randn(1, 9, 40)
    assert torch.equal(model(x), net(x))


def test_edgeprune_arch_attribute_is_recorded(tmp_path, standin):
    net = _trained_pruned(standin)
    net.edgeprune_arch = {"factory": "ckpt_standin:build", "kwargs": {"hidden": 12}}
    edgeprune.save(net, tmp_path / "m.safetensors")
    model, meta = edgeprune.load(tmp_path / "m.safetensors", trust_factory=True)
    assert meta["arch"]["kwargs"] == {"hidden": 12}
    assert model.edgeprune_arch == meta["arch"]


def test_user_factory_is_not_imported_without_consent(tmp_path, standin):
    marker = tmp_path / "imported"
    (tmp_path / "pkg" / "evil_factory.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nfrom ckpt_standin import build\n"
    )
    net = _trained_pruned(standin)
    edgeprune.save(net, tmp_path / "m.safetensors", factory="evil_factory:build")
    with pytest.raises(EdgepruneError, match="user factory 'evil_factory:build'.*trust_factory=True"):
        edgeprune.load(tmp_path / "m.safetensors")
    assert not marker.exists()


def test_model_without_architecture_is_refused(tmp_path):
    with pytest.raises(EdgepruneError, match="no edgeprune_arch.*factory="):
        edgeprune.save(nn.Linear(3, 2), tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_old_file_and_no_temp(tmp_path, standin):
    net = _trained_pruned(standin)
    path = tmp_path / "m.safetensors"
    edgeprune.save(net, path, factory="ckpt_standin:build", note="first")
    before = path.read_bytes()
    with pytest.raises(EdgepruneError, match="meta must be JSON-serialisable"):
        edgeprune.save(net, path, factory="ckpt_standin:build", note=object())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "pkg"]


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"x": _Payload(str(marker))}, tmp_path / "evil.pt")
    with pytest.raises(EdgepruneError, match="not an edgeprune checkpoint"):
        edgeprune.load(tmp_path / "evil.pt")
    assert not marker.exists()


def test_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2)}, tmp_path / "foreign.safetensors")
    with pytest.raises(EdgepruneError, match="safetensors file but not an edgeprune checkpoint"):
        edgeprune.load(tmp_path / "foreign.safetensors")


def test_truncated_file_is_refused(tmp_path, standin):
    path = tmp_path / "m.safetensors"
    edgeprune.save(_trained_pruned(standin), path, factory="ckpt_standin:build")
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) - 100])
    with pytest.raises(EdgepruneError, match="truncated"):
        edgeprune.load(tmp_path / "cut.safetensors", trust_factory=True)
    (tmp_path / "tiny.safetensors").write_bytes(data[:5])
    with pytest.raises(EdgepruneError, match="too short"):
        edgeprune.load(tmp_path / "tiny.safetensors")


def test_tampered_weights_are_refused(tmp_path, standin):
    path = tmp_path / "m.safetensors"
    edgeprune.save(_trained_pruned(standin), path, factory="ckpt_standin:build")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(EdgepruneError, match="SHA-256"):
        edgeprune.load(path, trust_factory=True)


def test_tampered_widths_are_refused(tmp_path, standin):
    """A header edited to claim other widths (same byte length) fails on re-shape, not silently."""
    path = tmp_path / "m.safetensors"
    edgeprune.save(_trained_pruned(standin), path, factory="ckpt_standin:build")
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    widths = json.loads(header["__metadata__"]["widths"])
    widths["fc"]["type"] = "Conv1d"
    header["__metadata__"]["widths"] = json.dumps(widths)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (size - len(text))
    assert len(text) == size
    path.write_bytes(data[:8] + text + data[8 + size :])
    with pytest.raises(EdgepruneError, match="layer 'fc' is a Conv1d but the rebuilt model has a Linear"):
        edgeprune.load(path, trust_factory=True)


def test_missing_file(tmp_path):
    with pytest.raises(EdgepruneError, match="no such checkpoint"):
        edgeprune.load(tmp_path / "nope.safetensors")


ZOO_CFG = {"frames": 24, "lip_frames": 3}


def _zoo_names():
    from edgeprune import models

    return models.names()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  if n in ("misp-video", "av-decision", "tv-lip-mbv2", "tv-video", "tv-av") else n
                                  for n in _zoo_names()])
def test_every_zoo_model_pruned_round_trips_identically(tmp_path, name):
    from edgeprune import models

    importance = "l1" if name.startswith("lenet") else "bn_scale"  # the lenets have no BatchNorm
    for amount in (0.3, 0.5, 0.8):
        model = models.build(name, **ZOO_CFG).eval()
        x = models.example_inputs(name, batch=2, **ZOO_CFG)
        report = edgeprune.ChannelPruner(model, x, importance=importance).prune(amount)
        assert report.params_after < report.params_before
        path = edgeprune.save(model, tmp_path / f"{name}-{amount}.safetensors", wsr=1 - report.params_after / report.params_before)
        loaded, meta = edgeprune.load(path)
        assert meta["arch"]["zoo"] == name
        with torch.no_grad():
            assert torch.equal(loaded(*x), model(*x))


def test_pruned_zoo_model_loaded_in_another_process_is_bit_identical(tmp_path):
    from edgeprune import models

    model = models.build("tv-av", **ZOO_CFG).eval()
    x = models.example_inputs("tv-av", batch=2, **ZOO_CFG)
    edgeprune.ChannelPruner(model, x).prune(0.5)
    edgeprune.save(model, tmp_path / "m.safetensors")
    torch.save(x, tmp_path / "x.pt")
    script = textwrap.dedent(
        f"""
        import torch, edgeprune
        model, _ = edgeprune.load({str(tmp_path / 'm.safetensors')!r})
        x = torch.load({str(tmp_path / 'x.pt')!r}, weights_only=True)
        with torch.no_grad():
            torch.save(model(*x), {str(tmp_path / 'y.pt')!r})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    with torch.no_grad():
        assert torch.equal(torch.load(tmp_path / "y.pt", weights_only=True), model(*x))
