"""LRSchedule: the per-epoch learning rate of one fit(); restarting it is CPLR's learning-rate rewinding.

Rewinding (Renda et al. 2020) replays the schedule from its first epoch, optionally from a new base rate
(CPLR eq. 6-7: alpha_{n+1} = k * alpha_n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from edgeprune.errors import EdgepruneError


@dataclass(frozen=True)
class LRSchedule:
    """Learning rate per epoch: linear warm-up, then constant, cosine decay or step decay."""

    base_lr: float
    epochs: int
    kind: str = "constant"
    warmup_epochs: int = 0
    min_lr_ratio: float = 0.0
    step_epochs: int = 10
    step_gamma: float = 0.1

    def __post_init__(self):
        if self.kind not in ("constant", "cosine", "step"):
            raise EdgepruneError(f"unknown learning-rate schedule {self.kind!r} (constant, cosine or step)")
        if not self.base_lr > 0:
            raise EdgepruneError(f"learning rate must be > 0, got {self.base_lr!r}")
        if self.epochs < 1:
            raise EdgepruneError(f"a schedule needs at least one epoch, got {self.epochs!r}")

    @classmethod
    def from_config(cls, cfg, base_lr: float, epochs: int) -> "LRSchedule":
        return cls(
            base_lr=base_lr,
            epochs=epochs,
            kind=cfg.schedule,
            warmup_epochs=cfg.warmup_epochs,
            min_lr_ratio=cfg.min_lr_ratio,
            step_epochs=cfg.step_epochs,
            step_gamma=cfg.step_gamma,
        )

    @property
    def warmup(self) -> float:
        """Warm-up length in epochs: warmup_epochs, but never more than a quarter of the schedule (so a
        one-epoch fit, as LTH-IF's iterations, still trains mostly at its rate)."""
        return min(float(self.warmup_epochs), 0.25 * self.epochs)

    def lr_at(self, epoch: float) -> float:
        """Learning rate at `epoch` epochs into this schedule (fractional: the trainer sets it every step).

        Warm-up rises linearly from base_lr / 100 to base_lr; cosine then decays to min_lr_ratio * base_lr at
        the start of the last epoch (the last epoch trains at the floor)."""
        if epoch < 0:
            raise EdgepruneError(f"epoch must be >= 0, got {epoch}")
        w = self.warmup
        if epoch < w:
            return self.base_lr * max(epoch / w, 0.01)
        e = epoch - w
        if self.kind == "constant":
            return self.base_lr
        if self.kind == "step":
            return self.base_lr * self.step_gamma ** (int(e) // self.step_epochs)
        span = max(1.0, self.epochs - w - 1)
        t = min(1.0, e / span)
        low = self.base_lr * self.min_lr_ratio
        return low + 0.5 * (self.base_lr - low) * (1.0 + math.cos(math.pi * t))

    def rates(self) -> list[float]:
        """The rate at the start of every epoch."""
        return [self.lr_at(e) for e in range(self.epochs)]

    def rewind(self, base_lr: float | None = None, factor: float = 1.0) -> "LRSchedule":
        """The same schedule restarted from epoch 0, from `base_lr` (default: this one) times `factor`."""
        lr = (self.base_lr if base_lr is None else base_lr) * factor
        return replace(self, base_lr=lr)

    def apply(self, optimizer, epoch: float) -> float:
        """Set every parameter group of `optimizer` to the rate at `epoch` (fractional); returns it."""
        lr = self.lr_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr
