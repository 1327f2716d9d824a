"""LTH-IF (seed 001, Algorithm 1): E epochs first, then after every iteration a magnitude cut on the current
trained weights and one more epoch from those weights (iterative fine-tuning, no rewinding)."""

from __future__ import annotations

from edgeprune.methods.base import Method
from edgeprune.methods.registry import register
from edgeprune.methods.schedule import lthif_plan


@register
class LTHIF(Method):
    name = "lth-if"
    help = "LTH-IF (seed 001): small layer-wise magnitude cuts, each retrained briefly from the trained weights"
    defaults = dict(per_round=0.05, scope="layerwise", importance="l1", finetune_epochs=0, max_step_share=0.5)
    granularities = ("channel", "weight")

    def start(self):
        from edgeprune.methods.state import RoundState

        c = self.cfg
        model = self.ctx.build()
        fit = self.ctx.fit(model, 0, epochs=c.first_epochs, lr=c.train.lr, desc="iteration 1")
        return RoundState(model=model, lr=c.train.lr, extra={"fit": fit}), None

    def planned_rounds(self) -> int:
        """Iterations t = 2..T of Algorithm 1 (one prune before each), per stage."""
        c = self.cfg
        return sum(len(lthif_plan(st.target, c.per_round, c.first_epochs, c.iter_epochs, c.max_rounds)) - 1
                   for st in self.stages)

    def retrain(self, state, n, stage):
        c = self.cfg
        fit = self.ctx.fit(state.model, n, epochs=c.iter_epochs, lr=c.train.lr, masks=state.masks,
                           frozen=self.frozen(state), desc=f"iteration {n + 1}")
        return state, fit
