"""LTH (Frankle & Carbin; seed 003): train, cut p % of the survivors by magnitude, reset the survivors to
theta_0 (or theta_k, --rewind-epoch), retrain the full schedule; --ticket starts from another run's ticket."""

from __future__ import annotations

from pathlib import Path

from edgeprune.errors import EdgepruneError
from edgeprune.methods.base import Method
from edgeprune.methods.registry import register
from edgeprune.methods.state import RoundState, clone_model, read_state, read_theta0
from edgeprune.rundir import RunDir


@register
class LTH(Method):
    name = "lth"
    help = "LTH (seed 003): train, cut by magnitude, rewind the survivors to theta_0 (or theta_k), retrain"
    defaults = dict(per_round=0.2, scope="layerwise", importance="l1", finetune_epochs=0, max_step_share=0.5)
    granularities = ("channel", "weight")
    options = ("ticket", "rewind_epoch")

    @classmethod
    def check(cls, cfg):
        epochs = cfg.train_value("epochs")
        if epochs is not None and cfg.rewind_epoch >= epochs:
            raise EdgepruneError(f"--rewind-epoch ({cfg.rewind_epoch}) must be below --epochs ({epochs})")

    def start(self):
        c = self.cfg
        if c.ticket:
            return self._start_from_ticket(c.ticket)
        model = self.ctx.build()
        self.ctx.fit(model, "rewind", epochs=c.rewind_epoch, lr=c.train.lr, desc=f"train to theta_{c.rewind_epoch}")
        theta0 = clone_model(model)
        fit = self.ctx.fit(model, 0, epochs=c.train.epochs - c.rewind_epoch, lr=c.train.lr, desc="train")
        self._theta0 = theta0
        return RoundState(model=model, lr=c.train.lr, extra={"fit": fit}), theta0

    def _start_from_ticket(self, path: str):
        """Seed 003's transfer: the other run's final mask/architecture on its theta_0, trained here."""
        other = RunDir(path)
        if not other.exists():
            raise EdgepruneError(f"--ticket {path}: not a run directory (no config.json)")
        ocfg = other.config()
        if ocfg.get("method") != "lth" or ocfg.get("model") != self.cfg.model or ocfg.get("model_cfg") != self.cfg.model_cfg:
            raise EdgepruneError(f"--ticket {path}: an lth run of model {ocfg.get('model')!r} "
                                 f"({ocfg.get('method')}), not lth on {self.cfg.model!r}")
        if ocfg.get("granularity") != self.cfg.granularity:
            raise EdgepruneError(f"--ticket {path} has granularity {ocfg.get('granularity')}, this run {self.cfg.granularity}")
        src = other.final_path if other.finished() else (other.round_path(other.last_round())
                                                         if other.last_round() is not None else None)
        if src is None:
            raise EdgepruneError(f"--ticket {path}: the run has no finished round yet")
        ticket = read_state(src, self.cfg.device)
        theta0 = read_theta0(other.round_path(0), self.cfg.device)
        model = self._reset(theta0, ticket)
        fit = self.ctx.fit(model, 0, epochs=self.cfg.train.epochs - self.cfg.rewind_epoch,
                           lr=self.cfg.train.lr,
                           masks=ticket.masks, desc="train ticket")
        self._theta0 = theta0
        extra = {"fit": fit, "ticket": str(Path(src).resolve())}
        return RoundState(model=model, lr=self.cfg.train.lr, history=ticket.history, masks=ticket.masks, extra=extra), theta0

    def theta0(self):
        if getattr(self, "_theta0", None) is None:
            self._theta0 = read_theta0(self.ctx.rundir.round_path(0), self.cfg.device)
        return self._theta0

    def _reset(self, theta0, state: RoundState):
        """theta_0 with the state's channel cuts replayed and its masks applied: the survivors rewound."""
        from edgeprune.methods import masks as M
        from edgeprune.pruning import replay

        model = clone_model(theta0)
        if state.history:
            replay(model, self.ctx.example, state.history)
        if state.masks is not None:
            M.apply_masks(model, state.masks)
        return model

    def retrain(self, state, n, stage):
        c = self.cfg
        model = self._reset(self.theta0(), state)
        fit = self.ctx.fit(model, n, epochs=c.train.epochs - c.rewind_epoch, lr=c.train.lr, masks=state.masks,
                           frozen=self.frozen(state), desc=f"round {n} retrain from theta_{c.rewind_epoch}")
        return state.replace(model=model), fit
