"""Staged audio-visual pruning (seed 001 section 2.2): prune the lip encoder alone first, then freeze it
with its mask and prune the fusion back end. Other models prune in one stage."""

from __future__ import annotations

from edgeprune.errors import EdgepruneError
from edgeprune.methods.stopping import Stage

LIP_ENCODER = "lip_encoder"
WHOLE = "model"


def is_audio_visual(spec) -> bool:
    return "fbank" in spec.inputs and "lips" in spec.inputs


def staged_on(cfg, spec) -> bool:
    """auto: on for lth-if on an audio-visual model (the paper's setting), off otherwise."""
    if cfg.staged == "on":
        return True
    return cfg.staged == "auto" and cfg.method == "lth-if" and is_audio_visual(spec)


def plan_stages(ctx) -> list[Stage]:
    """The stages of the run: [model], or [lip_encoder (its own WSR), model (lip encoder frozen)]."""
    cfg = ctx.cfg
    if not staged_on(cfg, ctx.spec):
        return [Stage(WHOLE, cfg.target_wsr)]
    if LIP_ENCODER not in ctx.dense["module_params"]:
        raise EdgepruneError(f"--staged on needs a model with a '{LIP_ENCODER}' module; {cfg.model!r} has none")
    return [
        Stage(LIP_ENCODER, cfg.stage_target, part=LIP_ENCODER),
        Stage(WHOLE, cfg.target_wsr, ignored=(LIP_ENCODER,), frozen=(LIP_ENCODER,)),
    ]
