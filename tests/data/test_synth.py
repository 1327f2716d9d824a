"""The synth corpus: shapes per the contract, exact test SNRs, determinism, caching, lips on demand."""

import math

import numpy as np
import pytest
import torch

import edgeprune.data.synth as synth
from edgeprune.data import open_data
from edgeprune.data.synth_noise import measured_snr, mix_at_snr, pink_noise
from edgeprune.errors import EdgepruneError

SIZES = dict(train=20, dev=8, test=6)


@pytest.fixture(scope="module")
def av_bundle(tmp_path_factory):
    return open_data("synth", inputs=("fbank", "lips"), cache_dir=tmp_path_factory.mktemp("cache"), **SIZES)


def test_items_follow_the_contract(av_bundle):
    item = av_bundle.train[0]
    assert item["fbank"].shape == (128, 40) and item["fbank"].dtype == torch.float32
    assert item["lips"].shape == (32, 88, 88) and item["lips"].dtype == torch.float32
    assert item["label"].dtype == torch.float32 and item["label"].shape == ()
    assert isinstance(item["snr"], float) and isinstance(item["id"], str)
    assert (len(av_bundle.train), len(av_bundle.dev), len(av_bundle.test)) == (20, 8, 18)
    assert av_bundle.task == "binary" and av_bundle.bad == []
    batch = next(iter(torch.utils.data.DataLoader(av_bundle.test, batch_size=6)))
    assert batch["fbank"].shape == (6, 128, 40) and batch["lips"].shape == (6, 32, 88, 88)


def test_both_classes_and_confusable_negatives(av_bundle):
    assert av_bundle.train.label_counts() == {0: 12, 1: 8}
    kinds = av_bundle.info["kinds"]["train"]
    assert kinds["positive"] == 8 and sum(kinds.values()) == 20 and len(kinds) >= 4


def test_test_split_has_exact_snrs_and_train_has_clean_and_noisy(av_bundle):
    assert av_bundle.test.snr_values() == [-5.0, 0.0, 5.0]
    assert [av_bundle.test[i]["snr"] for i in range(3)] == [-5.0, 0.0, 5.0]
    train_snr = av_bundle.train.snr
    finite = [s for s in train_snr if math.isfinite(s)]
    assert all(-5.0 <= s <= 10.0 for s in finite) and len(finite) < len(train_snr)


def test_stats_come_from_train_and_normalise_it(av_bundle):
    fb = av_bundle.train.tensors["fbank"]
    assert torch.allclose(fb.mean(dim=(0, 1)), torch.zeros(40), atol=1e-4)
    assert torch.allclose(fb.std(dim=(0, 1), unbiased=False), torch.ones(40), atol=1e-3)
    assert len(av_bundle.stats["fbank"]["mean"]) == 40 and len(av_bundle.stats["lips"]["std"]) == 1
    dev = av_bundle.dev.tensors["fbank"]
    assert not torch.allclose(dev.mean(dim=(0, 1)), torch.zeros(40), atol=1e-4)


def test_same_seed_same_corpus_other_seed_other(tmp_path):
    a = open_data("synth", cache_dir=tmp_path / "a", train=6, dev=2, test=2)
    b = open_data("synth", cache_dir=tmp_path / "b", train=6, dev=2, test=2)
    c = open_data("synth", cache_dir=tmp_path / "c", seed=1, train=6, dev=2, test=2)
    assert torch.equal(a.train.tensors["fbank"], b.train.tensors["fbank"])
    assert a.train.ids == b.train.ids and a.train.snr == b.train.snr
    assert not torch.allclose(a.train.tensors["fbank"], c.train.tensors["fbank"])


def test_cache_is_reused_and_keyed_by_arguments(tmp_path, monkeypatch):
    open_data("synth", cache_dir=tmp_path, train=4, dev=2, test=1)
    folders = list((tmp_path / "synth").iterdir())
    assert len(folders) == 1 and sorted(p.name for p in folders[0].iterdir()) == [
        "args.json", "dev.npz", "test.npz", "train.npz"]  # no lips rendered for an audio-only request

    def boom(*args, **kwargs):
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(synth, "generate_split", boom)
    again = open_data("synth", cache_dir=tmp_path, train=4, dev=2, test=1)
    assert len(again.train) == 4 and "lips" not in again.train[0]
    with pytest.raises(AssertionError, match="regenerated"):
        open_data("synth", cache_dir=tmp_path, train=5, dev=2, test=1)


def test_lips_open_when_requested_and_follow_speech(tmp_path):
    bundle = open_data("synth", inputs=("lips",), lip_size=96, cache_dir=tmp_path, train=12, dev=2, test=1)
    item = bundle.train[0]
    assert set(item) == {"lips", "label", "snr", "id"} and item["lips"].shape == (32, 96, 96)
    args = synth.corpus_args(train=12, dev=2, test=1)
    mouth = np.load(synth.corpus_dir(args, tmp_path) / "train.npz")["mouth"]
    labels = bundle.train.labels.numpy()
    assert mouth[labels == 1, :, 0].max(axis=1).min() > 0.3  # every wake-word speaker opens the mouth


def test_mixing_hits_the_snr_exactly():
    rng = np.random.default_rng(0)
    clean = np.sin(np.arange(16000) / 5.0)
    for snr in (-5.0, 0.0, 5.0):
        assert measured_snr(clean, mix_at_snr(clean, pink_noise(16000, rng), snr)) == pytest.approx(snr, abs=1e-9)


def test_bad_arguments_raise():
    with pytest.raises(EdgepruneError, match="train size"):
        open_data("synth", train=0)
    with pytest.raises(EdgepruneError, match="unknown argument"):
        open_data("synth", validation=3)
    with pytest.raises(EdgepruneError, match="unknown data source"):
        open_data("youtube:x")
    with pytest.raises(EdgepruneError, match="lip_size"):
        open_data("synth", inputs=("lips",), lip_size=64)
