"""One source for training settings: the precedence default < method < model < data source < user, the
values it resolves to (pinned: the default synth run and a folder run resolve exactly as before TrainConfig was
nested), `resolved_from`, and the flags as aliases of --train."""

import dataclasses

import pytest

from edgeprune.cli import build_parser
from edgeprune.commands.slim import config_from_args
from edgeprune.errors import EdgepruneError
from edgeprune.methods.config import SlimConfig
from edgeprune.methods.context import resolve
from edgeprune.train.config import TrainConfig, layered

# What main resolved before this change (computed there with methods.context.resolve + train_config):
# the TrainConfig every fit of the run trained with, and the schedule settings of SlimConfig.
_TRAIN_COMMON = {
    "aug_freq_mask_bins": 4, "aug_freq_masks": 0, "aug_gain_db": 3.0, "aug_lip_brightness": 0.15, "aug_lip_shift": 4,
    "aug_noise_prob": 0.6, "aug_shift_s": 0.05, "aug_snr_max": 20.0, "aug_snr_min": 0.0, "aug_time_mask_frames": 5,
    "aug_time_masks": 0, "augment": True, "device": "cpu", "eval_batch_size": 64,
    "frr_target": 0.012199999999999989, "grad_clip": 5.0, "l1_bn": 0.0, "min_lr_ratio": 0.02, "num_workers": 0,
    "optimizer": "adamw", "patience": 6, "progress": True, "restore_best": True, "schedule": "cosine", "seed": 0,
    "select": "score", "step_epochs": 10, "step_gamma": 0.1, "sync_bn": True, "threshold_step": 0.001,
    "warmup_epochs": 1.0, "weight_decay": 0.01}
_SLIM_COMMON = {
    "clip_seconds": None, "data_size": None, "device": "cpu", "finetune_l1": False, "finetune_lr": None,
    "first_epochs": 5, "granularity": "channel", "importance": "bn_scale+l1", "iter_epochs": 1, "k": 2.0,
    "k_below_cr": 0.2, "l1": 0.0001, "last_cut": "clip", "max_rounds": 60, "max_step_share": 0.5, "method": "cplr",
    "min_channels": 1, "model": "tv-audio", "model_cfg": None, "per_round": 0.3, "per_round_unit": "params",
    "progress": True, "residual": "skip", "rewind_epoch": 0, "scope": "global", "seed": 0, "skip_bad": False,
    "stage_target": 0.5, "staged": "auto", "target_wsr": 0.5, "ticket": None, "tolerance": None,
    "latency_budget": None, "target": None, "runtime": None, "threads": None, "latency_table": None,
    "latency_options": None}
_TRAIN_COMMON["precision"] = "fp32"  # TrainConfig.precision, added after this pin: fp32 is the arithmetic pinned here
_SLIM_COMMON["ratios"] = "global"  # --ratios, added after this pin: its default keeps the behaviour pinned here
_SLIM_COMMON["kernel_widths"] = False  # --kernel-widths, added after this pin: off keeps the pinned cuts
PINNED = {
    "synth": ({}, dict(_TRAIN_COMMON, epochs=6, lr=0.003, batch_size=32),
              # k: synth recommends 1 since its rate is 30x the paper's (data/sources.py); folders keep the paper's 2
              dict(_SLIM_COMMON, data="synth", pretrain_epochs=15, finetune_epochs=6, k=1.0,
                   out="runs/cplr-tv-audio-synth")),
    "folder": ({"data": "folder:/tmp/clips"}, dict(_TRAIN_COMMON, epochs=5, lr=0.0001, batch_size=64),
               dict(_SLIM_COMMON, data="folder:/tmp/clips", pretrain_epochs=5, finetune_epochs=5,
                    out="runs/cplr-tv-audio-folder-clips")),
}


@pytest.mark.parametrize("case", sorted(PINNED))
def test_default_runs_resolve_as_before(case):
    kw, train, slim = PINNED[case]
    r = resolve(SlimConfig(**kw))
    assert r.train.to_dict() == train
    assert {k: v for k, v in r.to_dict().items() if k not in ("train", "resolved_from")} == slim
    # the CLI without flags resolves to the same
    args = ["slim"] + (["--data", kw["data"]] if kw else [])
    assert resolve(config_from_args(build_parser().parse_args(args))) == r


def test_resolved_from_names_each_layer():
    r = resolve(SlimConfig(method="lth", data="folder:/x", model="tv-av", train={"weight_decay": 0.0}, seed=3))
    src = r.resolved_from
    assert {f"train.{f.name}" for f in dataclasses.fields(TrainConfig)} <= set(src)
    assert src["train.lr"] == src["train.batch_size"] == "model:tv-av" and r.train.lr == 2e-4
    assert src["train.weight_decay"] == "user" and r.train.weight_decay == 0.0
    assert src["train.grad_clip"] == "default"
    assert src["per_round"] == "method:lth" and src["finetune_epochs"] == "method:lth" and r.finetune_epochs == 0
    assert src["train.seed"] == "run" and r.train.seed == 3 and src["seed"] == "user"
    assert src["pretrain_epochs"] == "follows train.epochs" and r.pretrain_epochs == r.train.epochs == 5
    cp = resolve(SlimConfig(method="cp", lr=1e-3))
    assert cp.finetune_lr == 1e-4 and cp.resolved_from["finetune_lr"] == "follows train.lr / 10"


@pytest.mark.parametrize("kw, epochs, pretrain, source", [
    ({}, 6, 15, "data:synth"),                          # the data source beats the model (tv-audio: 5)
    ({"epochs": 3}, 3, 3, "user"),                     # a user's epochs beats the source's pretrain_epochs
    ({"train": {"epochs": 3}}, 3, 3, "user"),          # the same through --train
    ({"epochs": 3, "pretrain_epochs": 9}, 3, 9, "user"),
    ({"data": "folder:/x"}, 5, 5, "model:tv-audio"),   # no data recommendation: the model's
])
def test_precedence_of_epochs_and_pretrain_epochs(kw, epochs, pretrain, source):
    r = resolve(SlimConfig(**kw))
    assert (r.train.epochs, r.pretrain_epochs, r.resolved_from["train.epochs"]) == (epochs, pretrain, source)


def test_layered_is_the_precedence_rule():
    values, sources = layered([("default", {"a": 1, "b": 2, "c": 3}), ("model", {"b": 20, "c": None}),
                               ("user", {"c": 30, "d": 40})])
    assert values == {"a": 1, "b": 20, "c": 30, "d": 40}
    assert sources == {"a": "default", "b": "model", "c": "user", "d": "user"}


def test_a_flag_is_its_train_field():
    parse = build_parser().parse_args
    by_flag = config_from_args(parse(["slim", "--lr", "0.01", "--batch-size", "8", "--patience", "0"]))
    by_json = config_from_args(parse(["slim", "--train", '{"lr": 0.01, "batch_size": 8, "patience": 0}']))
    assert by_flag == by_json and by_flag.lr == 0.01 and by_flag.train == {"lr": 0.01, "batch_size": 8, "patience": 0}
    assert resolve(by_flag) == resolve(by_json)
    with pytest.raises(EdgepruneError, match=r"--train sets lr, which has its own flag \(--lr\)"):
        config_from_args(parse(["slim", "--lr", "0.01", "--train", '{"lr": 0.02}']))


def test_every_train_field_is_settable_without_new_code():
    """Each TrainConfig field but the run's own (seed, device, progress) and the methods' (l1_bn) goes through
    --train and lands in the resolved TrainConfig as the user's."""
    other = {bool: lambda v: not v, int: lambda v: v + 1, float: lambda v: v / 2 if v else 0.5, str: None}
    choices = {"schedule": "step", "select": "loss", "optimizer": "adam", "precision": "bf16"}
    for f in dataclasses.fields(TrainConfig):
        if f.name in ("seed", "device", "progress", "l1_bn"):
            with pytest.raises(EdgepruneError, match=f"--train sets {f.name}"):
                SlimConfig(train={f.name: f.default}).validate()
            continue
        value = choices[f.name] if f.name in choices else other[type(f.default)](f.default)
        r = SlimConfig(train={f.name: value}).resolve({})
        assert getattr(r.train, f.name) == value and r.resolved_from[f"train.{f.name}"] == "user", f.name


@pytest.mark.parametrize("train, match", [
    ({"lrr": 0.1}, "--train has no field 'lrr'"),
    ({"seed": 1}, "--train sets seed, a setting of the whole run: use --seed"),
    ({"lr": "fast"}, "--lr must be a number, got 'fast'"),
    ({"schedule": "jumpy"}, "schedule must be one of constant, cosine, step"),
])
def test_bad_train_settings_are_one_line(train, match):
    with pytest.raises(EdgepruneError, match=match):
        SlimConfig(train=train).resolve({})


def test_a_recommendation_of_an_unknown_setting_is_refused():
    with pytest.raises(EdgepruneError, match="model 'tv-audio' recommends 'speed'"):
        SlimConfig().resolve({"speed": 2})


def test_identity_is_flat_and_ignores_where_a_value_came_from():
    a = resolve(SlimConfig())
    b = resolve(SlimConfig(lr=3e-3, batch_size=32, out="elsewhere", device="cuda"))  # synth's values, typed
    assert a.identity() == b.identity() and a.resolved_from != b.resolved_from
    assert a.identity()["train.lr"] == 3e-3 and "train.device" not in a.identity()
    assert SlimConfig.from_dict(a.to_dict()) == a and SlimConfig.from_dict(a.to_dict()).resolve() == a


def test_the_flat_layout_reads_as_the_values_it_ran_with():
    """config.json before the nesting: flat epochs, lr, batch_size, patience; `train` the overrides only."""
    _, train, slim = PINNED["synth"]
    flat = dict(slim, epochs=6, lr=0.003, batch_size=32, patience=None, train=None)
    old = resolve(SlimConfig.from_dict(flat))
    assert old.train.to_dict() == train and old.identity() == resolve(SlimConfig()).identity()
    # its methods trained the flat epochs and lr (--train's were ignored); its trainer took --train's batch size
    mixed = resolve(SlimConfig.from_dict(dict(flat, train={"epochs": 9, "lr": 0.5, "batch_size": 8, "augment": False})))
    assert (mixed.train.epochs, mixed.train.lr, mixed.train.batch_size, mixed.train.augment) == (6, 0.003, 8, False)


@pytest.mark.parametrize("kw, k, source", [
    ({}, 1.0, "data:synth"),                             # synth trains at 3e-3: no amplification
    ({"k": 2.0}, 2.0, "user"),                           # the paper's value, asked for, beats the recommendation
    ({"data": "folder:/x"}, 2.0, "default"),             # the paper's recipe (lr 1e-4): the paper's k
    ({"data": "folder:/x", "k": 5.0}, 5.0, "user"),
])
def test_cplr_amplification_follows_the_recipe(kw, k, source):
    r = resolve(SlimConfig(**kw))
    assert (r.k, r.resolved_from["k"]) == (k, source)
    args = ["slim"] + [a for key, v in kw.items() for a in (f"--{key}", str(v))]
    assert resolve(config_from_args(build_parser().parse_args(args))).k == k


def test_k_defines_a_cplr_run_only():
    cplr, cp = resolve(SlimConfig()), resolve(SlimConfig(method="cp"))
    assert cplr.identity()["k"] == 1.0 and "k_below_cr" in cplr.identity()
    assert "k" not in cp.identity() and "k_below_cr" not in cp.identity()
    assert resolve(SlimConfig(k=2.0)).identity() != cplr.identity()
    assert resolve(SlimConfig(method="cp", k=2.0)).identity() == cp.identity()
