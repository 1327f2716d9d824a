"""CPLR (seed 002, Algorithm 1): sparse pre-training to the early-stop point; rounds that cut alpha of the
current params by global BN scale and retrain with learning-rate rewinding (x k once CR < 0.2); fine-tune."""

from __future__ import annotations

from edgeprune.methods.base import Method
from edgeprune.methods.schedule import next_lr
from edgeprune.methods.state import RoundState


class CPLR(Method):
    name = "cplr"

    def start(self):
        c = self.cfg
        model = self.ctx.build()
        fit = self.ctx.fit(model, 0, epochs=c.pretrain_epochs, lr=c.lr, l1_bn=c.l1, desc="sparse pre-train")
        return RoundState(model=model, lr=c.lr, extra={"fit": fit}), None

    def retrain(self, state, n, stage):
        """Learning-rate rewinding: a fresh schedule from its start, at alpha_{n+1} = alpha_n * k (eq. 6-7)."""
        from edgeprune.methods.evaluation import live_params

        c = self.cfg
        cr_now = live_params(state.model, state.masks) / self.ctx.dense_params
        lr = next_lr(state.lr, cr_now, c.k, c.k_below_cr)
        fit = self.ctx.fit(state.model, n, epochs=c.epochs, lr=lr, l1_bn=c.l1, frozen=self.frozen(state),
                           desc=f"round {n} retrain")
        return state.replace(lr=lr), fit
