"""A user's own layer types join the pruner, the counters and checkpoints from this one file (no package change)."""

import copy

import pytest
import torch
import torch.nn as nn

import edgeprune
from edgeprune.kinds import LayerKind, keep_index, replace_param, unregister
from edgeprune.pruning import ChannelPruner
from edgeprune.pruning.verify import LIMIT
from pruning_nets import spread_gammas
from test_verify_mutation import _measure, _shift


class Gain(nn.Module):
    """A learnable per-channel gain on axis 1 (torch-pruning would see a raw parameter)."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.weight = nn.Parameter(torch.linspace(0.5, 1.5, channels))

    def forward(self, x):
        return x * self.weight.view(1, -1, *([1] * (x.dim() - 2)))


class Dense(nn.Module):
    """A hand-written linear layer on the last axis."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / n_in ** 0.5)
        self.bias = nn.Parameter(torch.randn(n_out) * 0.1)

    def forward(self, x):
        return x @ self.weight.t() + self.bias


class GainKind(LayerKind):
    width_attrs = ("channels",)
    tied = True  # one channel axis: cut with the channels it scales

    def widths(self, m):
        return m.channels, m.channels

    def prune_out(self, m, idxs):
        replace_param(m, "weight", m.weight[keep_index(m.channels, idxs)])
        m.channels = m.weight.numel()

    def params_at(self, m, cut_out, cut_in):
        return m.channels - max(cut_out, cut_in)

    def gamma(self, m):  # ranks like a BatchNorm scale under importance="bn_scale"
        return m.weight.detach()

    def shapes(self, m, v):
        return {"weight": (v["channels"],)}


class DenseKind(LayerKind):
    width_attrs = ("n_in", "n_out")
    family, root, channels_last, maskable = "fc", True, True, True

    def widths(self, m):
        return m.n_out, m.n_in

    def prune_out(self, m, idxs):
        keep = keep_index(m.n_out, idxs)
        replace_param(m, "weight", m.weight[keep])
        replace_param(m, "bias", m.bias[keep])
        m.n_out = len(keep)

    def prune_in(self, m, idxs):
        keep = keep_index(m.n_in, idxs)
        replace_param(m, "weight", m.weight[:, keep])
        m.n_in = len(keep)

    def params_at(self, m, cut_out, cut_in):
        return (m.n_out - cut_out) * (m.n_in - cut_in + 1)

    def macs(self, m, inputs, out):
        return out.numel() * m.n_in

    def rows(self, m):
        return m.weight.detach()

    def shapes(self, m, v):
        return {"weight": (v["n_out"], v["n_in"]), "bias": (v["n_out"],)}


KINDS = {Gain: GainKind(), Dense: DenseKind()}


@pytest.fixture(autouse=True)
def _forget_kinds():
    """custom_kinds registers process-wide: each test here starts without them."""
    for t in KINDS:
        unregister(t)
    yield
    for t in KINDS:
        unregister(t)


class UserNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.gain = Gain(8)
        self.dense = Dense(8, 12)
        self.fc = nn.Linear(12, 2)

    def forward(self, x):
        y = self.gain(torch.relu(self.bn(self.conv(x)))).mean((2, 3))
        return self.fc(torch.relu(self.dense(y)))


def build_user_net() -> UserNet:
    torch.manual_seed(0)
    return spread_gammas(UserNet()).eval()


X = (torch.randn(3, 1, 6, 6),)


def test_without_a_kind_the_layers_are_held_and_named():
    model = build_user_net()
    report = ChannelPruner(model, X, importance="l2").prune(0.3)
    assert model.conv.out_channels == 8 and model.dense.n_out == 12
    held = {u["name"]: u["reason"] for u in report.untouched}
    assert "nn.Parameter" in held["conv"] and report.max_diff <= LIMIT


def test_custom_kinds_are_pruned_counted_checked_and_saved(tmp_path):
    model = build_user_net()
    with torch.no_grad():
        out = model(*X)
    assert float(out.max() - out.min()) > 1e-3
    # conv 8 x 9 + 8, BN 2 x 8, gain 8, dense 12 x 8 + 12, fc 12 x 2 + 2
    before = edgeprune.count(model, X)
    assert before.params == 80 + 16 + 8 + 12 * 9 + 26
    report = ChannelPruner(model, X, importance="l2", ignored_layers=[model.fc], custom_kinds=KINDS).prune(0.4)
    assert model.conv.out_channels < 8 and model.gain.channels == model.conv.out_channels == model.dense.n_in
    assert model.dense.n_out < 12 and model.fc.in_features == model.dense.n_out
    c, h = model.conv.out_channels, model.dense.n_out
    after = edgeprune.count(model, X)
    assert after.params == report.params_after == c * 10 + 2 * c + c + h * (c + 1) + 2 * h + 2
    assert after.macs == 3 * (36 * c * 9 + h * c + 2 * h)
    assert report.max_diff <= LIMIT
    path = edgeprune.save(model, tmp_path / "user.safetensors", factory="test_custom_kind:build_user_net")
    loaded, _ = edgeprune.load(path, factory=build_user_net)
    assert loaded.gain.channels == c and loaded.dense.n_out == h
    with torch.no_grad():
        assert torch.equal(loaded(*X), model(*X))


def test_the_check_catches_a_shifted_map_at_a_custom_layer():
    model = build_user_net()
    ops = ChannelPruner(copy.deepcopy(model), X, importance="l2", custom_kinds=KINDS).prune(0.4).history[0]["ops"]
    assert _measure(model, ops, X)[0] <= LIMIT
    for layer in ("dense", "fc"):
        mutated, moved = _shift(model, ops, only=layer)
        assert moved == 1
        assert _measure(model, mutated, X)[0] > LIMIT


def test_a_kind_must_be_a_layer_kind():
    with pytest.raises(edgeprune.EdgepruneError, match="must be a LayerKind"):
        ChannelPruner(build_user_net(), X, custom_kinds={Gain: object()})


class HalfKind(DenseKind):
    """A kind that forgot prune_in: the group it sits in is held, and the report names what is missing."""

    prune_in = LayerKind.prune_in


def test_a_kind_missing_a_method_holds_its_group_and_names_the_method():
    model = build_user_net()
    kinds = {**KINDS, Dense: HalfKind()}
    report = ChannelPruner(model, X, importance="l2", ignored_layers=[model.fc], custom_kinds=kinds).prune(0.4)
    held = {u["name"]: (u["rule"], u["reason"]) for u in report.untouched}
    assert held["conv"][0] == "probe"
    assert "layer kind HalfKind (for Dense) defines no prune_in()" in held["conv"][1]
    assert model.conv.out_channels == 8 and model.dense.n_in == 8  # the conv feeding it is left whole
    with pytest.raises(edgeprune.EdgepruneError, match=r"HalfKind \(for Dense\) defines no prune_in\(\)"):
        HalfKind().prune_in(model.dense, [0])
