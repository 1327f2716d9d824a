"""misp-video: the MISP2021 video wake-word baseline (Conv3d stem, ResNet-18 per frame, FC + BN, LSTM,
then the MISP back end with BatchNorm after every conv, as the CPLR paper prunes it).

Input contract: `lips` (B, Tv, 96, 96) float32, normalised grayscale mouth crops at 25 fps (a 1.3 s clip
is 32 frames; any Tv >= 3 runs). Output: (B,) logit. With the baseline's AvgPool2d(2) after layer4
(cfg `trunk_pool="avg2"`) the lip size must be 33..96 px so the pooled map is 1x1 (96 px: 3x3 -> the
top-left 2x2 is averaged, as in the baseline); `trunk_pool="global"` averages the whole map, any size.

Count reconciliation with the public baseline (extract_lip_embedding_resnet.py + video_kwsnet.py):
Conv3d without bias, every ResNet conv without bias, FC 512->256 with bias + BatchNorm1d, LSTM 256->256,
back end with biases: 13,026,945 parameters (the paper says 13.07 M: -0.33 %). The three BatchNorms
added to the back end (CPLR) add 832: 13,027,777.
"""

from __future__ import annotations

from torch import nn

from edgeprune.errors import EdgepruneError

from .misp_backend import MispBackend
from .registry import ModelSpec, register
from .resnet import ResNet18Trunk

_POOLS = ("avg2", "global")


class MispVideo(nn.Module):
    """lips (B, Tv, H, W) -> Conv3d front end -> ResNet-18 per frame -> FC+BN (256) -> LSTM -> back end."""

    def __init__(self, act: str = "none", trunk_pool: str = "avg2", embed_dim: int = 256,
                 lstm_hidden: int = 256, dropout: float = 0.2, pool: str = "lse"):
        super().__init__()
        self.stem = nn.Conv3d(1, 64, kernel_size=(5, 7, 7), stride=(1, 2, 2), padding=(2, 3, 3), bias=False)
        self.stem_bn = nn.BatchNorm3d(64)
        self.stem_relu = nn.ReLU()
        self.stem_pool = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.trunk = ResNet18Trunk(64)
        self.pool = nn.AvgPool2d(2) if trunk_pool == "avg2" else nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, embed_dim)
        self.bn_fc = nn.BatchNorm1d(embed_dim)
        self.lstm = nn.LSTM(embed_dim, lstm_hidden, num_layers=1, batch_first=True)
        self.backend = MispBackend(act=act, dropout=dropout, pool=pool)

    def forward(self, lips):
        b, t = lips.shape[0], lips.shape[1]
        x = self.stem_pool(self.stem_relu(self.stem_bn(self.stem(lips.unsqueeze(1)))))  # (B, C, Tv, h, w)
        x = x.transpose(1, 2)
        x = x.reshape(b * t, x.shape[2], x.shape[3], x.shape[4])  # one image per frame
        x = self.pool(self.trunk(x))
        x = self.bn_fc(self.fc(x.reshape(b * t, -1)))
        seq, _ = self.lstm(x.reshape(b, t, -1))
        return self.backend(seq)


def pooled_side(size: int) -> int:
    """Side of layer4's output for a size x size lip crop (stem conv, max pool, three stride-2 stages)."""
    for _ in range(5):
        size = (size - 1) // 2 + 1
    return size


def _finalize(cfg: dict) -> dict:
    if cfg["trunk_pool"] not in _POOLS:
        raise EdgepruneError(f"misp-video trunk_pool must be one of {', '.join(_POOLS)}, got {cfg['trunk_pool']!r}")
    size = cfg.get("lip_size", SPEC.lip_size)
    if cfg["trunk_pool"] == "avg2" and isinstance(size, int) and pooled_side(size) // 2 != 1:
        raise EdgepruneError(
            f"misp-video with trunk_pool='avg2' needs lip_size 33..96 (got {size}); use trunk_pool='global'"
        )
    return cfg


SPEC = ModelSpec(
    name="misp-video",
    inputs=("lips",),
    task="binary",
    num_classes=1,
    lip_size=96,
    defaults={"batch_size": 16, "lr": 2e-4, "epochs": 10},
    paper={"params": 13.07e6, "mflops": None, "source": "seed 002 (CPLR) Table I; MISP2021 baseline"},
    summary="MISP2021 video baseline: Conv3d + ResNet-18 per frame, FC+BN, LSTM 256, CNN back end (+BN)",
)


@register(
    SPEC,
    {"act": "none", "trunk_pool": "avg2", "embed_dim": 256, "lstm_hidden": 256, "dropout": 0.2, "pool": "lse"},
    finalize=_finalize,
)
def build_misp_video(act, trunk_pool, embed_dim, lstm_hidden, dropout, pool):
    return MispVideo(act=act, trunk_pool=trunk_pool, embed_dim=embed_dim, lstm_hidden=lstm_hidden, dropout=dropout,
                     pool=pool)
