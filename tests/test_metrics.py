"""edgeprune.metrics on hand-made scores whose FRR, FAR and thresholds are worked out by hand."""

import math

import numpy as np
import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.metrics import (
    PAPER_FRR,
    best_threshold,
    far_at_frr,
    frr_far,
    per_snr,
    score,
    threshold_at_frr,
    threshold_grid,
)

# wake: 0.9 0.8 0.4        non-wake: 0.1 0.5 0.3 0.95
SCORES = np.array([0.9, 0.8, 0.4, 0.1, 0.5, 0.3, 0.95])
LABELS = np.array([1, 1, 1, 0, 0, 0, 0])


def test_frr_far_at_a_threshold():
    # at 0.5: wake 0.4 is missed (1/3); non-wake 0.5 and 0.95 fire (2/4); ">=" counts 0.5 as a wake
    frr, far = frr_far(SCORES, LABELS, 0.5)
    assert frr == pytest.approx(1 / 3)
    assert far == pytest.approx(0.5)
    assert score(SCORES, LABELS, 0.5) == pytest.approx(1 / 3 + 0.5)


def test_frr_far_extremes():
    assert frr_far(SCORES, LABELS, 0.0) == (0.0, 1.0)
    assert frr_far(SCORES, LABELS, 1.0) == (1.0, 0.0)


def test_empty_class_rate_is_nan():
    frr, far = frr_far([0.2, 0.7], [0, 0], 0.5)
    assert math.isnan(frr) and far == 0.5


def test_grid_is_the_baseline_sweep():
    grid = threshold_grid()
    assert grid.size == 1000 and grid[0] == 0.0 and grid[-1] == pytest.approx(0.999)
    assert grid[300] == 0.3


def test_best_threshold_by_hand():
    # Score is 0.5 for t in (0.3, 0.4] (no miss, 0.5 and 0.95 fire), worse elsewhere; lowest tie is 0.301
    t = best_threshold(SCORES, LABELS)
    assert t == pytest.approx(0.301)
    assert score(SCORES, LABELS, t) == pytest.approx(0.5)


def test_best_threshold_separable_gets_zero_score():
    s = [0.1, 0.2, 0.35, 0.6, 0.7]
    y = [0, 0, 0, 1, 1]
    t = best_threshold(s, y)
    assert score(s, y, t) == 0.0
    assert 0.35 < t <= 0.6


def test_best_threshold_needs_both_classes():
    with pytest.raises(EdgepruneError, match="both wake and non-wake"):
        best_threshold([0.1, 0.9], [1, 1])


def test_far_at_frr_by_hand():
    # FRR 0: threshold = lowest wake score 0.4 -> non-wake 0.5, 0.95 fire -> FAR 2/4
    assert threshold_at_frr(SCORES, LABELS, 0.0) == 0.4
    assert far_at_frr(SCORES, LABELS, 0.0) == pytest.approx(0.5)
    # FRR <= 0.34 allows one miss of three: threshold 0.8 -> only 0.95 fires
    assert threshold_at_frr(SCORES, LABELS, 0.34) == 0.8
    assert frr_far(SCORES, LABELS, 0.8)[0] == pytest.approx(1 / 3)
    assert far_at_frr(SCORES, LABELS, 0.34) == pytest.approx(0.25)
    # the paper's 1.22 % of three wake samples allows no miss
    assert far_at_frr(SCORES, LABELS) == far_at_frr(SCORES, LABELS, 0.0)
    assert PAPER_FRR == pytest.approx(0.0122)


def test_far_at_frr_with_ties_keeps_frr_under_target():
    s = [0.5, 0.5, 0.5, 0.9, 0.2, 0.6]
    y = [1, 1, 1, 1, 0, 0]
    # one miss allowed (0.25 of 4) but three wake samples tie at 0.5: the threshold stays at 0.5
    t = threshold_at_frr(s, y, 0.25)
    assert frr_far(s, y, t)[0] <= 0.25
    assert far_at_frr(s, y, 0.25) == pytest.approx(0.5)


def test_per_snr_by_hand():
    s = [0.9, 0.3, 0.2, 0.7, 0.8, 0.6, 0.1, 0.4]
    y = [1, 1, 0, 0, 1, 0, 0, 1]
    snr = [-5, -5, -5, -5, 5, 5, 5, float("nan")]
    out = per_snr(s, y, snr, threshold=0.5)
    assert set(out) == {-5.0, 5.0, "unknown"}
    # -5 dB: wake 0.9 hit, 0.3 missed; non-wake 0.2 quiet, 0.7 fires
    assert out[-5.0] == {"score": 1.0, "frr": 0.5, "far": 0.5, "n": 4, "n_wake": 2}
    # 5 dB: wake 0.8 hit; non-wake 0.6 fires, 0.1 quiet
    assert out[5.0]["frr"] == 0.0 and out[5.0]["far"] == 0.5 and out[5.0]["n"] == 3
    # unknown SNR: one wake sample, missed; no non-wake -> FAR NaN
    assert out["unknown"]["frr"] == 1.0 and math.isnan(out["unknown"]["far"])


def test_per_snr_far_at_frr_per_group():
    s = [0.9, 0.3, 0.2, 0.7]
    y = [1, 1, 0, 0]
    out = per_snr(s, y, [0, 0, 0, 0], threshold=0.5, frr=0.0)
    # FRR 0 -> threshold 0.3 -> non-wake 0.7 fires, 0.2 does not
    assert out[0.0]["far_at_frr"] == 0.5


def test_per_snr_bins_continuous_snrs_to_whole_db():
    s = [0.9, 0.3, 0.2, 0.7, 0.8, 0.6, 0.1, 0.95]
    y = [1, 1, 0, 0, 1, 0, 0, 0]
    snr = [-5.2, -4.9, -5.4, -4.6, 0.3, -0.2, 4.8, float("inf")]
    out = per_snr(s, y, snr, threshold=0.5)
    # -4.6 rounds to -5 as well; 0.3 and -0.2 share 0 dB (no "-0.0" key); clean (inf) stays its own group
    assert set(out) == {-5.0, 0.0, 5.0, math.inf}
    assert out[-5.0] == {"score": 1.0, "frr": 0.5, "far": 0.5, "n": 4, "n_wake": 2}
    assert out[0.0]["n"] == 2 and out[0.0]["far"] == 1.0 and out[math.inf]["far"] == 1.0
    # nearest test SNR instead: -2.4 goes to 0, -2.6 to -5
    near = per_snr([0.9, 0.1, 0.8, 0.2], [1, 0, 1, 0], [-2.4, -2.6, 3.0, 7.0], 0.5, centres=(-5, 0, 5))
    assert {k: v["n"] for k, v in near.items()} == {-5.0: 1, 0.0: 1, 5.0: 2}
    assert set(per_snr(s[:4], y[:4], snr[:4], 0.5, step=0.5)) == {-5.5, -5.0, -4.5}  # -5.4, -5.2 and -4.9, -4.6


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: frr_far([0.1, 0.2], [1], 0.5), "scores and labels differ in length: 2 vs 1"),
        (lambda: frr_far([0.1, float("nan")], [1, 0], 0.5), "scores contain NaN"),
        (lambda: frr_far([0.1, 0.2], [1, 2], 0.5), r"labels must be 0 \(non-wake\) or 1 \(wake\)"),
        (lambda: far_at_frr([0.1, 0.2], [1, 0], 1.5), r"target FRR must be in \[0, 1\), got 1.5"),
        (lambda: per_snr([0.1, 0.2], [1, 0], [0.0], 0.5), "snrs and scores differ in length: 1 vs 2"),
        (lambda: per_snr([0.1, 0.2], [1, 0], [0.0, 1.0], 0.5, step=0), "SNR bin step must be a positive number"),
        (lambda: per_snr([0.1, 0.2], [1, 0], [0.0, 1.0], 0.5, centres=()), "SNR bin centres must be finite"),
    ],
)
def test_bad_input_raises_one_clear_error(call, match):
    with pytest.raises(EdgepruneError, match=match):
        call()
