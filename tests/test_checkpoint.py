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


def edit_header(path, edit, rehash: bool = True) -> None:
    """Rewrite the edgeprune fields of a saved file with `edit(fields)` (a dict of header strings). With
    `rehash`, the SHA-256 is recomputed as an attacker would, so that the structural checks are what is tested."""
    from safetensors.torch import load as st_load

    from edgeprune import checkpoint_file

    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    fields = header["__metadata__"]
    edit(fields)
    if rehash:
        fields["sha256"] = checkpoint_file.digest(st_load(data), fields)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + size :])


def edit_json(key, change):
    """An edit of one JSON header field: `change(value)` mutates (or returns a replacement of) its value."""

    def edit(fields):
        value = json.loads(fields[key])
        new = change(value)
        fields[key] = json.dumps(value if new is None else new)

    return edit


def one_line_error(path, match, **load_kw):
    with pytest.raises(EdgepruneError, match=match) as info:
        edgeprune.load(path, **load_kw)
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.fixture()
def saved(tmp_path, standin):
    path = tmp_path / "m.safetensors"
    edgeprune.save(_trained_pruned(standin), path, factory="ckpt_standin:build", threshold=0.5, method="cplr")
    edgeprune.load(path, trust_factory=True)  # loads before any edit
    return path


def test_an_edit_of_any_metadata_field_is_refused_as_tampered(saved, standin):
    def threshold(meta):
        meta["threshold"] = 0.9

    def widths(w):
        w["conv1"]["out_channels"] = 9

    def kwargs(arch):
        arch["kwargs"] = {"hidden": 13}

    for key, change in (("meta", threshold), ("widths", widths), ("arch", kwargs)):
        original = saved.read_bytes()
        edit_header(saved, edit_json(key, change), rehash=False)
        one_line_error(saved, "does not match its recorded SHA-256 .*tampered", trust_factory=True)
        with pytest.raises(EdgepruneError, match="SHA-256"):
            edgeprune.checkpoint.read_meta(saved)
        saved.write_bytes(original)
    # a re-formatted (same values) header still loads: the hash covers the canonical values, not the spacing
    edit_header(saved, edit_json("meta", lambda m: None), rehash=False)
    assert edgeprune.load(saved, trust_factory=True)[1]["threshold"] == 0.5


def test_an_edited_zoo_cfg_is_refused_as_tampered(tmp_path):
    from edgeprune import models

    path = edgeprune.save(models.build("lenet5").eval(), tmp_path / "z.safetensors")
    edit_header(path, edit_json("arch", lambda a: a["cfg"].update(num_classes=11)), rehash=False)
    one_line_error(path, "SHA-256")


@pytest.mark.parametrize("layer, attr, value", [("conv1", "stride", [2]), ("bn1", "eps", 0.5),
                                                ("bn1", "momentum", 0.0), ("fc", "__class__", "Conv1d"),
                                                ("lstm", "dropout", 0.5), ("dw", "padding", [0])])
def test_widths_may_set_only_width_attributes(saved, layer, attr, value):
    edit_header(saved, edit_json("widths", lambda w: w[layer].update({attr: value})))
    one_line_error(saved, rf"layer '{layer}' records '{attr}', which is not a width of a", trust_factory=True)


@pytest.mark.parametrize("layer, attr, value, match", [
    ("lstm", "hidden_size", 6, r"'lstm.weight_ih_l0' has shape \[20, 8\] but the recorded widths of 'lstm' give "
                               r"\[24, 8\]"),
    ("lstm", "input_size", 9, r"'lstm.weight_ih_l0' has shape \[20, 8\] but .* give \[20, 9\]"),
    ("conv1", "out_channels", 16, r"'conv1.weight' has shape \[8, 40, 3\] but .* give \[16, 40, 3\]"),
    ("fc", "in_features", 4, r"'fc.weight' has shape \[1, 5\]"),
    ("bn1", "num_features", 9, r"'bn1.weight' has shape \[8\]"),
    ("gn", "num_groups", 3, "num_groups 3 does not divide num_channels 8"),
    ("dw", "groups", 3, "groups 3 does not divide in_channels 8"),
    ("conv1", "out_channels", -8, "out_channels = -8 is not a valid width"),
    ("conv1", "out_channels", True, "out_channels = True is not a valid width"),
    ("ln", "normalized_shape", "5", "normalized_shape = '5' is not a valid width"),
])
def test_widths_must_agree_with_the_tensor_shapes(saved, layer, attr, value, match):
    edit_header(saved, edit_json("widths", lambda w: w[layer].update({attr: value})))
    one_line_error(saved, match, trust_factory=True)


def test_a_dropped_widths_entry_is_caught_by_the_shapes(saved):
    edit_header(saved, edit_json("widths", lambda w: w.pop("lstm") and None))
    one_line_error(saved, r"'lstm.weight_ih_l0' has shape \[20, 8\] but the recorded widths of 'lstm' give \[48, 16\]",
                   trust_factory=True)


def test_tampered_layer_type_is_refused(saved):
    edit_header(saved, edit_json("widths", lambda w: w["fc"].update(type="Conv1d")))
    one_line_error(saved, "layer 'fc' is a Conv1d but the rebuilt model has a Linear", trust_factory=True)


@pytest.mark.parametrize("key, value, match", [
    ("widths", [["fc", {"type": "Linear"}]], "checkpoint widths must be a JSON object, not a list"),
    ("widths", {"fc": ["Linear"]}, "widths of layer 'fc' must be an object, not a list"),
    ("widths", {"__class__": {"type": "Linear"}}, "layer '__class__' .* does not exist in the rebuilt model"),
    ("arch", ["factory"], "checkpoint arch must be a JSON object, not a list"),
    ("arch", {"factory": "ckpt_standin:build", "kwargs": [1]}, "recorded kwargs must be an object, not a list"),
    ("arch", {"factory": "ckpt_standin:build", "kwargs": {"__class__": 1}}, "cannot build .*TypeError"),
    ("arch", {"factory": 5}, "factory must look like 'pkg.module:callable', got 5"),
    ("meta", "threshold", "checkpoint meta must be a JSON object, not a str"),
])
def test_malformed_metadata_gives_one_line(saved, key, value, match):
    edit_header(saved, edit_json(key, lambda _: value))
    one_line_error(saved, match, trust_factory=True)


@pytest.mark.parametrize("version, match", [("abc", "format_version 'abc' is not a number"),
                                            ("-1", "format_version '-1' is not a number"),
                                            ("1", "format 1 .* is no longer read; re-create it"),
                                            ("3", "format 3 is newer than this edgeprune reads")])
def test_format_version_gives_one_line(saved, version, match):
    edit_header(saved, lambda fields: fields.update(format_version=version))
    one_line_error(saved, match, trust_factory=True)


def test_a_cfg_that_would_allocate_far_more_than_the_file_is_refused_before_allocation(tmp_path, monkeypatch):
    from edgeprune import models

    path = edgeprune.save(models.build("tv-audio").eval(), tmp_path / "z.safetensors")
    edit_header(path, edit_json("arch", lambda a: a["cfg"].update(lstm_hidden=40000)))
    builds = []
    real_build = models.build

    def spy(*args, **kwargs):
        builds.append(torch.empty(0).device.type)  # the device the build allocates on
        return real_build(*args, **kwargs)

    monkeypatch.setattr(models, "build", spy)
    one_line_error(path, r"zoo model 'tv-audio' with cfg .*40000.* would allocate \d+ MiB for a file holding 1.4 MiB")
    assert builds == ["meta"]  # only the meta-device twin was built
    edit_header(path, edit_json("arch", lambda a: a["cfg"].update(lstm_hidden=-5)))
    one_line_error(path, "cannot build zoo model 'tv-audio'")


def test_a_shape_change_outside_the_width_layers_is_refused(tmp_path, standin):
    net = _trained_pruned(standin)
    net.scale = nn.Parameter(torch.ones(1))
    path = edgeprune.save(net, tmp_path / "m.safetensors", factory="ckpt_standin:build")
    one_line_error(path, 'Unexpected key.*"scale"', trust_factory=True)  # the factory has no `scale`
    net = _trained_pruned(standin)
    net.bn1.num_batches_tracked = torch.tensor([7, 7])
    path = edgeprune.save(net, tmp_path / "b.safetensors", factory="ckpt_standin:build")
    one_line_error(path, r"'bn1.num_batches_tracked' has shape \[2\] but the model builds \[\], and pruning does not "
                         "change its layer's width", trust_factory=True)
    net = _trained_pruned(standin)
    net.fc.weight.data = torch.ones(1, 5)
    net.lstm.weight_hh_l0.data = net.lstm.weight_hh_l0.data[:, :4].clone()  # a non-width reshape of a width layer
    path = edgeprune.save(net, tmp_path / "n.safetensors", factory="ckpt_standin:build")
    one_line_error(path, r"'lstm.weight_hh_l0' has shape \[20, 4\] but the recorded widths of 'lstm' give \[20, 5\]",
                   trust_factory=True)


def test_a_factory_that_cannot_build_on_the_meta_device_is_still_checked(tmp_path, standin):
    """A user factory that needs real tensors (here .item()) is built for real, then its widths are checked."""
    (tmp_path / "pkg" / "real_only.py").write_text(
        "import torch\nfrom ckpt_standin import build as _build\n\n"
        "def build(**kw):\n    assert torch.ones(1).item() == 1.0  # fails on the meta device\n    return _build(**kw)\n"
    )
    net = _trained_pruned(standin)
    path = edgeprune.save(net, tmp_path / "m.safetensors", factory="real_only:build")
    model, _ = edgeprune.load(path, trust_factory=True)
    x = torch.randn(2, 9, 40)
    with torch.no_grad():
        assert torch.equal(model(x), net(x)) and float(net(x).std()) > 0
    edit_header(path, edit_json("widths", lambda w: w["conv1"].update(stride=[2])))
    one_line_error(path, "layer 'conv1' records 'stride', which is not a width of a Conv1d", trust_factory=True)


def test_checkpoint_meta_is_written_without_nan(tmp_path, standin):
    path = edgeprune.save(_trained_pruned(standin), tmp_path / "m.safetensors", factory="ckpt_standin:build",
                          metrics={"dev_score": float("nan"), "params": 3})
    data = path.read_bytes()
    header = data[8 : 8 + int.from_bytes(data[:8], "little")].decode()
    assert "NaN" not in header
    assert edgeprune.checkpoint.read_meta(path)["metrics"] == {"dev_score": None, "params": 3}


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
