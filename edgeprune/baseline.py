"""The linear baseline every network is held against: logistic regression on pooled FBank statistics
(mean/std/max over time + 8 segment means per mel dim), C and threshold chosen on dev by Score."""

from __future__ import annotations

import math

import numpy as np

from edgeprune import metrics
from edgeprune.errors import EdgepruneError

SEGMENTS = 8
C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


def pooled_features(fbank, segments: int = SEGMENTS) -> np.ndarray:
    """(N, T, D) frames -> (N, (3 + segments) * D): mean, std, max over time, then `segments` segment means."""
    x = np.asarray(fbank, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] < segments:
        raise EdgepruneError(f"pooled_features needs (clips, frames >= {segments}, dims) features, got {x.shape}")
    parts = [x.mean(1), x.std(1), x.max(1)]
    parts += [seg.mean(1) for seg in np.array_split(x, segments, axis=1)]
    return np.concatenate(parts, axis=1)


def _split_features(bundle, split: str):
    ds = getattr(bundle, split)
    tensors = getattr(ds, "tensors", None) or {}
    if "fbank" not in tensors:
        spec = (getattr(bundle, "info", None) or {}).get("spec", "this data")
        raise EdgepruneError(f"the logistic-regression baseline needs FBank features; the {split} split of {spec} "
                             "has none (open the data with inputs including 'fbank')")
    labels = np.asarray(ds.labels, dtype=np.int64).reshape(-1)
    return pooled_features(tensors["fbank"]), labels, np.asarray(ds.snr, dtype=np.float64)


def fit_baseline(bundle, c_grid=C_GRID, frr_target: float = metrics.PAPER_FRR) -> dict:
    """Fit on train, pick C and the threshold on dev, report test metrics (the Trainer.evaluate keys)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if getattr(bundle, "task", "binary") != "binary":
        raise EdgepruneError(f"the logistic-regression baseline is for wake-word (binary) data, not {bundle.task}")
    (xtr, ytr, _), (xdv, ydv, _), (xte, yte, snr) = (_split_features(bundle, s) for s in ("train", "dev", "test"))
    if len(np.unique(ytr)) < 2:
        raise EdgepruneError("the baseline needs both wake and non-wake clips in the train split")
    tried, best = [], None
    for c in c_grid:
        # lbfgs is deterministic: the same data gives the same coefficients.
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
        clf.fit(xtr, ytr)
        dev = clf.predict_proba(xdv)[:, 1]
        t = metrics.best_threshold(dev, ydv)
        dev_score = metrics.score(dev, ydv, t)
        tried.append({"C": c, "dev_score": dev_score})
        if best is None or dev_score < best[0]:
            best = (dev_score, c, t, clf)
    dev_score, c, threshold, clf = best
    s = clf.predict_proba(xte)[:, 1]
    frr, far = metrics.frr_far(s, yte, threshold)
    return {
        "model": "logistic-regression",
        "features": f"mean/std/max over time + {SEGMENTS} segment means per mel dim ({xtr.shape[1]} values)",
        "C": c,
        "tried": tried,
        "threshold": threshold,
        "dev_score": dev_score,
        "train_score": metrics.score(clf.predict_proba(xtr)[:, 1], ytr, threshold),
        "split": "test",
        "n": int(len(yte)),
        "score": frr + far,
        "frr": frr,
        "far": far,
        "frr_target": frr_target,
        "far_at_frr": metrics.far_at_frr(s, yte, frr_target) if yte.any() else math.nan,
        "per_snr": metrics.per_snr(s, yte, snr, threshold, frr=frr_target),
    }
