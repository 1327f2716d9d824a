"""Audio-visual fusion: tv-av (early fusion, ICASSP 2022) and av-decision (decision fusion, CPLR paper).

tv-av input contract: `fbank` (B, T, 40) at 100 fps (16 kHz, 10 ms hop; 1.3 s = 128 frames) and `lips`
(B, Tv, 88, 88) grayscale at 25 fps (1.3 s = 32 frames). The paper concatenates the FBank frames F_A with
the lip embeddings E_V, then applies conv, LSTM and FC layers. Decisions: the two rates are aligned by
upsampling E_V along time to the audio frame count (cfg `upsample`: "nearest", the default, repeats each
lip frame 4 times at 100/25 fps; "linear" interpolates), so F_A stays the raw FBank as in the paper; the
concatenation is along channels in the paper's order [F_A, E_V] (cfg `order="va"` gives [E_V, F_A]);
two stride-2 Conv1d (+BN) take the 552-channel sequence down to 25 fps, then LSTM 128 and FC 128->1.
1,544,225 params (paper 1.55 M: -0.4 %).

av-decision input contract: `fbank` and `lips` as its audio and video models want them (default
misp-audio + misp-video: 96x96 lips). P = a * sigmoid(audio(fbank)) + b * sigmoid(video(lips))
(seed 002 eq. 8; a = b = 0.5 by default), returned as logit(P) with P clamped to [1e-7, 1 - 1e-7]
so that sigmoid(output) = P and BCE-with-logits applies as for every binary model.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from edgeprune.errors import EdgepruneError

from .crnn import CRNNBackend
from .mobilenetv2 import LipMobileNetV2
from .registry import CLIP_KEYS, FBANK_DIM, ModelSpec, build, example_inputs, register, resolve_cfg, spec
from .tv import LIP_DEFAULTS

_ORDERS = ("av", "va")
_UPSAMPLE = ("nearest", "linear")
PROB_EPS = 1e-7


class TVAudioVisual(nn.Module):
    """[fbank, upsampled lip embeddings] concatenated on channels -> CRNN back end -> (B,) logit."""

    def __init__(self, lip_cfg: dict, convs, lstm_hidden: int, fc_hidden: int, order: str = "av",
                 upsample: str = "nearest", pool: str = "lse"):
        super().__init__()
        self.lip_encoder = LipMobileNetV2(**lip_cfg)
        self.backend = CRNNBackend(FBANK_DIM + self.lip_encoder.embedding_dim(), convs, lstm_hidden, fc_hidden, pool)
        self.audio_first = order == "av"
        self.upsample = upsample

    def forward(self, fbank, lips):
        audio = fbank.transpose(1, 2)  # (B, 40, T)
        video = self.lip_encoder(lips).transpose(1, 2)  # (B, D, Tv)
        video = F.interpolate(video, size=audio.shape[-1], mode=self.upsample)  # (B, D, T)
        parts = [audio, video] if self.audio_first else [video, audio]
        return self.backend(torch.cat(parts, dim=1))


class AVDecision(nn.Module):
    """logit(a * P_A + b * P_V) of an audio and a video wake-word model (decision-level fusion)."""

    def __init__(self, audio: nn.Module, video: nn.Module, a: float = 0.5, b: float = 0.5):
        super().__init__()
        self.audio = audio
        self.video = video
        self.a = float(a)
        self.b = float(b)

    def forward(self, fbank, lips):
        prob = self.a * torch.sigmoid(self.audio(fbank)) + self.b * torch.sigmoid(self.video(lips))
        prob = prob.clamp(PROB_EPS, 1.0 - PROB_EPS)
        return torch.log(prob) - torch.log1p(-prob)


def _finalize_tv_av(cfg: dict) -> dict:
    if cfg["order"] not in _ORDERS:
        raise EdgepruneError(f"tv-av order must be one of {', '.join(_ORDERS)}, got {cfg['order']!r}")
    if cfg["upsample"] not in _UPSAMPLE:
        raise EdgepruneError(f"tv-av upsample must be one of {', '.join(_UPSAMPLE)}, got {cfg['upsample']!r}")
    return cfg


def _finalize_decision(cfg: dict) -> dict:
    for role, kind in (("audio", ("fbank",)), ("video", ("lips",))):
        name = cfg[role]
        if spec(name).inputs != kind or spec(name).task != "binary":
            raise EdgepruneError(f"av-decision {role} model must be a binary model taking {kind[0]!r}, got {name!r}")
        sub = cfg[f"{role}_cfg"]
        if not isinstance(sub, dict):
            raise EdgepruneError(f"av-decision {role}_cfg must be a dict, got {type(sub).__name__}")
        cfg[f"{role}_cfg"] = {k: v for k, v in resolve_cfg(name, **sub).items() if k not in CLIP_KEYS}
    a, b = cfg["a"], cfg["b"]
    if not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in (a, b)):
        raise EdgepruneError(f"av-decision weights a and b must be numbers, got a={a!r}, b={b!r}")
    if a < 0 or b < 0 or not 0 < a + b <= 1:
        raise EdgepruneError(f"av-decision needs a, b >= 0 and 0 < a + b <= 1, got a={a}, b={b}")
    return cfg


def _decision_inputs(batch: int, cfg: dict) -> tuple:
    clip = {k: cfg[k] for k in CLIP_KEYS if k in cfg}
    (fbank,) = example_inputs(cfg["audio"], batch, **cfg["audio_cfg"], **clip)
    (lips,) = example_inputs(cfg["video"], batch, **cfg["video_cfg"], **clip)
    return fbank, lips


TV_AV_SPEC = ModelSpec(
    name="tv-av",
    inputs=("fbank", "lips"),
    task="binary",
    num_classes=1,
    lip_size=88,
    defaults={"batch_size": 16, "lr": 2e-4, "epochs": 5},
    paper={"params": 1.55e6, "mflops": 656.48, "source": "seed 001 (ICASSP 2022) Table 2, audio-visual"},
    summary="ICASSP 2022 audio-visual model: early fusion [FBank, lip embedding], 2 Conv1d (+BN), LSTM, FC",
)

DECISION_SPEC = ModelSpec(
    name="av-decision",
    inputs=("fbank", "lips"),
    task="binary",
    num_classes=1,
    lip_size=96,
    defaults={"batch_size": 16, "lr": 2e-4, "epochs": 10},
    paper={"params": 15.75e6, "mflops": None, "source": "seed 002 (CPLR) Table I, audio-video fusion"},
    summary="Decision fusion P = a*P_A + b*P_V of misp-audio and misp-video (set by cfg), as a logit",
)


@register(
    TV_AV_SPEC,
    {"lip": dict(LIP_DEFAULTS), "convs": [[256, 5, 2], [256, 5, 2]], "lstm_hidden": 96, "fc_hidden": 128,
     "order": "av", "upsample": "nearest", "pool": "lse"},
    finalize=_finalize_tv_av,
)
def build_tv_av(lip, convs, lstm_hidden, fc_hidden, order, upsample, pool):
    return TVAudioVisual(lip, convs, lstm_hidden, fc_hidden, order=order, upsample=upsample, pool=pool)


@register(
    DECISION_SPEC,
    {"audio": "misp-audio", "video": "misp-video", "audio_cfg": {}, "video_cfg": {}, "a": 0.5, "b": 0.5},
    inputs_fn=_decision_inputs,
    finalize=_finalize_decision,
)
def build_av_decision(audio, video, audio_cfg, video_cfg, a, b):
    return AVDecision(build(audio, **audio_cfg), build(video, **video_cfg), a=a, b=b)
