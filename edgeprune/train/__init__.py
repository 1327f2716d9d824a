"""Training: TrainConfig, the Trainer (fit / evaluate / predict), the rewindable LR schedule, and DDP support."""

from edgeprune.train.config import TrainConfig
from edgeprune.train.result import FitResult
from edgeprune.train.schedule import LRSchedule
from edgeprune.train.trainer import Trainer

__all__ = ["FitResult", "LRSchedule", "TrainConfig", "Trainer"]
