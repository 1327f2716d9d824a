"""The checks of a slim config, before any work starts: each bad value is one EdgepruneError line naming its
flag; the chosen method adds its own (Method.validate)."""

from __future__ import annotations

import dataclasses
import math

from edgeprune.errors import EdgepruneError
from edgeprune.methods.config import RUN_SETTINGS, SET_BY_METHOD, TRAIN_FLAGS
from edgeprune.train.config import TrainConfig


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _in(cond: bool, msg: str) -> None:
    if not cond:
        raise EdgepruneError(msg)


def check_train(train) -> None:
    """--train's keys: TrainConfig fields other than those the run or the methods set."""
    if train is None or isinstance(train, TrainConfig):
        return
    _in(isinstance(train, dict), f"--train must be a JSON object, got {train!r}")
    names = TrainConfig.help()
    for key in train:
        _in(key in names, f"--train has no field {key!r}; every field: docs/TRAINING.md")
        _in(key not in RUN_SETTINGS, f"--train sets {key}, a setting of the whole run: use {_flag(key)}")
        _in(key not in SET_BY_METHOD, f"--train sets {key}, which slim sets per training phase from --l1 "
                                      "(and --finetune-l1)")


def validate(c) -> None:
    """Raise EdgepruneError for the first bad setting of SlimConfig `c` (resolved or not)."""
    from edgeprune.methods import registry

    method = registry.get(c.method)
    check_train(c.train)
    train = {name: c.train_value(name) for name in TRAIN_FLAGS}
    for f in dataclasses.fields(c):
        choices = f.metadata.get("choices")
        value = getattr(c, f.name)
        if choices and value is not None and value not in choices:
            raise EdgepruneError(f"{_flag(f.name)} must be one of {', '.join(choices)}, got {value!r}")
        if f.type == "float" and value is not None:
            _in(math.isfinite(value), f"{_flag(f.name)} must be a finite number, got {value}")
    for name, value in train.items():
        _in(value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)),
            f"{_flag(name)} must be a number, got {value!r}")
        if isinstance(value, float):
            _in(math.isfinite(value), f"{_flag(name)} must be a finite number, got {value}")
    _in(0.0 < c.target_wsr < 1.0, f"--target-wsr must be in (0, 1), got {c.target_wsr}")
    _in(c.per_round is None or 0.0 < c.per_round < 1.0, f"--per-round must be in (0, 1), got {c.per_round}")
    _in(c.stage_target is None or 0.0 < c.stage_target < 1.0, f"--stage-target must be in (0, 1), got {c.stage_target}")
    _in(c.max_step_share is None or 0.0 < c.max_step_share <= 1.0,
        f"--max-step-share must be in (0, 1], got {c.max_step_share}")
    _in(c.k is None or c.k >= 1.0, f"--k must be >= 1, got {c.k}")
    _in(0.0 < c.k_below_cr <= 1.0, f"--k-below-cr must be in (0, 1], got {c.k_below_cr}")
    _in(c.l1 >= 0, f"--l1 must be >= 0, got {c.l1}")
    if c.clip_seconds is not None:
        _in(0.1 <= c.clip_seconds <= 60.0, f"--clip-seconds must be between 0.1 and 60, got {c.clip_seconds}")
        _in(c.data.partition(":")[0] in ("folder", "misp2021"),
            "--clip-seconds is for folder: and misp2021: data (synth clips are 1.3 s)")
    _in(c.tolerance is None or c.tolerance >= 0, f"--tolerance must be >= 0, got {c.tolerance}")
    _in(c.ratios != "auto" or c.granularity == "channel", "--ratios auto chooses a share of channels per group; "
        "--granularity weight masks single weights: use --granularity channel or --ratios global")
    _in(c.ratios != "auto" or c.latency_budget is None, "--ratios auto and --latency-budget both choose each "
        "group's cut (by Score sensitivity, by latency saved): use one")
    _in(not c.kernel_widths or (c.granularity == "channel" and c.ratios != "auto" and c.latency_budget is None),
        "--kernel-widths moves channel cuts to widths the kernels like: not with --granularity weight, "
        "--ratios auto or --latency-budget (which choose widths their own way)")
    values = {**{f.name: getattr(c, f.name) for f in dataclasses.fields(c)}, **train}
    for name in ("epochs", "pretrain_epochs", "batch_size", "first_epochs", "min_channels", "data_size"):
        v = values[name]
        _in(v is None or v >= 1, f"{_flag(name)} must be >= 1, got {v}")
    for name in ("rewind_epoch", "finetune_epochs", "iter_epochs", "patience", "max_rounds"):
        v = values[name]
        _in(v is None or v >= 0, f"{_flag(name)} must be >= 0, got {v}")
    for name in ("lr", "finetune_lr"):
        v = values[name]
        _in(v is None or v > 0, f"{_flag(name)} must be > 0, got {v}")
    from edgeprune.methods.latency_config import check as check_latency

    check_latency(c)  # --latency-budget and the settings that go with it
    method.validate(c, registry.methods())
