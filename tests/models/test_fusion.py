"""Fusion semantics: tv-av's early concatenation and alignment, av-decision's a*P_A + b*P_V."""

import pytest
import torch

import edgeprune.models as M
from edgeprune.errors import EdgepruneError


def lip_model(**cfg):
    # train mode: BatchNorm uses batch statistics, so the freshly initialised lip encoder gives O(1)
    # embeddings that differ from frame to frame (in eval mode at init they shrink to ~1e-6).
    return M.build("tv-av", **cfg).train()


def first_conv_input(model, inputs):
    seen = []
    handle = model.backend.convs[0].register_forward_hook(lambda m, i, o: seen.append(i[0]))
    with torch.no_grad():
        model(*inputs)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize("order", ["av", "va"])
def test_tv_av_concatenates_fbank_and_upsampled_lip_embeddings(order):
    model = lip_model(order=order)
    fbank, lips = M.example_inputs("tv-av", 2, frames=16, lip_frames=4, lip_size=32)
    fused = first_conv_input(model, (fbank, lips))
    with torch.no_grad():
        emb = model.lip_encoder(lips)  # (B, Tv, D)
    audio = fbank.transpose(1, 2)
    video = emb.repeat_interleave(4, dim=1).transpose(1, 2)  # 25 fps -> 100 fps: each lip frame 4 times
    expected = torch.cat([audio, video] if order == "av" else [video, audio], dim=1)
    assert fused.shape == (2, 40 + emb.shape[-1], 16)
    assert torch.equal(fused, expected)


def test_tv_av_aligns_any_audio_length_to_the_lips():
    model = lip_model()
    fbank, lips = M.example_inputs("tv-av", 1, frames=13, lip_frames=3, lip_size=32)
    fused = first_conv_input(model, (fbank, lips))
    with torch.no_grad():
        emb = model.lip_encoder(lips)[0]  # (Tv, D)
    # nearest: audio frame t takes lip frame floor(t * Tv / T)
    for t in range(13):
        assert torch.equal(fused[0, 40:, t], emb[t * 3 // 13])


def test_tv_av_linear_upsampling_interpolates():
    model = lip_model(upsample="linear")
    fbank, lips = M.example_inputs("tv-av", 1, frames=16, lip_frames=4, lip_size=32)
    fused = first_conv_input(model, (fbank, lips))
    with torch.no_grad():
        emb = model.lip_encoder(lips)[0]
    assert (emb[1] - emb[2]).abs().max() > 0.1
    # align_corners=False: output frame 6 samples lip position (6 + 0.5) * 4 / 16 - 0.5 = 1.125
    torch.testing.assert_close(fused[0, 40:, 6], 0.875 * emb[1] + 0.125 * emb[2])


@pytest.mark.parametrize("bad", [{"order": "vv"}, {"upsample": "cubic"}])
def test_tv_av_bad_options_raise(bad):
    key = next(iter(bad))
    with pytest.raises(EdgepruneError, match=f"tv-av {key}"):
        M.build("tv-av", **bad)


def tv_decision(**cfg):
    return M.build("av-decision", audio="tv-audio", video="tv-video", **cfg).eval()


def decision_inputs(**cfg):
    return M.example_inputs("av-decision", 2, audio="tv-audio", video="tv-video",
                            frames=16, lip_frames=4, lip_size=32, **cfg)


@pytest.mark.parametrize("a,b", [(0.5, 0.5), (0.7, 0.3), (1.0, 0.0)])
def test_av_decision_is_weighted_probability(a, b):
    model = tv_decision(a=a, b=b)
    fbank, lips = decision_inputs()
    with torch.no_grad():
        out = model(fbank, lips)
        expected = a * torch.sigmoid(model.audio(fbank)) + b * torch.sigmoid(model.video(lips))
    assert out.shape == (2,)
    torch.testing.assert_close(torch.sigmoid(out), expected, atol=1e-6, rtol=1e-5)


def test_av_decision_stays_finite_on_saturated_logits():
    model = tv_decision()
    fbank, lips = decision_inputs()
    with torch.no_grad():
        model.audio.backend.fc2.bias.fill_(1e4)
        model.video.backend.fc2.bias.fill_(1e4)
        high = model(fbank, lips)
        model.audio.backend.fc2.bias.fill_(-1e4)
        model.video.backend.fc2.bias.fill_(-1e4)
        low = model(fbank, lips)
    assert torch.isfinite(high).all() and torch.isfinite(low).all()
    assert (high > 15).all() and (low < -15).all()


def test_av_decision_default_is_the_misp_pair():
    cfg = M.build("av-decision").edgeprune_arch["cfg"]
    assert (cfg["audio"], cfg["video"], cfg["a"], cfg["b"]) == ("misp-audio", "misp-video", 0.5, 0.5)
    assert cfg["video_cfg"]["trunk_pool"] == "avg2"  # the sub-model's cfg is recorded resolved
    fbank, lips = M.example_inputs("av-decision")
    assert fbank.shape == (1, 128, 40) and lips.shape == (1, 32, 96, 96)


def test_av_decision_passes_sub_configs():
    model = tv_decision(audio_cfg={"lstm_hidden": 32})
    assert model.audio.backend.lstm.hidden_size == 32
    assert model.audio.edgeprune_arch == {"zoo": "tv-audio", "cfg": {**M.resolve_cfg("tv-audio"), "lstm_hidden": 32}}


@pytest.mark.parametrize(
    "cfg,message",
    [
        ({"a": 0.8, "b": 0.8}, "0 < a \\+ b <= 1"),
        ({"a": -0.1, "b": 0.5}, "a, b >= 0"),
        ({"a": "half"}, "must be numbers"),
        ({"audio": "tv-video"}, "audio model must be a binary model taking 'fbank'"),
        ({"video": "tv-lip-mbv2"}, "video model must be a binary model taking 'lips'"),
        ({"audio_cfg": {"nope": 1}}, "no config key 'nope'"),
    ],
)
def test_av_decision_bad_config_raises(cfg, message):
    with pytest.raises(EdgepruneError, match=message):
        M.build("av-decision", **cfg)
