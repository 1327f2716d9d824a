"""SlimConfig: every setting of an `edgeprune slim` run, each field carrying its own help text. The training
hyper-parameters are one nested TrainConfig (open_lth's nested hparams); --epochs, --lr, --batch-size and
--patience are aliases of its fields. Unset values are filled by methods/resolve.py, the one place that decides
them, and config.json records each value and where it came from."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from edgeprune.errors import EdgepruneError
from edgeprune.train.config import TrainConfig

DEFAULT_MODEL = "tv-audio"
# CPLR's learning-rate amplification (eq. 7, paper range 2-10). A data source may recommend another (synth: 1), so
# the field's own default is None and the paper's value enters at the lowest layer of methods/resolve.py: an
# explicit `--k 2` then still beats the recommendation.
PAPER_K = 2.0
# TrainConfig fields with a flag of their own (`--lr` is `--train '{"lr": ...}'`, one path); adding a name here
# is all a new flag takes.
TRAIN_FLAGS = ("epochs", "lr", "batch_size", "patience")
# TrainConfig fields that copy the run's own setting (--seed is per round, see methods/seeding.py).
RUN_SETTINGS = ("seed", "device", "progress")
# TrainConfig fields the methods set for each training phase (--l1, --finetune-l1).
SET_BY_METHOD = ("l1_bn",)
# Fields that may change between two invocations on the same run directory.
NOT_IDENTITY = ("out", "device", "progress", "resolved_from", "train.device", "train.progress")
# Settings that only one method reads: they do not tell two runs of another method apart (a cp run on synth made
# before synth recommended k = 1 still resumes).
ONE_METHOD = {"k": "cplr", "k_below_cr": "cplr"}


def _f(default, help, choices=None, cli=True, **kw):
    meta = {"help": help, "cli": cli}
    if choices is not None:
        meta["choices"] = tuple(choices)
    return field(default=default, metadata=meta, **kw)


@dataclass(frozen=True)
class Follow:
    """A default that is another setting's resolved value (divided by `divide`): pretrain_epochs follows
    train.epochs; cp's finetune_lr is train.lr / 10."""

    source: str
    divide: int = 1

    def of(self, value):
        return value if self.divide == 1 else float(f"{value / self.divide:.12g}")  # 3e-4, not 0.00030000000000000003

    def __str__(self) -> str:
        return f"follows {self.source}" + (f" / {self.divide}" if self.divide != 1 else "")


@dataclass
class SlimConfig:
    method: str = _f("cplr", "pruning method (each registers itself: edgeprune.methods.registry)")
    model: str = _f(None, f"zoo model name (default {DEFAULT_MODEL}: the small TV audio model, minutes on 2 cores)")
    model_cfg: dict = _f(None, "zoo model config overrides as a JSON object, e.g. '{\"lstm_hidden\": 64}'")
    data: str = _f("synth", "data SPEC: synth, misp2021:PATH or folder:PATH")
    train: dict = _f(None, "training settings as a JSON object of TrainConfig fields, e.g. "
                     "'{\"augment\": false, \"schedule\": \"constant\", \"select\": \"loss\"}' (the papers' recipe); "
                     "over the model's and the data source's recommendations; --epochs, --lr, --batch-size and "
                     "--patience are the same fields; every field: docs/TRAINING.md (a resolved config holds the whole "
                     "TrainConfig here)")
    target_wsr: float = _f(0.5, "target weight sparsity ratio 1 - params/params_dense; the run stops there")
    out: str = _f(None, "run directory (default runs/<method>-<model>-<data>)")
    pretrain_epochs: int = _f(None, "cp/cplr: maximum epochs of the dense (sparse) training before the first cut; "
                              "the round-0 model is its best epoch on dev; default: the data source's recommendation "
                              "(synth: 15) unless --epochs is given, else --epochs")
    seed: int = _f(0, "seed of data generation, initialisation and shuffling")
    skip_bad: bool = _f(False, "skip unreadable or malformed data files (listed in the run's data.json) "
                        "instead of stopping at the first one")
    device: str = _f("cpu", "torch device to train on")
    per_round: float = _f(None, "fraction pruned per round: cplr 0.3 (alpha), lth 0.2 (p), lth-if 0.05; "
                          "cp prunes to the target in one shot")
    per_round_unit: str = _f("params", "what per_round is a fraction of: the current params (CR(n) = (1-alpha)^n "
                             "exactly) or channels (the literal '30 percent of channels' reading)", ("params", "channels"))
    last_cut: str = _f("clip", "last round: clip its cut so the run lands on the target WSR, or full (cut "
                       "per_round every round, the paper's loop, overshooting the target)", ("clip", "full"))
    residual: str = _f("skip", "channels tied by residual additions: skip (left unpruned, the CPLR paper) or "
                       "couple (pruned jointly through the dependency graph)", ("skip", "couple"))
    importance: str = _f(None, "channel ranking: bn_scale+l1 (cp/cplr default: |gamma| behind a BatchNorm, L1 "
                         "filter norm over its layer's mean for LSTM and FC units, each family standardised by its "
                         "median and interquartile range, so every layer is a candidate), bn_scale (the papers': "
                         "|gamma| only; layers without BatchNorm are never cut, so tv-audio stops at WSR 0.648), "
                         "l1/l2 (filter norm over its layer's mean, lth/lth-if)", ("bn_scale+l1", "bn_scale", "l1", "l2"))
    max_step_share: float = _f(None, "largest share of a layer's channels one pruning round may remove (1 = no "
                               "ceiling): cplr/lth/lth-if 0.5 (a 30 % params round takes ~16 % of each layer "
                               "when spread evenly, so 0.5 only stops a ranking that piles a round onto one "
                               "layer), cp 1 (one shot)")
    scope: str = _f(None, "ranking scope: global (cp/cplr) or layerwise (lth/lth-if, seed 001)",
                    ("global", "layerwise"))
    ratios: str = _f("global", "per-group share of each cut: global (the ranking and --scope decide, as the papers) "
                     "or auto (after round 0, per-group target ratios from each group's sensitivity curve, AIMET's "
                     "greedy selection for --target-wsr; each round cuts every group toward its own target; "
                     "curves cached in the run's sensitivity/ folder)", ("global", "auto"))
    kernel_widths: bool = _f(False, "each channel cut lands on widths onnxruntime's kernels like on this machine: "
                             "every group cut by the method is moved up to the widest width nearby (multiples of 4 "
                             "up to the next multiple of 16) at which the layers it touches, timed alone, are no "
                             "slower; the run may stop a little short of --target-wsr (docs/BENCHMARKS.md)")
    granularity: str = _f("channel", "lth/lth-if: channel (remove whole channels physically) or weight (the "
                          "papers' unstructured masks: sparse, but a dense export is no faster)", ("channel", "weight"))
    min_channels: int = _f(1, "per-layer floor of channels the pruner keeps")
    l1: float = _f(1e-4, "lambda of the L1 penalty on BatchNorm scales (sparse training, cp/cplr)")
    k: float = _f(None, f"cplr learning-rate amplification once CR(n) < --k-below-cr (eq. 6-7; default "
                  f"{PAPER_K:g}, the paper's, for its base rate 1e-4; synth, which trains at 3e-3, recommends 1: "
                  f"no amplification)")
    k_below_cr: float = _f(0.2, "cplr: CR below which the learning rate is multiplied by k each round (eq. 7)")
    tolerance: float = _f(None, "stop when dev Score is worse than the dense model's by more than this; the "
                          "last good round is kept (default: off)")
    max_rounds: int = _f(60, "maximum number of pruning rounds (0: train the dense model, round 0, and stop)")
    finetune_epochs: int = _f(None, "epochs of the final fine-tune: cp/cplr default --epochs, lth/lth-if 0")
    finetune_lr: float = _f(None, "final fine-tune learning rate: cplr the last round's (Algorithm 1 step 7), "
                            "cp lr/10")
    finetune_l1: bool = _f(False, "keep the L1 penalty on during the final fine-tune")
    first_epochs: int = _f(5, "lth-if: epochs of the first iteration (E = 5, seed 001)")
    iter_epochs: int = _f(1, "lth-if: epochs of every later iteration (1, seed 001)")
    rewind_epoch: int = _f(0, "lth: rewind survivors to theta_k after k epochs (0 = theta_0)")
    ticket: str = _f(None, "lth: start from another run's final mask/architecture and its theta_0 (ticket transfer)")
    staged: str = _f("auto", "audio-visual models: prune the lip encoder first, freeze it, then the fusion back "
                     "end (seed 001 2.2); auto = on for lth-if on models with a lip encoder and an audio input",
                     ("auto", "on", "off"))
    stage_target: float = _f(None, "staged: WSR of the lip encoder's own params in stage 1 (default --target-wsr)")
    data_size: int = _f(None, "number of training clips (synth: generated; folder/misp2021: a seeded, class-proportional "
                        "subsample); dev and test get a third of it each (default: synth's sizes, all of a folder)")
    clip_seconds: float = _f(None, "clip length in seconds for folder/misp2021 data: longer clips are cropped (a "
                             "random window each epoch in training, the centre in evaluation), shorter ones "
                             "zero-padded (default 1.3, the tv models' window; synth clips are generated at 1.3 s)")
    # -- a latency budget measured on the target (methods/latency_budget.py, docs/BENCHMARKS.md) -------------
    latency_budget: float = _f(None, "slim to this p90 latency in ms, measured on --target after every round: each "
                               "round's cut is chosen from the latency table (ms saved per importance lost), and "
                               "the rounds stop at the first one measured within the budget (--target-wsr is "
                               "then not a stop rule); default: off")
    target: str = _f(None, "with --latency-budget: where latency is measured, 'local' (default) or "
                     "ssh://user@host[:port], as edgeprune bench and profile take it")
    runtime: str = _f(None, "with --latency-budget: runtime of the measurements, ort (default, ONNX exports), "
                      "litert or tflite-runtime (TFLite exports)", ("ort", "litert", "tflite-runtime"))
    threads: int = _f(None, "with --latency-budget: intra-op threads of the runtime (default 1)")
    latency_table: str = _f(None, "with --latency-budget: a latency table from edgeprune profile (default: the "
                            "cached table of the model on --target, profiled before round 0 if missing)")
    latency_options: dict = _f(None, "with --latency-budget: measurement and SSH settings as a JSON object: "
                               "clock (wall|thread-cpu), grid (kept fractions profiled), align (also profile the multiples of "
                               "N around them, as profile --align), warmup, min_runs, "
                               "min_seconds, max_seconds, cache_dir, ssh_key, known_hosts, connect_timeout, "
                               "strict_host_key_checking, remote_python, remote_tmp")
    progress: bool = _f(True, "show progress bars (off when EDGEPRUNE_NO_PROGRESS=1)")
    resolved_from: dict = _f(None, "written by resolution: where each value came from (default, method:NAME, "
                             "model:NAME, data:KIND, user, run, or follows FIELD)", cli=False)

    # ------------------------------------------------------------------
    def train_value(self, name: str):
        """A TrainConfig field: resolved, or as the user set it (None when unset) before resolution."""
        if isinstance(self.train, TrainConfig):
            return getattr(self.train, name)
        return (self.train or {}).get(name)

    def validate(self) -> "SlimConfig":
        from edgeprune.methods.validate import validate

        validate(self)
        return self

    def resolve(self, model_recommends: dict | None = None) -> "SlimConfig":
        """Every unset value filled (methods/resolve.py); `model_recommends` replaces the model spec's
        recommendations (default: `edgeprune.models.spec(model).defaults`). Returns a new config."""
        from edgeprune.methods.resolve import resolve_config

        return resolve_config(self.validate(), model_recommends)

    def default_out(self) -> str:
        return str(Path("runs") / f"{self.method}-{self.model or DEFAULT_MODEL}-{data_slug(self.data)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def identity(self) -> dict:
        """The settings that define the run, flat ("train.lr"): two invocations with different identities are
        different runs."""
        flat = {}
        for k, v in self.to_dict().items():
            if k == "train" and isinstance(v, dict):
                flat.update({f"train.{tk}": tv for tk, tv in v.items()})
            else:
                flat[k] = v
        return {k: v for k, v in flat.items()
                if k not in NOT_IDENTITY and ONE_METHOD.get(k, self.method) == self.method}

    @classmethod
    def from_dict(cls, d: dict) -> "SlimConfig":
        """A config from config.json: this layout, or the one before TrainConfig was nested (flat epochs, lr,
        batch_size, patience; `train` the overrides only)."""
        known = {f.name for f in dataclasses.fields(cls)} | set(TRAIN_FLAGS)
        unknown = sorted(set(d) - known)
        if unknown:
            raise EdgepruneError(f"unknown slim settings: {', '.join(unknown)}")
        d = dict(d)
        if d.get("resolved_from") is not None and isinstance(d.get("train"), dict):
            d["train"] = TrainConfig(**d["train"])
        elif isinstance(d.get("train"), dict):  # the flat layout: what its runs trained with
            d["train"] = dict(d["train"])
            for name in set(d["train"]) & set(TRAIN_FLAGS) & set(d):
                if name in ("epochs", "lr"):  # its methods passed the flat epochs and lr to every fit
                    del d["train"][name]
                else:  # its trainer read --train's batch_size and patience
                    del d[name]
        return cls(**d)

    @classmethod
    def field_default(cls, name: str):
        return next(f.default for f in dataclasses.fields(cls) if f.name == name)

    @classmethod
    def check_method_defaults(cls, method: str, defaults: dict) -> None:
        """A method may default only the settings left unset (None) by default, and training fields."""
        slim = {f.name: f.default for f in dataclasses.fields(cls)}
        for name in defaults:
            if name in slim and slim[name] is None and name not in ("train", "resolved_from"):
                continue
            if name in TrainConfig.help() and name not in RUN_SETTINGS + SET_BY_METHOD:
                continue
            raise EdgepruneError(f"method {method!r}: a default for {name!r}, which is not a setting it may decide")


def _with_train_flags(cls):
    """SlimConfig(lr=...) sets train["lr"]; cfg.lr reads it (resolved or not): one path for flag and JSON."""
    init = cls.__init__

    def __init__(self, *args, **kw):
        given = {k: kw.pop(k) for k in TRAIN_FLAGS if k in kw}
        init(self, *args, **kw)
        given = {k: v for k, v in given.items() if v is not None}
        if not given:
            return
        if isinstance(self.train, TrainConfig):
            raise EdgepruneError("a resolved config takes no --" + ", --".join(sorted(given)))
        clash = sorted(set(given) & set(self.train or {}))
        if clash:
            raise EdgepruneError(f"--train sets {', '.join(clash)}, which has its own flag (--{clash[0].replace('_', '-')})")
        self.train = {**(self.train or {}), **given}

    __init__.__doc__ = init.__doc__
    cls.__init__ = __init__
    for name in TRAIN_FLAGS:
        setattr(cls, name, property(lambda self, n=name: self.train_value(n), doc=f"train.{name}"))
    return cls


_with_train_flags(SlimConfig)


def data_slug(spec: str) -> str:
    """A folder-name-safe short form of a data SPEC: synth, misp2021-NAME, folder-NAME."""
    kind, _, path = spec.partition(":")
    name = Path(path.rstrip("/")).name if path else ""
    slug = f"{kind}-{name}" if name else kind
    return re.sub(r"[^A-Za-z0-9._-]+", "_", slug)


def __getattr__(name):
    if name == "SYNTH_RECIPE":  # its old home: what the synth source recommends now lives with the source
        from edgeprune.data.sources import recommended

        return recommended("synth")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
