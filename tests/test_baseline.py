"""The logistic-regression baseline: pooled features, clearly better than chance on synth, deterministic."""

import numpy as np
import pytest
import torch

from edgeprune.baseline import SEGMENTS, LogisticModel, fit_baseline, pooled_features
from edgeprune.data import open_data
from edgeprune.errors import EdgepruneError


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return open_data("synth", cache_dir=tmp_path_factory.mktemp("cache"), train=240, dev=80, test=40)


def test_pooled_features_are_the_documented_statistics():
    x = np.arange(2 * 16 * 3, dtype=np.float64).reshape(2, 16, 3)
    x[1] = np.random.default_rng(0).normal(size=(16, 3))
    f = pooled_features(x)
    assert f.shape == (2, (3 + SEGMENTS) * 3)
    np.testing.assert_allclose(f[:, 0:3], x.mean(1))
    np.testing.assert_allclose(f[:, 3:6], x.std(1))
    np.testing.assert_allclose(f[:, 6:9], x.max(1))
    np.testing.assert_allclose(f[:, 9:12], x[:, 0:2].mean(1))  # first of 8 segments of 2 frames
    np.testing.assert_allclose(f[:, -3:], x[:, 14:16].mean(1))


def test_pooled_features_reject_too_few_frames():
    with pytest.raises(EdgepruneError, match="frames >= 8"):
        pooled_features(np.zeros((2, 4, 40)))


def test_baseline_beats_chance_clearly_and_is_deterministic(bundle):
    res = fit_baseline(bundle)
    assert res["n"] == len(bundle.test) == 120
    # chance (and a constant classifier) scores 1.0: FRR + FAR = 1 at every threshold
    assert res["score"] < 0.5, res
    assert res["dev_score"] < 0.5 and res["C"] in [t["C"] for t in res["tried"]]
    assert res["score"] == pytest.approx(res["frr"] + res["far"])
    assert sorted(res["per_snr"]) == [-5.0, 0.0, 5.0]
    assert all(v["n"] == 40 for v in res["per_snr"].values())
    # recompute the test Score at the reported threshold from a refit: identical numbers
    again = fit_baseline(bundle)
    assert again["score"] == res["score"] and again["threshold"] == res["threshold"]
    assert again["per_snr"] == res["per_snr"] and again["far_at_frr"] == res["far_at_frr"]


def test_baseline_needs_fbank(tmp_path):
    lips_only = open_data("synth", inputs=("lips",), lip_size=88, cache_dir=tmp_path, train=10, dev=6, test=4)
    with pytest.raises(EdgepruneError, match="needs FBank features; the train split of synth has none"):
        fit_baseline(lips_only)


def test_baseline_label_permutation_is_near_chance(bundle):
    """The features carry the signal: the same fit on shuffled train labels loses its edge."""
    shuffled = type(bundle)(bundle.train, bundle.dev, bundle.test, bundle.stats, bundle.info)
    perm = torch.as_tensor(np.random.default_rng(0).permutation(len(bundle.train)))
    train = type(bundle.train)(bundle.train.tensors, bundle.train.labels[perm], bundle.train.snr, bundle.train.ids)
    shuffled.train = train
    assert fit_baseline(shuffled)["score"] > fit_baseline(bundle)["score"] + 0.15


def _toy(seed, n=400, d=12, shift=0.6):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 30.0, d) + rng.uniform(-50, 50, d)  # scales standardising fixes
    x[:, :4] += shift * y[:, None] * x[:, :4].std(0)
    return x, y


@pytest.mark.parametrize("c", [0.001, 0.1, 10.0])
def test_logistic_model_matches_scikit_learn(c):
    """The numpy fit solves scikit-learn's problem: StandardScaler + LogisticRegression(C), L2, free intercept."""
    from sklearn.linear_model import LogisticRegression  # the reference (dev extra), not a core dependency
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _toy(1)
    xt, _ = _toy(2)
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=c, tol=1e-12, max_iter=100_000)).fit(x, y)
    ours = LogisticModel(c).fit(x, y)
    p_ref, p = ref.predict_proba(xt)[:, 1], ours.predict_proba(xt)
    assert p.std() > 0.01  # predictions vary over inputs
    np.testing.assert_allclose(p, p_ref, atol=2e-6)
    np.testing.assert_allclose(ours.coef, ref[-1].coef_[0], rtol=1e-4, atol=1e-6)


def test_logistic_model_stays_finite_on_separable_data():
    x, y = _toy(3, shift=40.0)  # linearly separable: only the L2 term keeps the weights finite
    p = LogisticModel(10.0).fit(x, y).predict_proba(x)
    assert np.isfinite(p).all() and ((p > 0.5) == y).all()
