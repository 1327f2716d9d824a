"""The one function that decides a slim run's settings. Precedence, lowest first:

    default (SlimConfig / TrainConfig fields) < method:NAME (the method's defaults) < model:NAME (the model
    spec's recommendation) < data:KIND (the data source's recommendation) < user (flags, --train JSON)

then `run` (train.seed/device/progress copy --seed/--device/--progress). A `Follow` default takes another
setting's resolved value; a recommendation for such a setting yields to it when the setting it follows came
from a higher layer (--epochs 3 on synth: pretrain_epochs 3, not synth's 15). `resolved_from` records the
source of every value."""

from __future__ import annotations

import dataclasses

from edgeprune.errors import EdgepruneError
from edgeprune.methods.config import DEFAULT_MODEL, PAPER_K, RUN_SETTINGS, Follow, SlimConfig
from edgeprune.train.config import TrainConfig, layered

# Settings whose default is another's value.
FOLLOWS = {"pretrain_epochs": Follow("train.epochs"), "finetune_epochs": Follow("train.epochs"),
           "stage_target": Follow("target_wsr")}
RECOMMENDERS = ("model", "data")
_SKIP = ("train", "resolved_from")


def _slim_fields() -> dict:
    return {f.name: f.default for f in dataclasses.fields(SlimConfig) if f.name not in _SKIP}


def _keyed(owner: str, values: dict) -> dict:
    """Bare names (lr, pretrain_epochs) -> resolution keys (train.lr, pretrain_epochs); unknown names refused."""
    slim, train = _slim_fields(), TrainConfig.help()
    out = {}
    for name, value in values.items():
        if name in train and name not in slim:
            out[f"train.{name}"] = value
        elif name in slim:
            out[name] = value
        else:
            raise EdgepruneError(f"{owner} recommends {name!r}, which is not a slim or training setting")
    return out


def layers_of(cfg: SlimConfig, model_recommends: dict | None) -> list[tuple[str, dict]]:
    """The named layers of `cfg`, lowest precedence first."""
    from edgeprune.data.sources import recommended
    from edgeprune.methods import registry

    model = cfg.model or DEFAULT_MODEL
    if model_recommends is None:
        from edgeprune import models

        model_recommends = models.spec(model).defaults
    slim = _slim_fields()
    default = {**{k: v for k, v in slim.items() if v is not None}, **FOLLOWS, "model": DEFAULT_MODEL, "k": PAPER_K,
               **{f"train.{f.name}": f.default for f in dataclasses.fields(TrainConfig)}}
    user = {k: getattr(cfg, k) for k, v in slim.items() if getattr(cfg, k) != v}
    train = cfg.train.to_dict() if isinstance(cfg.train, TrainConfig) else (cfg.train or {})
    user.update({f"train.{k}": v for k, v in train.items()})
    return [("default", default),
            (f"method:{cfg.method}", _keyed(f"method {cfg.method!r}", registry.get(cfg.method).defaults)),
            (f"model:{model}", _keyed(f"model {model!r}", model_recommends)),
            (f"data:{cfg.data.partition(':')[0]}", _keyed(f"data {cfg.data!r}", recommended(cfg.data))),
            ("user", user)]


def _follow(layers, values, sources, key):
    """Apply the Follow rule to `key` in place."""
    rank = {name: i for i, (name, _) in enumerate(layers)}
    follows = [layer[key] for _, layer in layers if isinstance(layer.get(key), Follow)]
    value = values.get(key)
    if not follows or (value is not None and not isinstance(value, Follow)
                       and (sources[key].split(":")[0] not in RECOMMENDERS
                            or rank[sources[follows[-1].source]] <= rank[sources[key]])):
        return
    rule = value if isinstance(value, Follow) else follows[-1]
    values[key], sources[key] = rule.of(values[rule.source]), str(rule)


def resolve_config(cfg: SlimConfig, model_recommends: dict | None = None) -> SlimConfig:
    """`cfg` with every unset value decided (see the module docstring) and `resolved_from` filled."""
    if cfg.resolved_from is not None:
        return cfg.validate()  # already resolved (config.json of this layout)
    layers = layers_of(cfg, model_recommends)
    values, sources = layered(layers)
    for key in dict.fromkeys([k for k, v in values.items() if isinstance(v, Follow)] + list(FOLLOWS)):
        _follow(layers, values, sources, key)
    for name in RUN_SETTINGS:
        values[f"train.{name}"], sources[f"train.{name}"] = getattr(cfg, name), "run"
    train = {k[len("train."):]: v for k, v in values.items() if k.startswith("train.")}
    slim = {k: values.get(k) for k in _slim_fields()}
    for k in slim:
        sources.setdefault(k, "default")
    if slim["out"] is None:
        slim["out"], sources["out"] = cfg.default_out(), "default"
    resolved = SlimConfig(**slim, train=TrainConfig(**train), resolved_from=dict(sorted(sources.items())))
    return resolved.validate()
