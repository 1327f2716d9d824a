"""Method: the interface every pruning schedule implements (start, one round, finish), with the two cuts
they share: physical channel removal through ChannelPruner and unstructured magnitude masks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from edgeprune.errors import EdgepruneError
from edgeprune.methods.stopping import Stage

if TYPE_CHECKING:  # torch is imported when a run starts, not when the command line lists the methods
    from edgeprune.methods.context import Context
    from edgeprune.methods.state import RoundState


class Method(ABC):
    """A pruning schedule. Subclasses set `name`, `help` and `defaults`, implement `start` and `retrain`, and
    register with `@edgeprune.methods.registry.register`: the whole method is one file."""

    name = ""
    #: one line for `edgeprune slim --help`
    help = ""
    #: SlimConfig fields this method decides when the user leaves them unset (None by default), e.g.
    #: per_round; the model and the data source may still recommend training values above these
    defaults: dict = {}
    #: the --granularity values the method supports
    granularities: tuple[str, ...] = ("channel",)
    #: SlimConfig fields only this method uses: any other method refuses a value other than the default
    options: tuple[str, ...] = ()

    @classmethod
    def check(cls, cfg) -> None:
        """Refuse settings this method cannot run (one EdgepruneError line), before any work starts."""

    @classmethod
    def validate(cls, cfg, others: dict) -> None:
        """The checks every method shares (granularity, other methods' options), then `check`."""
        if cfg.granularity not in cls.granularities:
            able = [n for n, m in others.items() if cfg.granularity in m.granularities]
            raise EdgepruneError(f"--granularity {cfg.granularity} is for {' and '.join(able) or 'no method'}, "
                                 f"not {cls.name}")
        from edgeprune.methods.config import SlimConfig

        for other in others.values():
            for name in other.options:
                if name not in cls.options and getattr(cfg, name) != SlimConfig.field_default(name):
                    raise EdgepruneError(f"--{name.replace('_', '-')} is for --method {other.name}")
        cls.check(cfg)

    def __init__(self, ctx: Context):
        from edgeprune.methods.staged import plan_stages

        self.ctx = ctx
        self.cfg = ctx.cfg
        self.stages: list[Stage] = plan_stages(ctx)
        if self.cfg.ratios == "auto":  # per-group targets (methods/auto_ratios.py): refuse what it cannot run
            from edgeprune.methods.auto_ratios import check

            check(self)

    # -- the schedule's knobs -------------------------------------------
    def per_round(self) -> float:
        return self.cfg.per_round

    def max_rounds(self) -> int:
        return self.cfg.max_rounds

    def planned_rounds(self) -> int:
        """Rounds the schedule expects (the progress bar's total)."""
        from edgeprune.methods.schedule import rounds_to_target

        return sum(rounds_to_target(st.target, self.per_round()) for st in self.stages)

    def granularity(self) -> str:
        return self.cfg.granularity

    # -- steps ----------------------------------------------------------
    @abstractmethod
    def start(self) -> tuple[RoundState, object]:
        """Round 0: build and train the dense model -> (state, theta0 model or None)."""

    def round(self, state: RoundState, n: int, amount: float, stage: Stage, stage_index: int) -> tuple[RoundState, dict]:
        """Round n: cut `amount`, then retrain -> (state, info for metrics.json)."""
        if stage_index != state.stage:
            state = state.replace(stage=stage_index)
        state, info = self.cut(state, amount, stage)
        state, fit = self.retrain(state, n, stage)
        info["fit"] = fit
        return state, info

    @abstractmethod
    def retrain(self, state: RoundState, n: int, stage: Stage) -> tuple[RoundState, dict | None]:
        """Retrain after round n's cut -> (state, the fit's summary or None)."""

    def finish(self, state: RoundState) -> tuple[RoundState, dict | None]:
        """The final fine-tune (finetune_epochs at finetune_lr, or the last round's rate)."""
        c = self.cfg
        lr = c.finetune_lr if c.finetune_lr is not None else state.lr
        l1 = c.l1 if c.finetune_l1 else 0.0
        fit = self.ctx.fit(state.model, "final", epochs=c.finetune_epochs, lr=lr, l1_bn=l1, masks=state.masks,
                           frozen=self.frozen(state), desc="fine-tune")
        return state.replace(lr=lr if fit else state.lr), fit

    def frozen(self, state: RoundState) -> tuple[str, ...]:
        """Module prefixes not trained (the finished stages' parts)."""
        return tuple(self.stages[min(state.stage, len(self.stages) - 1)].frozen)

    # -- the cuts -------------------------------------------------------
    def importance(self) -> str:
        return self.cfg.importance

    #: set by the round loop under --latency-budget (methods/latency_cut.py): the next cut, to per-group widths
    #: chosen from the latency table, taken instead of `amount`
    next_cut = None

    def cut(self, state: RoundState, amount: float, stage: Stage) -> tuple[RoundState, dict]:
        if self.next_cut is not None:
            planned, self.next_cut = self.next_cut, None
            return planned.apply(self, state, stage)
        if self.granularity() == "weight":
            return self.cut_weights(state, amount, stage)
        if self.cfg.kernel_widths:  # the method's cut, moved up to widths the runtime's kernels like
            from edgeprune.methods.kernel_cut import cut

            return cut(self, state, amount, stage)
        if self.cfg.ratios == "auto":  # each group cut toward its own target ratio
            from edgeprune.methods.auto_ratios import cut

            return cut(self, state, amount, stage)
        return self.cut_channels(state, amount, stage)

    def stage_pruner(self, model, stage: Stage):
        """This run's ChannelPruner on `model` for `stage`: the stage's ignored prefixes, and for a staged part
        everything outside it, keep their channels (every channel cut starts here)."""
        from edgeprune.methods.context import modules_outside, modules_under

        ignored = list(modules_under(model, stage.ignored))
        if stage.part is not None:
            ignored += modules_outside(model, (stage.part,))
        return self.ctx.pruner(model, importance=self.importance(), scope=self.cfg.scope, ignored=sorted(set(ignored)))

    def cut_channels(self, state: RoundState, amount: float, stage: Stage) -> tuple[RoundState, dict]:
        """Remove channels physically from state.model (in place) with ChannelPruner."""
        report = self.stage_pruner(state.model, stage).prune(amount, unit=self.cfg.per_round_unit)
        rep = report.to_dict()
        history = list(state.history) + list(rep.get("history") or [])
        info = {"cut": {k: rep.get(k) for k in ("amount", "unit", "achieved", "reached", "note", "params_before",
                                                "params_after", "macs_before", "macs_after", "max_diff")},
                "layers": rep.get("layers"), "untouched": rep.get("untouched")}
        return state.replace(history=history), info

    def cut_weights(self, state: RoundState, amount: float, stage: Stage) -> tuple[RoundState, dict]:
        """Mask `amount` of the surviving weights of the stage's part by magnitude (layer-wise or global)."""
        from edgeprune.methods import masks as M

        model = state.model
        exclude = tuple(stage.ignored) + tuple(stage.frozen)
        weights = M.prunable_weights(model, exclude=exclude)
        if stage.part is not None:
            weights = {k: v for k, v in weights.items() if k.startswith(stage.part + ".")}
        old = state.masks if state.masks is not None else M.full_masks(M.prunable_weights(model))
        new = M.magnitude_masks(weights, amount, self.cfg.scope, {k: old[k] for k in weights})
        masks = dict(old)
        masks.update(new)
        M.apply_masks(model, masks)
        before = M.masked_count(old)
        after = M.masked_count(masks)
        info = {"cut": {"amount": amount, "unit": "weights", "scope": self.cfg.scope,
                        "masked_before": before, "masked_after": after}}
        return state.replace(masks=masks), info
