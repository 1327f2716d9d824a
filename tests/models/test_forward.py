"""Forward passes: output shapes for every model, any clip length, and widths read from weights."""

import pytest
import torch
from torch import nn

import edgeprune.models as M

BATCH = 2


def expected_shape(name, inputs, model):
    s = M.spec(name)
    if s.task == "binary":
        return (BATCH,)
    if s.task == "multiclass":
        return (BATCH, s.num_classes)
    return (BATCH, inputs[0].shape[1], model.embedding_dim())


@pytest.mark.parametrize("name", M.names())
def test_forward_shape_and_gradients(name, small_clip):
    model = M.build(name).train()
    inputs = M.example_inputs(name, BATCH, **small_clip(name))
    assert len(inputs) == len(M.spec(name).inputs)
    out = model(*inputs)
    assert out.shape == expected_shape(name, inputs, model)
    assert torch.isfinite(out).all()
    out.float().sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads), f"{name}: some parameter got no gradient"


@pytest.mark.parametrize("name", [n for n in M.names() if M.spec(n).task != "multiclass"])
def test_any_clip_length_runs(name, small_clip):
    model = M.build(name).eval()
    for frames, lip_frames in ((24, 3), (41, 7)):
        clip = {**small_clip(name), "frames": frames, "lip_frames": lip_frames}
        inputs = M.example_inputs(name, BATCH, **clip)
        with torch.no_grad():
            assert model(*inputs).shape == expected_shape(name, inputs, model)


@pytest.mark.parametrize("name,clip", [("misp-audio", {"frames": 9}), ("misp-video", {"lip_frames": 3, "lip_size": 33}),
                                       ("tv-av", {"frames": 1, "lip_frames": 1, "lip_size": 16})])
def test_shortest_documented_clips_run(name, clip):
    model = M.build(name).eval()
    with torch.no_grad():
        assert model(*M.example_inputs(name, 1, **clip)).shape == (1,)


@pytest.mark.parametrize("pool", ["lse", "max", "mean", "last"])
def test_binary_models_give_one_logit_per_clip_pooled_over_time(pool):
    model = M.build("tv-audio", pool=pool).eval()
    (fbank,) = M.example_inputs("tv-audio", BATCH, frames=32)
    frame_logits = []
    model.backend.fc2.register_forward_hook(lambda m, i, o: frame_logits.append(o))
    with torch.no_grad():
        out = model(fbank)
    assert frame_logits[0].shape == (BATCH, 8, 1)  # 32 frames at 100 fps -> 8 at 25 fps
    f = frame_logits[0][:, :, 0].double()
    want = {"lse": torch.log(torch.exp(f).mean(dim=1)), "max": f.max(dim=1).values, "mean": f.mean(dim=1),
            "last": f[:, -1]}[pool]
    assert torch.allclose(out.double(), want, atol=1e-6)
    assert out.std() > 0  # the clips differ


def test_lse_pool_lies_between_mean_and_max():
    logits = {p: M.build("tv-audio", pool=p).eval() for p in ("lse", "max", "mean")}
    for m in logits.values():
        m.load_state_dict(logits["lse"].state_dict())
    (fbank,) = M.example_inputs("tv-audio", BATCH, frames=64)
    with torch.no_grad():
        out = {p: m(fbank) for p, m in logits.items()}
    assert torch.all(out["mean"] <= out["lse"] + 1e-6) and torch.all(out["lse"] <= out["max"] + 1e-6)


def test_unknown_pool_is_one_line():
    from edgeprune.errors import EdgepruneError

    with pytest.raises(EdgepruneError, match="pool must be one of lse, max, mean, last, got 'top'"):
        M.build("tv-audio", pool="top")


def shrink_out(layer: nn.Module, keep: int) -> None:
    """Keep the first `keep` output channels of a conv or linear layer."""
    layer.weight = nn.Parameter(layer.weight.data[:keep].clone())
    if layer.bias is not None:
        layer.bias = nn.Parameter(layer.bias.data[:keep].clone())
    setattr(layer, "out_features" if isinstance(layer, nn.Linear) else "out_channels", keep)


def shrink_bn(bn: nn.Module, keep: int) -> None:
    bn.weight = nn.Parameter(bn.weight.data[:keep].clone())
    bn.bias = nn.Parameter(bn.bias.data[:keep].clone())
    bn.running_mean = bn.running_mean[:keep].clone()
    bn.running_var = bn.running_var[:keep].clone()
    bn.num_features = keep


def shrink_lstm(lstm: nn.LSTM, inputs: int, hidden: int) -> nn.LSTM:
    """Keep the first `inputs` input columns and `hidden` units (rows g*H + i of each of the 4 gates)."""
    old = lstm.hidden_size
    rows = torch.cat([torch.arange(hidden) + g * old for g in range(4)])
    new = nn.LSTM(inputs, hidden, batch_first=True)
    with torch.no_grad():
        new.weight_ih_l0.copy_(lstm.weight_ih_l0[rows][:, :inputs])
        new.weight_hh_l0.copy_(lstm.weight_hh_l0[rows][:, :hidden])
        new.bias_ih_l0.copy_(lstm.bias_ih_l0[rows])
        new.bias_hh_l0.copy_(lstm.bias_hh_l0[rows])
    return new


def shrink_conv_in(conv: nn.Module, keep: torch.Tensor) -> None:
    """Keep the input channels `keep` of a conv."""
    conv.weight = nn.Parameter(conv.weight.data[:, keep].clone())
    conv.in_channels = conv.weight.shape[1]


def test_misp_audio_runs_after_hand_pruning():
    """Fewer conv channels and LSTM units: forward reads widths from the weights (no stored widths)."""
    model = M.build("misp-audio").eval()
    shrink_out(model.conv_av2, 300)
    shrink_bn(model.bn_av2, 300)
    model.lstm = shrink_lstm(model.lstm, 300, 100)  # back end sees a 100-high image now
    (fbank,) = M.example_inputs("misp-audio", BATCH, frames=40)
    with torch.no_grad():
        assert model(fbank).shape == (BATCH,)


def test_tv_av_runs_after_hand_pruning_the_lip_embedding():
    model = M.build("tv-av").eval()
    head_conv, head_bn = model.lip_encoder.features[-1][0], model.lip_encoder.features[-1][1]
    shrink_out(head_conv, 100)
    shrink_bn(head_bn, 100)
    first = model.backend.convs[0]
    shrink_conv_in(first, torch.arange(40 + 100))  # the 40 FBank columns, then the 100 kept lip channels
    assert model.lip_encoder.embedding_dim() == 100
    inputs = M.example_inputs("tv-av", BATCH, frames=16, lip_frames=4, lip_size=32)
    with torch.no_grad():
        assert model(*inputs).shape == (BATCH,)


def test_misp_video_runs_after_hand_pruning_the_embedding():
    model = M.build("misp-video").eval()
    shrink_out(model.fc, 200)
    shrink_bn(model.bn_fc, 200)
    model.lstm = shrink_lstm(model.lstm, 200, 64)
    (lips,) = M.example_inputs("misp-video", BATCH, lip_frames=4, lip_size=48)
    with torch.no_grad():
        assert model(lips).shape == (BATCH,)
