"""Measure a round: params and MACs (edgeprune.count), WSR overall and per stage part, dev and test Score
with FRR/FAR per SNR (the Trainer's evaluate), and wall time."""

from __future__ import annotations

from torch import nn

from edgeprune.methods.masks import masked_count
from edgeprune.methods.state import RoundState


def live_params(model: nn.Module, masks: dict | None, prefix: str | None = None) -> int:
    """Parameters of `model` (or of the module at `prefix`) that are not masked out."""
    if prefix is None:
        params = dict(model.named_parameters())
    else:
        mod = dict(model.named_modules()).get(prefix)
        if mod is None:
            return 0
        params = {f"{prefix}.{k}": v for k, v in mod.named_parameters()}
    dead = masked_count({k: m for k, m in (masks or {}).items() if k in params})
    return sum(p.numel() for p in params.values()) - dead


def measure(ctx, state: RoundState, *, step, stages, extra: dict | None = None) -> dict:
    """The metrics.json of one round (or of final/)."""
    from edgeprune import count

    model = state.model
    counts = count(model, ctx.example)
    params = int(counts.params) - masked_count(state.masks)
    dense = ctx.dense_params
    part_wsr = {}
    for st in stages:
        total = ctx.part_params_dense(st.part)
        now = params if st.part is None else live_params(model, state.masks, st.part)
        part_wsr[st.name] = 1.0 - now / total if total else 0.0
    trainer = ctx.trainer(model, step)
    dev = trainer.evaluate("dev")
    test = trainer.evaluate("test")
    out = {
        "method": ctx.cfg.method,
        "model": ctx.cfg.model,
        "params": params,
        "params_dense": dense,
        "macs": int(counts.macs),
        "macs_dense": ctx.dense_macs,
        "wsr": 1.0 - params / dense,
        "cr": params / dense,
        "part_wsr": part_wsr,
        "granularity": "weight" if state.masks is not None else "channel",
        "lr": state.lr,
        "stage": state.stage,
        "dev": dev,
        "test": test,
    }
    if state.masks is not None:
        out["note"] = ("weight granularity: masked weights are zeros in a dense tensor; params count the "
                       "survivors, MACs are those of the dense model, and a dense export is no faster")
    out.update(extra or {})
    return out
