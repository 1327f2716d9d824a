"""TrainConfig: every training hyper-parameter, each field carrying its own help text (open_lth style)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from edgeprune.errors import EdgepruneError
from edgeprune.metrics import GRID_STEP, PAPER_FRR

SCHEDULES = ("constant", "cosine", "step")
SELECT = ("score", "loss")
OPTIMIZERS = ("adam", "adamw")
PRECISIONS = ("fp32", "bf16")


def _f(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Hyper-parameters of one Trainer. The papers' per-model values come from `TrainConfig.for_model`."""

    epochs: int = _f(20, "maximum epochs per fit() call (early stopping may end it sooner)")
    lr: float = _f(1e-4, "Adam base learning rate (ICASSP paper: 1e-4 audio, 2e-4 video and audio-visual)")
    batch_size: int = _f(64, "global batch size, split evenly over distributed ranks (paper: 64 audio, 16 video/AV)")
    patience: int = _f(6, "stop after this many epochs without a better dev model (see select); 0 never stops early")
    restore_best: bool = _f(True, "at the end of fit(), load the weights of the best epoch on dev (see select)")
    select: str = _f("score", "what picks the best epoch and drives early stopping: score (dev Score, ties broken by "
                     "dev loss; the task's metric) or loss (dev loss, the CPLR paper's early-stop point)")
    l1_bn: float = _f(0.0, "L1 penalty on BatchNorm scales (sparse training, network slimming); 0 is off")
    schedule: str = _f("cosine", "learning-rate schedule within one fit(): cosine (decay to min_lr_ratio), constant "
                       "(the papers') or step")
    warmup_epochs: float = _f(1.0, "epochs of linear warm-up, step by step, at the start of every schedule (and of "
                              "every rewind); at most a quarter of the fit; 0 is off")
    min_lr_ratio: float = _f(0.02, "cosine: final learning rate as a fraction of the base rate")
    step_epochs: int = _f(10, "step: multiply the rate by step_gamma every this many epochs")
    step_gamma: float = _f(0.1, "step: the factor applied every step_epochs")
    optimizer: str = _f("adamw", "adamw (decoupled weight decay) or adam (the papers'; weight_decay is then L2)")
    weight_decay: float = _f(1e-2, "weight decay; 0 is off (the papers')")
    precision: str = _f("fp32", "arithmetic of the training forward and backward passes: fp32, or bf16 (autocast "
                        "mixed precision: weights, optimizer, loss and every evaluation stay fp32; about 2x faster "
                        "where the CPU has bf16 instructions, e.g. AVX512-BF16 or AMX, and slower where it has not)")
    grad_clip: float = _f(5.0, "clip the global gradient norm to this value; 0 is off")
    augment: bool = _f(True, "augment training batches on the fly (never dev/test): audio shift, noise, gain, "
                       "SpecAugment; lips shift and brightness")
    aug_shift_s: float = _f(0.05, "augment: largest random time shift of a clip, in seconds")
    aug_noise_prob: float = _f(0.6, "augment: share of training clips mixed with a background from the noise pool "
                               "(the corpus's negatives plus synthetic pink noise and music)")
    aug_snr_min: float = _f(0.0, "augment: lowest SNR (dB, relative to the clip as recorded) of the added background")
    aug_snr_max: float = _f(20.0, "augment: highest SNR (dB) of the added background")
    aug_gain_db: float = _f(3.0, "augment: random gain within +- this many dB")
    aug_time_masks: int = _f(0, "augment: SpecAugment time masks per clip (off: measured to cost Score on synth, whose "
                             "negatives include the wake word with a syllable missing; see docs/TRAINING.md)")
    aug_time_mask_frames: int = _f(5, "augment: widest time mask, in FBank frames (keep it well below a syllable: "
                                   "a masked syllable turns a wake word into a near miss with the wrong label)")
    aug_freq_masks: int = _f(0, "augment: SpecAugment frequency masks per clip (off by default, as time masks)")
    aug_freq_mask_bins: int = _f(4, "augment: widest frequency mask, in mel bins")
    aug_lip_shift: int = _f(4, "augment: largest shift of a lip clip, in pixels")
    aug_lip_brightness: float = _f(0.15, "augment: lip brightness offset and contrast change, +- this (pixel range 0-1)")
    seed: int = _f(0, "seed for weights' training noise (dropout), shuffling and numpy; same seed, same numbers")
    device: str = _f("cpu", "torch device: cpu, cuda or cuda:N (nothing requires a GPU)")
    sync_bn: bool = _f(True, "under torchrun, normalise BatchNorm with the global batch's statistics (as one process would)")
    num_workers: int = _f(0, "DataLoader worker processes (0 loads in the main process)")
    eval_batch_size: int = _f(64, "batch size for evaluation and prediction")
    frr_target: float = _f(PAPER_FRR, "FRR fixed for the far_at_frr operating point (ICASSP paper: 1 - 0.9878)")
    threshold_step: float = _f(GRID_STEP, "step of the dev threshold sweep 0 .. <1 (MISP2021 baseline: 0.001)")
    progress: bool = _f(True, "show a progress bar per epoch (also off when EDGEPRUNE_NO_PROGRESS=1)")

    def __post_init__(self):
        def need(cond, msg):
            if not cond:
                raise EdgepruneError(f"TrainConfig: {msg}")

        need(isinstance(self.epochs, int) and self.epochs >= 1, f"epochs must be a positive integer, got {self.epochs!r}")
        need(self.lr > 0, f"lr must be > 0, got {self.lr!r}")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size!r}")
        need(isinstance(self.patience, int) and self.patience >= 0, f"patience must be >= 0, got {self.patience!r}")
        need(self.l1_bn >= 0, f"l1_bn must be >= 0, got {self.l1_bn!r}")
        need(self.select in SELECT, f"select must be one of {', '.join(SELECT)}, got {self.select!r}")
        need(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        need(self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        need(0 <= self.aug_shift_s <= 1 and 0 <= self.aug_noise_prob <= 1, "aug_shift_s must be in [0, 1] s and aug_noise_prob in [0, 1]")
        need(self.aug_snr_min <= self.aug_snr_max, f"aug_snr_min ({self.aug_snr_min}) must not exceed aug_snr_max ({self.aug_snr_max})")
        need(self.aug_gain_db >= 0 and 0 <= self.aug_lip_brightness < 1, "aug_gain_db must be >= 0 and aug_lip_brightness in [0, 1)")
        for name in ("aug_time_masks", "aug_time_mask_frames", "aug_freq_masks", "aug_freq_mask_bins", "aug_lip_shift"):
            need(isinstance(getattr(self, name), int) and getattr(self, name) >= 0, f"{name} must be an integer >= 0")
        need(self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        need(self.warmup_epochs >= 0, f"warmup_epochs must be >= 0, got {self.warmup_epochs!r}")
        need(0 <= self.min_lr_ratio <= 1, f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")
        need(self.step_epochs >= 1, f"step_epochs must be >= 1, got {self.step_epochs!r}")
        need(0 < self.step_gamma <= 1, f"step_gamma must be in (0, 1], got {self.step_gamma!r}")
        need(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay!r}")
        need(self.grad_clip >= 0, f"grad_clip must be >= 0, got {self.grad_clip!r}")
        need(self.num_workers >= 0, f"num_workers must be >= 0, got {self.num_workers!r}")
        need(self.eval_batch_size >= 1, f"eval_batch_size must be >= 1, got {self.eval_batch_size!r}")
        need(0 <= self.frr_target < 1, f"frr_target must be in [0, 1), got {self.frr_target!r}")
        need(0 < self.threshold_step < 1, f"threshold_step must be in (0, 1), got {self.threshold_step!r}")
        need(
            self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:"),
            f"device must be cpu, cuda or cuda:N, got {self.device!r}",
        )

    @classmethod
    def help(cls) -> dict[str, str]:
        """{field name: help text}, for command-line options and documentation."""
        return {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}

    @classmethod
    def for_model(cls, spec, **overrides) -> "TrainConfig":
        """The field defaults < a zoo model's recommendation (`edgeprune.models.spec(name).defaults`: batch_size,
        lr, epochs) < `overrides` (None is unset); `edgeprune slim` adds the data source's (methods/resolve.py)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise EdgepruneError(f"TrainConfig has no field {', '.join(unknown)}")
        recommends = {k: v for k, v in (getattr(spec, "defaults", None) or {}).items() if k in names}
        values, _ = layered([("model", recommends), ("user", overrides)])
        return cls(**values)

    def augment_config(self):
        """The AugmentConfig these fields describe."""
        from edgeprune.train.augment import AugmentConfig

        return AugmentConfig(
            shift_s=self.aug_shift_s, noise_prob=self.aug_noise_prob, snr_db=(self.aug_snr_min, self.aug_snr_max),
            gain_db=self.aug_gain_db, time_masks=self.aug_time_masks, time_mask_frames=self.aug_time_mask_frames,
            freq_masks=self.aug_freq_masks, freq_mask_bins=self.aug_freq_mask_bins, lip_shift=self.aug_lip_shift,
            lip_brightness=self.aug_lip_brightness)

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def layered(layers: list[tuple[str, dict]]) -> tuple[dict, dict]:
    """The precedence rule of every setting: merge named layers given lowest first, a later layer's value
    winning; None means unset. Returns ({key: value}, {key: name of the layer it came from})."""
    values, sources = {}, {}
    for name, layer in layers:
        for key, value in layer.items():
            if value is not None:
                values[key], sources[key] = value, name
    return values, sources
