"""Parameter counts of every zoo model against the papers' figures, and the baseline reconciliations."""

import pytest
from torch import nn

import edgeprune.models as M

# name -> (paper params, relative tolerance): 3 % for the MISP2021 baselines, 10 % for ICASSP Table 2.
TARGETS = {
    "misp-audio": (2.68e6, 0.03),
    "misp-video": (13.07e6, 0.03),
    "tv-lip-mbv2": (0.39e6, 0.10),
    "tv-audio": (0.35e6, 0.10),
    "tv-video": (1.19e6, 0.10),
    "tv-av": (1.55e6, 0.10),
    "av-decision": (15.75e6, 0.03),
    "lenet-300-100": (266_610, 0.0),
    "lenet5": (61_706, 0.0),
}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def bn_params(module: nn.Module) -> int:
    return sum(n_params(m) for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))


def test_every_model_has_a_target():
    assert sorted(TARGETS) == M.names()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_param_count_matches_paper(name):
    target, tol = TARGETS[name]
    count = n_params(M.build(name))
    assert abs(count - target) <= tol * target, f"{name}: {count} params vs paper {target:.0f}"
    assert M.spec(name).paper["params"] == target


def conv(cin, cout, kh, kw, bias=True):
    return cin * cout * kh * kw + (cout if bias else 0)


def lstm(cin, hidden):
    return 4 * hidden * (cin + hidden) + 8 * hidden


# The public MISP2021 back end (conv1..conv3, fc1..fc3), all with bias, no BatchNorm.
MISP_BACKEND = conv(1, 32, 5, 5) + conv(32, 128, 5, 5) + conv(128, 256, 5, 5) + (
    256 * 512 + 512 + 512 * 256 + 256 + 256 + 1
)


def test_misp_audio_is_the_baseline_plus_batchnorm():
    baseline = conv(40, 256, 1, 5) + conv(256, 512, 1, 5) + lstm(512, 256) + MISP_BACKEND
    model = M.build("misp-audio")
    assert baseline == 2_681_793
    assert n_params(model) - bn_params(model) == baseline
    assert bn_params(model) == 2 * (256 + 512 + 32 + 128 + 256)


def test_misp_video_is_the_baseline_plus_backend_batchnorm():
    def block(cin, cout, stride):
        n = conv(cin, cout, 3, 3, False) + conv(cout, cout, 3, 3, False) + 4 * cout
        return n + (conv(cin, cout, 1, 1, False) + 2 * cout if stride != 1 or cin != cout else 0)

    trunk = sum(block(a, b, s) + block(b, b, 1) for a, b, s in [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)])
    front = 64 * 5 * 7 * 7 + 2 * 64  # Conv3d without bias + BatchNorm3d
    baseline = front + trunk + (512 * 256 + 256) + 2 * 256 + lstm(256, 256) + MISP_BACKEND
    model = M.build("misp-video")
    assert n_params(model) == baseline + 2 * (32 + 128 + 256)
    assert n_params(model.backend) - bn_params(model.backend) == MISP_BACKEND


def test_av_decision_is_the_sum_of_its_parts():
    model = M.build("av-decision")
    assert n_params(model) == n_params(M.build("misp-audio")) + n_params(M.build("misp-video"))


def test_tv_models_share_the_lip_encoder_size():
    lip = n_params(M.build("tv-lip-mbv2"))
    assert n_params(M.build("tv-video").lip_encoder) == lip
    assert n_params(M.build("tv-av").lip_encoder) == lip


def test_lip_encoder_macs_match_the_paper_on_a_one_second_clip():
    """The width-0.75 + 512-head choice reproduces Table 2's 642.56 MFLOPs as MACs on 25 frames of 88x88."""
    import edgeprune

    model = M.build("tv-lip-mbv2").eval()
    counts = edgeprune.count(model, M.example_inputs("tv-lip-mbv2", 1, lip_frames=25))
    assert counts.params == n_params(model)
    assert abs(counts.macs / 1e6 - 642.56) <= 0.005 * 642.56
