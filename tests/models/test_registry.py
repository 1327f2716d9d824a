"""names()/spec()/build()/example_inputs() contracts of the model registry."""

import json
from dataclasses import FrozenInstanceError

import pytest
import torch

import edgeprune.models as M
from edgeprune.errors import EdgepruneError

EXPECTED = {"misp-audio", "misp-video", "tv-lip-mbv2", "tv-audio", "tv-video", "tv-av", "av-decision",
            "lenet-300-100", "lenet5"}
INPUT_KINDS = {"fbank", "lips", "image"}


def test_names_lists_the_zoo_sorted():
    assert set(M.names()) == EXPECTED
    assert M.names() == sorted(M.names())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_is_consistent(name):
    s = M.spec(name)
    assert s.name == name
    assert s.inputs and set(s.inputs) <= INPUT_KINDS
    assert s.task in {"binary", "multiclass", "embedding"}
    assert (s.lip_size is not None) == ("lips" in s.inputs)
    assert s.num_classes == {"binary": 1, "multiclass": 10, "embedding": 0}[s.task]
    assert set(s.defaults) == {"batch_size", "lr", "epochs"}
    assert {"params", "mflops"} <= set(s.paper) and s.paper["params"] > 0
    assert s.summary
    with pytest.raises(FrozenInstanceError):
        s.name = "other"


def test_paper_mflops_recorded_for_the_icassp_models():
    mflops = {n: M.spec(n).paper["mflops"] for n in ("tv-audio", "tv-lip-mbv2", "tv-video", "tv-av")}
    assert mflops == {"tv-audio": 11.29, "tv-lip-mbv2": 642.56, "tv-video": 651.68, "tv-av": 656.48}


@pytest.mark.parametrize("call", [M.build, M.spec, M.example_inputs])
def test_unknown_name_raises_naming_it(call):
    with pytest.raises(EdgepruneError, match="unknown model 'resnet-9000'"):
        call("resnet-9000")


def test_unknown_cfg_key_raises_naming_it():
    with pytest.raises(EdgepruneError, match="misp-audio.*'lstm_hiden'"):
        M.build("misp-audio", lstm_hiden=128)


def test_build_tags_arch_with_resolved_cfg():
    model = M.build("tv-audio", lstm_hidden=64, frames=16)
    arch = model.edgeprune_arch
    assert arch["zoo"] == "tv-audio"
    assert arch["cfg"] == {"convs": [[128, 5, 2], [160, 5, 2]], "lstm_hidden": 64, "fc_hidden": 128, "pool": "lse",
                           "frames": 16}
    assert model.backend.lstm.hidden_size == 64


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_arch_survives_json_and_rebuilds_the_same_model(name, small_clip):
    model = M.build(name).eval()
    arch = json.loads(json.dumps(model.edgeprune_arch))
    assert arch == model.edgeprune_arch
    again = M.build(arch["zoo"], **arch["cfg"]).eval()
    again.load_state_dict(model.state_dict())
    inputs = M.example_inputs(name, 2, **small_clip(name))
    with torch.no_grad():
        assert torch.equal(model(*inputs), again(*inputs))


def test_example_inputs_honour_clip_cfg():
    fbank, lips = M.example_inputs("tv-av", batch=3, frames=20, lip_frames=5, lip_size=40)
    assert fbank.shape == (3, 20, 40) and lips.shape == (3, 5, 40, 40)
    assert fbank.dtype == lips.dtype == torch.float32
    (lips,) = M.example_inputs("misp-video")
    assert lips.shape == (1, 32, 96, 96)
    (fbank,) = M.example_inputs("misp-audio")
    assert fbank.shape == (1, 128, 40)
    (image,) = M.example_inputs("lenet5", batch=2)
    assert image.shape == (2, 1, 28, 28)


def test_example_inputs_are_deterministic():
    a = M.example_inputs("tv-av", batch=2, frames=8, lip_frames=2, lip_size=32)
    b = M.example_inputs("tv-av", batch=2, frames=8, lip_frames=2, lip_size=32)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("bad", [{"frames": 0}, {"lip_size": -3}, {"lip_frames": 2.5}])
def test_bad_clip_sizes_raise(bad):
    with pytest.raises(EdgepruneError, match=next(iter(bad))):
        M.example_inputs("tv-av", **bad)


def test_bad_batch_raises():
    with pytest.raises(EdgepruneError, match="batch"):
        M.example_inputs("tv-audio", batch=0)


def test_misp_video_refuses_a_lip_size_its_pool_cannot_take():
    with pytest.raises(EdgepruneError, match="lip_size 33..96"):
        M.build("misp-video", lip_size=128)
    with pytest.raises(EdgepruneError, match="lip_size 33..96"):
        M.example_inputs("misp-video", lip_size=32)
    model = M.build("misp-video", trunk_pool="global", lip_size=128)
    (lips,) = M.example_inputs("misp-video", 1, trunk_pool="global", lip_size=128, lip_frames=3)
    with torch.no_grad():
        assert model.eval()(lips).shape == (1,)


def test_unknown_activation_raises():
    with pytest.raises(EdgepruneError, match="unknown activation 'gelu'"):
        M.build("misp-audio", act="gelu")


def test_calibrate_bn_gives_lip_encoder_outputs_of_a_useful_size():
    import torch

    from edgeprune.models import calibrate_bn

    cfg = {"lip_frames": 3}
    model = M.build("tv-lip-mbv2", **cfg).eval()
    x = M.example_inputs("tv-lip-mbv2", batch=2, **cfg)
    with torch.no_grad():
        before = model(*x).abs().mean().item()
        calibrate_bn(model, "tv-lip-mbv2", batches=2, batch=2, **cfg)
        after = model(*x).abs().mean().item()
    assert not model.training
    assert before < 1e-4 < 1e-2 < after
