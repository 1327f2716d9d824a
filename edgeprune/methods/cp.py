"""CP, network slimming (Liu et al. 2017): sparse training, one global BN-scale cut to the target WSR,
then a fine-tune at a smaller learning rate (--finetune-lr, default lr/10)."""

from __future__ import annotations

from edgeprune.methods.config import Follow
from edgeprune.methods.cplr import CPLR
from edgeprune.methods.registry import register


@register
class CP(CPLR):
    name = "cp"
    help = "network slimming (Liu et al. 2017): sparse training, one global cut to the target, fine-tune at lr/10"
    # the one shot is the whole schedule: no per-round share and no step ceiling (1.0)
    defaults = dict(scope="global", importance="bn_scale+l1", max_step_share=1.0,
                    finetune_lr=Follow("train.lr", divide=10))

    def per_round(self) -> float:
        return self.cfg.target_wsr  # one shot: the whole cut in round 1

    def max_rounds(self) -> int:
        return 1

    def retrain(self, state, n, stage):
        return state, None  # no retraining between cut and fine-tune
