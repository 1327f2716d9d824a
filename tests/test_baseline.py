"""The logistic-regression baseline: pooled features, clearly better than chance on synth, deterministic."""

import numpy as np
import pytest
import torch

from edgeprune.baseline import SEGMENTS, fit_baseline, pooled_features
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
