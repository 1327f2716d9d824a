"""The linear baseline every network is held against: logistic regression on pooled FBank statistics
(mean/std/max over time + 8 segment means per mel dim), C and threshold chosen on dev by Score.

The regression is fitted here in numpy rather than with scikit-learn, so that the core install carries no
scikit-learn and scipy (about 200 MB) for one convex fit: the same problem as scikit-learn's
make_pipeline(StandardScaler(), LogisticRegression(C=c)) (L2 on the weights, intercept not penalised), solved
by Newton's method to a far tighter tolerance than lbfgs's default."""

from __future__ import annotations

import math

import numpy as np

from edgeprune import metrics
from edgeprune.errors import EdgepruneError

SEGMENTS = 8
C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)
NEWTON_TOL = 1e-10  # stop when half the Newton decrement (the objective still to gain) is below this
NEWTON_MAX_STEPS = 100


class LogisticModel:
    """Standardised features (train mean and std, ddof 0; a constant feature keeps scale 1) and an L2-penalised
    logistic regression: minimises C * sum(log-loss) + |w|^2 / 2, the intercept unpenalised."""

    def __init__(self, c: float):
        self.c = float(c)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "LogisticModel":
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        self.mean = x.mean(0)
        std = x.std(0)
        self.scale = np.where(std > 10 * np.finfo(np.float64).eps * np.abs(self.mean).clip(1.0), std, 1.0)
        xb = np.hstack([(x - self.mean) / self.scale, np.ones((len(x), 1))])
        penalty = np.ones(xb.shape[1])
        penalty[-1] = 0.0  # the intercept

        def objective(theta):
            z = xb @ theta
            return self.c * np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(penalty * theta**2)

        theta = np.zeros(xb.shape[1])
        value = objective(theta)
        for _ in range(NEWTON_MAX_STEPS):
            p = _sigmoid(xb @ theta)
            grad = self.c * (xb.T @ (p - y)) + penalty * theta
            hess = self.c * (xb.T * (p * (1.0 - p))) @ xb + np.diag(penalty)
            step = np.linalg.solve(hess, grad)
            decrement = float(grad @ step)
            if decrement / 2 < NEWTON_TOL:
                break
            t = 1.0  # backtracking line search (Armijo), so that a weakly regularised fit cannot overshoot
            while t > 1e-12:
                new_value = objective(theta - t * step)
                if new_value <= value - 0.25 * t * decrement:
                    break
                t *= 0.5
            theta, value = theta - t * step, new_value
        self.coef, self.intercept = theta[:-1], theta[-1]
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """P(wake) per row."""
        return _sigmoid(((np.asarray(x, dtype=np.float64) - self.mean) / self.scale) @ self.coef + self.intercept)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


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
    if getattr(bundle, "task", "binary") != "binary":
        raise EdgepruneError(f"the logistic-regression baseline is for wake-word (binary) data, not {bundle.task}")
    (xtr, ytr, _), (xdv, ydv, _), (xte, yte, snr) = (_split_features(bundle, s) for s in ("train", "dev", "test"))
    if len(np.unique(ytr)) < 2:
        raise EdgepruneError("the baseline needs both wake and non-wake clips in the train split")
    tried, best = [], None
    for c in c_grid:
        clf = LogisticModel(c).fit(xtr, ytr)  # deterministic: the same data gives the same coefficients
        dev = clf.predict_proba(xdv)
        t = metrics.best_threshold(dev, ydv)
        dev_score = metrics.score(dev, ydv, t)
        tried.append({"C": c, "dev_score": dev_score})
        if best is None or dev_score < best[0]:
            best = (dev_score, c, t, clf)
    dev_score, c, threshold, clf = best
    s = clf.predict_proba(xte)
    frr, far = metrics.frr_far(s, yte, threshold)
    return {
        "model": "logistic-regression",
        "features": f"mean/std/max over time + {SEGMENTS} segment means per mel dim ({xtr.shape[1]} values)",
        "C": c,
        "tried": tried,
        "threshold": threshold,
        "dev_score": dev_score,
        "train_score": metrics.score(clf.predict_proba(xtr), ytr, threshold),
        "split": "test",
        "n": int(len(yte)),
        "score": frr + far,
        "frr": frr,
        "far": far,
        "frr_target": frr_target,
        "far_at_frr": metrics.far_at_frr(s, yte, frr_target) if yte.any() else math.nan,
        "per_snr": metrics.per_snr(s, yte, snr, threshold, frr=frr_target),
    }
