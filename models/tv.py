"""tv-audio and tv-video: the single-modality wake-word models of the ICASSP 2022 paper (seed 001).

The paper gives the layer types (conv, LSTM, FC; sigmoid output) and Table 2's sizes, not the widths;
the widths below are edgeprune's choice to land on Table 2 (they are cfg, so they can be changed):
- tv-audio: fbank (B, T, 40), 16 kHz, 10 ms hop (100 fps; 1.3 s = 128 frames; any T runs) ->
  Conv1d 40->128 k5 s2, Conv1d 128->160 k5 s2 (to 25 fps), LSTM 160, FC 160->128->1.
  355,393 params (paper 0.35 M: +1.5 %).
- tv-video: lips (B, Tv, 88, 88), grayscale, 25 fps (1.3 s = 32 frames) -> tv-lip-mbv2 (512-dim
  embedding per frame) -> Conv1d 512->256 k3, Conv1d 256->256 k3 (stride 1: already 25 fps),
  LSTM 128, FC 128->128->1. 1,165,601 params (paper 1.19 M: -2.1 %).
Each conv is followed by BatchNorm + ReLU (edgeprune's addition, so BN-scale pruning applies).
Output: (B,) logit; the per-frame logits are pooled over time by log-sum-exp (cfg `pool`; "max" is the
MISP2021 baseline's, which trains far worse: see pooling.py).
"""

from __future__ import annotations

from torch import nn

from .crnn import CRNNBackend
from .mobilenetv2 import LipMobileNetV2
from .mobilenetv2 import SPEC as LIP_SPEC
from .registry import FBANK_DIM, ModelSpec, register


class TVAudio(nn.Module):
    """fbank (B, T, 40) -> CRNN back end -> (B,) logit."""

    def __init__(self, convs, lstm_hidden: int, fc_hidden: int, pool: str = "lse"):
        super().__init__()
        self.backend = CRNNBackend(FBANK_DIM, convs, lstm_hidden, fc_hidden, pool)

    def forward(self, fbank):
        return self.backend(fbank.transpose(1, 2))


class TVVideo(nn.Module):
    """lips (B, Tv, 88, 88) -> MobileNetV2 lip encoder -> (B, D, Tv) -> CRNN back end -> (B,) logit."""

    def __init__(self, lip_cfg: dict, convs, lstm_hidden: int, fc_hidden: int, pool: str = "lse"):
        super().__init__()
        self.lip_encoder = LipMobileNetV2(**lip_cfg)
        self.backend = CRNNBackend(self.lip_encoder.embedding_dim(), convs, lstm_hidden, fc_hidden, pool)

    def forward(self, lips):
        return self.backend(self.lip_encoder(lips).transpose(1, 2))


LIP_DEFAULTS = {"width": 0.75, "embed_dim": 512, "stem_channels": 32}

AUDIO_SPEC = ModelSpec(
    name="tv-audio",
    inputs=("fbank",),
    task="binary",
    num_classes=1,
    lip_size=None,
    defaults={"batch_size": 64, "lr": 1e-4, "epochs": 5},
    paper={"params": 0.35e6, "mflops": 11.29, "source": "seed 001 (ICASSP 2022) Table 2, audio"},
    summary="ICASSP 2022 audio wake-word model: 2 strided Conv1d (+BN), LSTM 160, FC 128",
)

VIDEO_SPEC = ModelSpec(
    name="tv-video",
    inputs=("lips",),
    task="binary",
    num_classes=1,
    lip_size=LIP_SPEC.lip_size,
    defaults={"batch_size": 16, "lr": 2e-4, "epochs": 5},
    paper={"params": 1.19e6, "mflops": 651.68, "source": "seed 001 (ICASSP 2022) Table 2, video"},
    summary="ICASSP 2022 video wake-word model: MobileNetV2 lip encoder, 2 Conv1d (+BN), LSTM 128, FC 128",
)


@register(AUDIO_SPEC, {"convs": [[128, 5, 2], [160, 5, 2]], "lstm_hidden": 160, "fc_hidden": 128, "pool": "lse"})
def build_tv_audio(convs, lstm_hidden, fc_hidden, pool):
    return TVAudio(convs, lstm_hidden, fc_hidden, pool)


@register(
    VIDEO_SPEC,
    {"lip": dict(LIP_DEFAULTS), "convs": [[256, 3, 1], [256, 3, 1]], "lstm_hidden": 128, "fc_hidden": 128,
     "pool": "lse"},
)
def build_tv_video(lip, convs, lstm_hidden, fc_hidden, pool):
    return TVVideo(lip, convs, lstm_hidden, fc_hidden, pool)
