"""FitResult: what one Trainer.fit() call did, epoch by epoch (JSON-serialisable through to_dict)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class FitResult:
    """Epochs run, the best dev epoch (1-based, by the config's selection) whose weights were kept, its dev loss
    and Score, and the per-epoch history."""

    epochs_run: int
    best_epoch: int
    best_dev_loss: float
    stopped_early: bool
    lr: float
    l1_bn: float
    seconds: float
    history: list[dict] = field(default_factory=list)
    best_dev_score: float = float("nan")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
