"""The world of one slim run: resolved config, model spec, data, example inputs, the dense reference, and
factories for the trainer and the pruner, so that methods stay thin schedules."""

from __future__ import annotations

from functools import cached_property

from torch import nn

from edgeprune.errors import EdgepruneError
from edgeprune.methods.config import DEFAULT_MODEL, SlimConfig
from edgeprune.rundir import RunDir
from edgeprune.methods.seeding import step_seed


def resolve(cfg: SlimConfig) -> SlimConfig:
    """Resolve a config against its model's spec (needs the zoo, not the data): methods/resolve.py."""
    from edgeprune import models

    name = cfg.model or DEFAULT_MODEL
    spec = models.spec(name)
    if spec.task not in ("binary", "multiclass"):
        raise EdgepruneError(f"model {name!r} is a {spec.task} model; slim needs a binary or multiclass model")
    if cfg.model_cfg:
        models.resolve_cfg(name, **cfg.model_cfg)  # unknown keys raise here, before any work
    return cfg.resolve(spec.defaults)


class Context:
    """Everything a method needs; built once per invocation of `run`."""

    def __init__(self, cfg: SlimConfig):
        from edgeprune import models

        self.cfg = cfg
        self.spec = models.spec(cfg.model)
        self.rundir = RunDir(cfg.out)

    # -- data and model --------------------------------------------------
    @cached_property
    def data(self):
        from edgeprune.data import open_data
        from edgeprune.data.progress import silenced

        n = self.cfg.data_size
        sizes = {} if n is None else {"train": n, "dev": max(-(-n // 3), 10), "test": max(-(-n // 3), 10)}
        if self.cfg.data.partition(":")[0] in ("folder", "misp2021"):
            sizes["clip_s"] = self.cfg.clip_seconds
            # whole training recordings, so augmentation can draw a random window each epoch
            sizes["full_waves"] = bool(self.cfg.train.augment)
        lip_size = self.spec.lip_size or 88
        with silenced(not self.cfg.progress):
            bundle = open_data(self.cfg.data, inputs=self.spec.inputs, lip_size=lip_size, seed=self.cfg.seed,
                               skip_bad=self.cfg.skip_bad, **sizes)
        if bundle.task != self.spec.task:
            raise EdgepruneError(f"data {self.cfg.data!r} is {bundle.task} but model {self.cfg.model!r} is {self.spec.task}")
        if bundle.bad:
            from edgeprune.atomic import write_json

            self.rundir.path.mkdir(parents=True, exist_ok=True)
            write_json(self.rundir.path / "data.json", {"data": self.cfg.data, "skipped": bundle.bad})
            print(f"skipped {len(bundle.bad)} bad data file(s), listed in {self.rundir.path / 'data.json'}")
        return bundle

    def checkpoint_meta(self, metrics: dict) -> dict:
        """What every saved round carries for inference and export: the data it was trained on, the feature
        normalisation of its training split, and the decision threshold chosen on dev."""
        meta = {"data": self.cfg.data, "feature_stats": self.data.stats}
        threshold = (metrics.get("dev") or {}).get("threshold")
        if threshold is not None:
            meta["threshold"] = threshold
        return meta

    @cached_property
    def example(self) -> tuple:
        """One batch-of-one input tuple shaped like the data (what the pruner traces and count measures)."""
        item = self.data.train[0]
        return tuple(item[name].unsqueeze(0).float() for name in self.spec.inputs)

    def build(self) -> nn.Module:
        """A freshly initialised dense model (seed it first)."""
        from edgeprune import models

        return models.build(self.cfg.model, **(self.cfg.model_cfg or {}))

    @cached_property
    def dense(self):
        """Counts of the dense model and its params per module prefix (the WSR reference)."""
        import torch

        from edgeprune import count

        with torch.random.fork_rng():
            model = self.build()
        return {"counts": count(model, self.example), "module_params": _params_by_prefix(model)}

    @property
    def dense_params(self) -> int:
        return int(self.dense["counts"].params)

    @property
    def dense_macs(self) -> int:
        return int(self.dense["counts"].macs)

    def part_params_dense(self, prefix: str | None) -> int:
        return self.dense_params if prefix is None else self.dense["module_params"].get(prefix, 0)

    # -- trainer and pruner ----------------------------------------------
    def trainer(self, model: nn.Module, step):
        from edgeprune.train import Trainer

        tcfg = self.cfg.train.replace(seed=step_seed(self.cfg.seed, step))
        return Trainer(model, self.data, self.spec.inputs, self.spec.task, tcfg)

    def fit(self, model: nn.Module, step, *, epochs: int, lr: float, l1_bn: float | None = None, frozen=(),
            masks=None, desc: str = ""):
        """Train `model` in place (fresh optimizer and LR schedule) for this phase's `epochs` at `lr`; `l1_bn`
        None is the run's TrainConfig value. Returns a FitResult dict, or None for 0 epochs."""
        if epochs <= 0:
            return None
        res = self.trainer(model, step).fit(epochs=epochs, lr=lr, l1_bn=l1_bn, frozen=tuple(frozen), masks=masks,
                                            desc=desc)
        out = res.to_dict()
        out.pop("history", None)
        return out

    def pruner(self, model: nn.Module, *, importance: str, scope: str, ignored=()):
        from edgeprune import ChannelPruner

        return ChannelPruner(model, self.example, importance=importance, residual=self.cfg.residual,
                             frozen_layers=tuple(ignored), min_channels=self.cfg.min_channels, scope=scope,
                             verify=True, max_step_share=self.cfg.max_step_share)


def _params_by_prefix(model: nn.Module) -> dict[str, int]:
    """{module name: params under it} for every named module (the parts a stage may measure)."""
    out = {}
    for name, module in model.named_modules():
        if name:
            out[name] = sum(p.numel() for p in module.parameters())
    return out


def modules_outside(model: nn.Module, keep: tuple[str, ...]) -> list[str]:
    """Names of the parameter-owning leaf modules not under any prefix in `keep` (a stage's ignored layers)."""
    out = []
    for name, module in model.named_modules():
        if not name or any(True for _ in module.children()):
            continue
        if not any(True for _ in module.parameters(recurse=False)):
            continue
        if not any(name == k or name.startswith(k + ".") for k in keep):
            out.append(name)
    return out


def modules_under(model: nn.Module, prefixes: tuple[str, ...]) -> list[str]:
    """Names of the parameter-owning leaf modules under any of `prefixes`."""
    if not prefixes:
        return []
    keep = {n for n in modules_outside(model, ())}
    return [n for n in keep if any(n == p or n.startswith(p + ".") for p in prefixes)]
