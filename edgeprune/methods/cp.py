"""CP, network slimming (Liu et al. 2017): sparse training, one global BN-scale cut to the target WSR,
then a fine-tune at a smaller learning rate (--finetune-lr, default lr/10)."""

from __future__ import annotations

from edgeprune.methods.cplr import CPLR


class CP(CPLR):
    name = "cp"

    def per_round(self) -> float:
        return self.cfg.target_wsr  # one shot: the whole cut in round 1

    def max_rounds(self) -> int:
        return 1

    def retrain(self, state, n, stage):
        return state, None  # no retraining between cut and fine-tune
