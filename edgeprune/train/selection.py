"""Model selection on dev: the sort key of an epoch's dev summary, and the best epoch so far (with a copy of its
weights) under patience-based early stopping."""

from __future__ import annotations

import math


def selection_key(dev: dict, select: str) -> tuple:
    """Sort key of an epoch's dev summary (lower is better): (Score, loss), or (loss,) for select='loss'.
    A NaN Score (a dev split with one class) falls back to the loss."""
    loss = float(dev["dev_loss"])
    if select == "loss":
        return (loss,)
    score = dev.get("dev_score", dev.get("dev_accuracy"))
    if score is None or math.isnan(score):
        return (math.inf, loss)
    if "dev_accuracy" in dev and "dev_score" not in dev:
        score = -score
    return (float(score), loss)


class BestEpoch:
    """The best epoch so far by selection_key (1-based; 0 before any), its dev loss and a copy of its weights."""

    def __init__(self, select: str, patience: int):
        self.select, self.patience = select, patience
        self.key, self.loss, self.epoch, self.state = None, math.inf, 0, None

    def update(self, epoch: int, dev: dict, model) -> bool:
        """Record 1-based `epoch` with its dev summary, copying the model's weights when it is the best so far;
        True when `patience` epochs have passed since the best (time to stop)."""
        key = selection_key(dev, self.select)
        if self.key is None or key < self.key:
            self.key, self.loss, self.epoch = key, dev["dev_loss"], epoch
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        return bool(self.patience) and epoch - self.epoch >= self.patience
