"""Training augmentation: deterministic per example, a no-op at zero strength, reflection-filled shifts, SpecAugment
bands, lip shifts; the trainer augments training batches only, never dev/test."""

import numpy as np
import pytest
import torch

from edgeprune.features.fbank import fbank
from edgeprune.features.stats import apply_stats, compute_stats
from edgeprune.train import TrainConfig, Trainer
from edgeprune.train.augment import AudioAugment, AugmentConfig, LipAugment, _shift, example_rng

L = 4000


def _waves(n=4, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(L) / 16000
    return np.stack([(np.sin(2 * np.pi * (300 + 200 * i) * t) * 8000 + rng.normal(0, 300, L)).astype(np.int16)
                     for i in range(n)])


def _augmenter(**kw):
    w = _waves(8, seed=1).astype(np.float32) / 32768
    stats = compute_stats(fbank(torch.from_numpy(w)))
    pool = np.random.default_rng(5).normal(size=(6, L)).astype(np.float32)
    return AudioAugment(AugmentConfig(**kw), pool, stats), stats


def test_same_example_same_draw_other_example_other_draw():
    aug, _ = _augmenter()
    w = _waves()
    a = aug(w, [example_rng(3, 1, i) for i in range(4)])
    b = aug(w, [example_rng(3, 1, i) for i in range(4)])
    assert torch.equal(a, b)
    c = aug(w, [example_rng(3, 2, i) for i in range(4)])  # next epoch: a new draw
    assert not torch.allclose(a, c)
    # an example's draw does not depend on its place in the batch
    d = aug(w[[2, 0]], [example_rng(3, 1, 2), example_rng(3, 1, 0)])
    assert torch.equal(d[0], a[2]) and torch.equal(d[1], a[0])


def test_zero_strength_is_exactly_the_evaluation_features():
    aug, stats = _augmenter(shift_s=0.0, noise_prob=0.0, gain_db=0.0, time_masks=0, freq_masks=0)
    w = _waves()
    got = aug(w, [example_rng(0, 0, i) for i in range(4)])
    want = apply_stats(fbank(torch.from_numpy(w.astype(np.float32) / 32768)), stats)
    assert torch.equal(got, want)


def test_noise_is_mixed_at_the_drawn_snr():
    aug, _ = _augmenter(shift_s=0.0, noise_prob=1.0, snr_db=(6.0, 6.0), gain_db=0.0, time_masks=0, freq_masks=0)
    clean = _waves(1)[0].astype(np.float32) / 32768
    mixed = aug.wave(clean, example_rng(0, 0, 0))
    noise = mixed - clean
    snr = 20 * np.log10(np.sqrt(np.mean(clean.astype(np.float64) ** 2)) / np.sqrt(np.mean(noise.astype(np.float64) ** 2)))
    assert snr == pytest.approx(6.0, abs=1e-3)


def test_shift_moves_the_signal_and_fills_by_reflection():
    x = np.arange(10, dtype=np.float32) + 1
    assert _shift(x, 3).tolist() == [4, 3, 2, 1, 2, 3, 4, 5, 6, 7]
    assert _shift(x, -3).tolist() == [4, 5, 6, 7, 8, 9, 10, 9, 8, 7]
    assert _shift(x, 0) is x
    assert not np.any(_shift(x, 5) == 0)  # no silent gap


def test_spec_masks_zero_bands_within_limits():
    aug, _ = _augmenter(time_masks=2, time_mask_frames=5, freq_masks=2, freq_mask_bins=3)
    feats = torch.randn(16, 30, 40) + 10.0  # no zeros before masking
    out = aug.masks(feats, [example_rng(1, 0, i) for i in range(16)])
    zero = out == 0
    assert zero.any()
    for b in range(16):
        rows = zero[b].all(dim=1).sum().item()  # masked frames (whole rows)
        cols = zero[b].all(dim=0).sum().item()  # masked mel bins (whole columns)
        assert rows <= 10 and cols <= 6
        kept = ~zero[b]
        assert torch.equal(out[b][kept], feats[b][kept])


def test_lip_shift_and_brightness_keep_shape_and_move_the_image():
    lips = torch.zeros(2, 3, 16, 16)
    lips[:, :, 6:10, 6:10] = 1.0
    out = LipAugment(AugmentConfig(lip_shift=3, lip_brightness=0.0))(lips, [example_rng(0, 0, i) for i in range(2)])
    assert out.shape == lips.shape
    for b in range(2):
        assert out[b].sum() == pytest.approx(lips[b].sum())  # moved, not cropped away
        assert torch.equal(out[b, 0], out[b, 2])  # the whole clip moves together
    bright = LipAugment(AugmentConfig(lip_shift=0, lip_brightness=0.2), pixel_std=0.5)(lips, [example_rng(0, 0, 7)])
    assert not torch.allclose(bright, lips[:1])


class _Split(torch.utils.data.Dataset):
    def __init__(self, waves, labels, stats, keep_waves):
        self.feats = apply_stats(fbank(torch.from_numpy(waves.astype(np.float32) / 32768)), stats)
        self.waves, self.labels, self.keep = waves, torch.as_tensor(labels, dtype=torch.float32), keep_waves

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        item = {"fbank": self.feats[i], "label": self.labels[i], "snr": 0.0, "id": str(i)}
        if self.keep:
            item["wave"], item["index"] = torch.from_numpy(self.waves[i]), i
        return item


class _Probe(torch.nn.Module):
    """Records the fbank batches it sees (train vs eval); output varies with the input."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(40, 1)
        self.seen = {"train": [], "eval": []}

    def forward(self, fbank):
        self.seen["train" if self.training else "eval"].append(fbank.detach().clone())
        return self.lin(fbank).mean(dim=(1, 2))


def _bundle(keep_waves=True):
    from types import SimpleNamespace

    w = _waves(8, seed=2)
    stats = compute_stats(fbank(torch.from_numpy(w.astype(np.float32) / 32768)))
    labels = np.arange(8) % 2
    pool = np.random.default_rng(0).normal(size=(4, L)).astype(np.float32)
    return SimpleNamespace(train=_Split(w, labels, stats, keep_waves), dev=_Split(w, labels, stats, False),
                           test=_Split(w, labels, stats, False), stats={"fbank": stats}, info={"preset": "default"},
                           noise_pool=pool, task="binary")


def _fit(augment):
    torch.manual_seed(0)
    model = _Probe()
    data = _bundle()
    tr = Trainer(model, data, ("fbank",), "binary",
                 TrainConfig(epochs=1, batch_size=8, progress=False, augment=augment, patience=0))
    tr.fit()
    return model, data


def test_trainer_augments_training_batches_only():
    model, data = _fit(augment=True)
    train_batch = model.seen["train"][0]
    assert train_batch.shape == data.train.feats.shape
    assert not torch.allclose(train_batch, data.train.feats)  # training saw augmented features
    assert model.seen["eval"], "dev was evaluated"
    assert all(torch.equal(b, data.dev.feats) for b in model.seen["eval"])  # dev exactly as stored
    model_off, data_off = _fit(augment=False)
    # batches come in a shuffled order: compare as sets of rows
    got = sorted(model_off.seen["train"][0].sum(dim=(1, 2)).tolist())
    want = sorted(data_off.train.feats.sum(dim=(1, 2)).tolist())
    assert got == pytest.approx(want)


def test_training_draws_random_windows_of_whole_recordings():
    """A source that kept whole recordings (folder data longer than the clip): each epoch trains on a random
    window per clip, drawn from (seed, epoch, index); dev keeps the stored centred window."""
    data = _bundle()
    rng = np.random.default_rng(9)
    full = [rng.normal(0, 3000, 3 * L).astype(np.int16) for _ in range(len(data.train))]
    drawn = []

    def crop(i, r):
        start = int(r.integers(0, 2 * L + 1))
        drawn.append((i, start))
        return full[i][start : start + L]

    data.train.crop = crop
    torch.manual_seed(0)
    model = _Probe()
    zero = dict(aug_shift_s=0.0, aug_noise_prob=0.0, aug_gain_db=0.0)
    Trainer(model, data, ("fbank",), "binary",
            TrainConfig(epochs=2, batch_size=8, progress=False, patience=0, **zero)).fit()
    stats = data.stats["fbank"]
    assert len(drawn) == 2 * len(data.train) and len({s for _, s in drawn}) > 4
    for epoch, batch in enumerate(model.seen["train"]):  # one batch of all 8 clips per epoch
        want = [apply_stats(fbank(torch.from_numpy(full[i][s : s + L].astype(np.float32) / 32768)), stats)
                for i, s in drawn[8 * epoch : 8 * epoch + 8]]
        got = sorted(batch, key=lambda t: float(t.sum()))
        want = sorted(want, key=lambda t: float(t.sum()))
        assert all(torch.allclose(g, w, atol=1e-5) for g, w in zip(got, want))
    assert drawn[:8] != drawn[8:]  # a new window each epoch
    assert all(torch.equal(b, data.dev.feats) for b in model.seen["eval"])
