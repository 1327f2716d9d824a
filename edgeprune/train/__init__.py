"""Training: TrainConfig, the Trainer (fit / evaluate / predict), the rewindable LR schedule, and DDP support.

Names are imported lazily, so that reading a TrainConfig (the command line does) never pulls in torch."""

_LAZY = {
    "TrainConfig": "edgeprune.train.config",
    "FitResult": "edgeprune.train.result",
    "LRSchedule": "edgeprune.train.schedule",
    "Trainer": "edgeprune.train.trainer",
}

__all__ = ["FitResult", "LRSchedule", "TrainConfig", "Trainer"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'edgeprune.train' has no attribute {name!r}")
