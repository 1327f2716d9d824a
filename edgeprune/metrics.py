"""Wake-word metrics (numpy only): FRR, FAR, Score = FRR + FAR, the dev-chosen threshold, FAR at a fixed FRR, per SNR.

A sample counts as "wake" when its score is >= the threshold. Rates of an empty class are NaN.
"""

from __future__ import annotations

import math

import numpy as np

from edgeprune.errors import EdgepruneError

#: The ICASSP paper reports FAR with 1 - FRR fixed at 98.78 %.
PAPER_FRR = 1.0 - 0.9878
#: The MISP2021 baseline sweeps thresholds 0 .. 0.999 in steps of 0.001.
GRID_STEP = 0.001


def _as_arrays(scores, labels):
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if s.shape != y.shape:
        raise EdgepruneError(f"scores and labels differ in length: {s.shape[0]} vs {y.shape[0]}")
    if np.isnan(s).any():
        raise EdgepruneError("scores contain NaN (did training diverge?)")
    if y.size and not np.isin(y, (0, 1)).all():
        raise EdgepruneError("labels must be 0 (non-wake) or 1 (wake)")
    return s, y.astype(bool)


def frr_far(scores, labels, threshold: float) -> tuple[float, float]:
    """(FRR, FAR) at `threshold`: FRR = wake samples scored below it, FAR = non-wake samples at or above it."""
    s, y = _as_arrays(scores, labels)
    pos, neg = s[y], s[~y]
    frr = float(np.mean(pos < threshold)) if pos.size else math.nan
    far = float(np.mean(neg >= threshold)) if neg.size else math.nan
    return frr, far


def score(scores, labels, threshold: float) -> float:
    """Score = FRR + FAR at `threshold` (lower is better; MISP2021's challenge metric)."""
    frr, far = frr_far(scores, labels, threshold)
    return frr + far


def threshold_grid(step: float = GRID_STEP) -> np.ndarray:
    """Thresholds 0, step, 2*step, ... below 1 (0 .. 0.999 for the default step)."""
    if not 0 < step < 1:
        raise EdgepruneError(f"threshold step must be in (0, 1), got {step}")
    n = int(math.floor(1.0 / step + 1e-9))
    grid = np.round(np.arange(n) * step, 10)
    return grid[grid < 1.0]


def _need_both_classes(y, what: str) -> None:
    if not y.any() or y.all():
        raise EdgepruneError(f"{what} needs both wake and non-wake samples; got {int(y.sum())} wake of {y.size}")


def best_threshold(scores, labels, step: float = GRID_STEP) -> float:
    """The grid threshold with the lowest Score on these samples (the lowest such threshold on ties)."""
    s, y = _as_arrays(scores, labels)
    _need_both_classes(y, "best_threshold")
    grid = threshold_grid(step)
    pos, neg = np.sort(s[y]), np.sort(s[~y])
    frr = np.searchsorted(pos, grid, side="left") / pos.size
    far = (neg.size - np.searchsorted(neg, grid, side="left")) / neg.size
    return float(grid[int(np.argmin(frr + far))])


def threshold_at_frr(scores, labels, frr: float = PAPER_FRR) -> float:
    """The highest threshold whose FRR does not exceed `frr` (a wake score itself, so FRR is exact)."""
    s, y = _as_arrays(scores, labels)
    if not 0 <= frr < 1:
        raise EdgepruneError(f"target FRR must be in [0, 1), got {frr}")
    pos = np.sort(s[y])
    if pos.size == 0:
        raise EdgepruneError("threshold_at_frr needs wake samples; got none")
    k = int(math.floor(frr * pos.size + 1e-9))  # wake samples we may reject
    return float(pos[k])


def far_at_frr(scores, labels, frr: float = PAPER_FRR) -> float:
    """FAR at the operating point where FRR is at most `frr` (ICASSP paper: 1 - FRR = 98.78 %)."""
    s, y = _as_arrays(scores, labels)
    if (~y).sum() == 0:
        return math.nan
    return frr_far(s, y, threshold_at_frr(s, y, frr))[1]


def _snr_key(value: float):
    return "unknown" if math.isnan(value) else float(value)


def snr_bins(snrs, step: float = 1.0, centres=None) -> np.ndarray:
    """The bin of each SNR: the nearest of `centres` (e.g. the test SNRs -5, 0, 5) when given, else the nearest
    multiple of `step` dB (whole dB by default); NaN (unknown) and +-inf (clean) stay as they are."""
    snr = np.asarray(snrs, dtype=np.float64).reshape(-1)
    finite = np.isfinite(snr)
    out = snr.copy()
    if centres is not None:
        c = np.asarray(sorted({float(v) for v in centres}), dtype=np.float64)
        if c.size == 0 or not np.isfinite(c).all():
            raise EdgepruneError(f"SNR bin centres must be finite numbers, got {list(centres)!r}")
        out[finite] = c[np.abs(snr[finite, None] - c[None, :]).argmin(axis=1)]
    else:
        if not (math.isfinite(step) and step > 0):
            raise EdgepruneError(f"SNR bin step must be a positive number of dB, got {step}")
        out[finite] = np.round(snr[finite] / step) * step + 0.0  # + 0.0: no -0.0 key
    return out


def per_snr(scores, labels, snrs, threshold: float, frr: float | None = None, *, step: float = 1.0,
            centres=None) -> dict:
    """{snr: {score, frr, far, n, n_wake}} at one threshold, grouped by SNR bin (see snr_bins: whole dB by
    default, so continuous SNRs do not give one entry per distinct value; NaN -> "unknown").

    With `frr` given, each group also gets `far_at_frr` (its own operating point at that FRR).
    """
    s, y = _as_arrays(scores, labels)
    raw = np.asarray(snrs, dtype=np.float64).reshape(-1)
    if raw.shape != s.shape:
        raise EdgepruneError(f"snrs and scores differ in length: {raw.shape[0]} vs {s.shape[0]}")
    snr = snr_bins(raw, step, centres)
    out = {}
    known = snr[~np.isnan(snr)]
    groups = [(float(v), snr == v) for v in np.unique(known)]
    if np.isnan(snr).any():
        groups.append((math.nan, np.isnan(snr)))
    for value, sel in groups:
        g_frr, g_far = frr_far(s[sel], y[sel], threshold)
        entry = {"score": g_frr + g_far, "frr": g_frr, "far": g_far, "n": int(sel.sum()), "n_wake": int(y[sel].sum())}
        if frr is not None:
            entry["far_at_frr"] = far_at_frr(s[sel], y[sel], frr) if y[sel].any() else math.nan
        out[_snr_key(value)] = entry
    return out
