"""Metrics of one split from its per-sample outputs (loss, score, label, snr): the per-epoch summary and the
report of Trainer.evaluate()."""

from __future__ import annotations

import math

import numpy as np

from edgeprune import metrics


def accuracy(out: dict) -> float:
    """The share of samples whose most probable class is the label (multiclass)."""
    return float(np.mean(out["score"].argmax(1) == out["label"]))


def summary(out: dict, split: str, task: str, threshold_step: float) -> dict[str, float]:
    """Loss and Score (binary, at the split's own best threshold) or accuracy, prefixed by the split name."""
    res = {f"{split}_loss": float(out["loss"].mean())}
    if task == "binary":
        y = out["label"].astype(bool)
        if y.any() and not y.all():
            t = metrics.best_threshold(out["score"], out["label"], threshold_step)
            res[f"{split}_score"] = metrics.score(out["score"], out["label"], t)
        else:
            res[f"{split}_score"] = math.nan
    else:
        res[f"{split}_accuracy"] = accuracy(out)
    return res


def report(out: dict, split: str, task: str, threshold: float | None, frr_target: float) -> dict:
    """Binary: loss, score, frr, far at `threshold`, far_at_frr at `frr_target`, per_snr. Multiclass: loss,
    accuracy (no threshold)."""
    res = {"split": split, "n": int(out["loss"].size), "loss": float(out["loss"].mean())}
    if task == "multiclass":
        res["accuracy"] = accuracy(out)
        return res
    s, y, snr = out["score"], out["label"], out["snr"]
    frr, far = metrics.frr_far(s, y, threshold)
    has_wake = bool(y.astype(bool).any())
    res.update(
        threshold=float(threshold),
        score=frr + far,
        frr=frr,
        far=far,
        frr_target=frr_target,
        far_at_frr=metrics.far_at_frr(s, y, frr_target) if has_wake else math.nan,
        per_snr=metrics.per_snr(s, y, snr, threshold, frr=frr_target),
    )
    return res
