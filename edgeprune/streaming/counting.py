"""Score trace -> detections (threshold, refractory period) -> hits, misses and false accepts against the
true wake words (MLPerf Tiny streaming wake-word style)."""

from __future__ import annotations

import numpy as np

from edgeprune.errors import EdgepruneError

_EPS = 1e-6  # seconds: window times are sums of hops, so 5.3 - 5.0 may come out as 0.29999...


def detections(times, scores, threshold: float, refractory: float) -> np.ndarray:
    """Times of the detections: firings (score >= threshold) at least `refractory` s after the last detection,
    so that the windows of one spoken word that all cross the threshold merge into one detection."""
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if t.shape != s.shape:
        raise EdgepruneError(f"score trace: {t.size} times but {s.size} scores")
    if np.isnan(s).any():
        raise EdgepruneError("score trace contains NaN")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise EdgepruneError("score trace times must increase")
    if not refractory >= 0:
        raise EdgepruneError(f"refractory period must be >= 0 s, got {refractory}")
    out, last = [], -np.inf
    for when in t[s >= threshold]:
        if when - last >= refractory - _EPS:
            out.append(when)
            last = when
    return np.asarray(out, dtype=np.float64)


def count_events(found, events, duration_s: float, tolerance: float) -> dict:
    """Hits, misses, false accepts and duplicates of detection times `found` against `events` (start, end) in s.

    A detection is a hit when it falls inside the tolerance window [start, end + tolerance] of a wake word not
    yet hit (the earliest such word); a further detection in a hit word's window is a duplicate (reported,
    not a false accept); any other detection is a false accept. A word without a hit is a miss.
    """
    found = np.asarray(found, dtype=np.float64).reshape(-1)
    ev = np.asarray(events, dtype=np.float64).reshape(-1, 2)
    if not tolerance >= 0:
        raise EdgepruneError(f"tolerance must be >= 0 s, got {tolerance}")
    if not duration_s > 0:
        raise EdgepruneError(f"recording duration must be > 0 s, got {duration_s}")
    if ev.size and np.any(ev[:, 1] < ev[:, 0]):
        raise EdgepruneError("every wake word must end after it starts")
    hit_by = [None] * len(ev)
    false_accepts, duplicates = [], []
    for when in np.sort(found):
        inside = [i for i in range(len(ev)) if ev[i, 0] - _EPS <= when <= ev[i, 1] + tolerance + _EPS]
        free = [i for i in inside if hit_by[i] is None]
        if free:
            hit_by[min(free, key=lambda i: ev[i, 0])] = float(when)
        elif inside:
            duplicates.append(float(when))
        else:
            false_accepts.append(float(when))
    hours = duration_s / 3600.0
    hits = sum(h is not None for h in hit_by)
    misses = len(ev) - hits
    return {
        "events": int(len(ev)),
        "detections": int(found.size),
        "hits": int(hits),
        "misses": int(misses),
        "miss_rate": misses / len(ev) if len(ev) else None,
        "false_accepts": len(false_accepts),
        "duplicates": len(duplicates),
        "hours": hours,
        "false_accepts_per_hour": len(false_accepts) / hours,
        "misses_per_hour": misses / hours,
        "hit_times": hit_by,
        "false_accept_times": false_accepts,
        "duplicate_times": duplicates,
    }
