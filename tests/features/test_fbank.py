"""FBank against an independent numpy computation: shapes, frame counts, values, tones in their mel band."""

import numpy as np
import pytest
import torch

from edgeprune.errors import EdgepruneError
from edgeprune.features import PRESETS, fbank, mel_filterbank, num_frames

SR = 16000


def numpy_fbank(x, win, hop, n_fft=512, n_mels=40, preemph=0.97):
    """Reference: loop framing, numpy Hamming, rfft power, HTK mel triangles built point by point."""
    x = np.asarray(x, dtype=np.float64)
    y = np.empty_like(x)
    y[0] = x[0]
    y[1:] = x[1:] - preemph * x[:-1]
    n = 1 + (len(y) - win) // hop
    frames = np.stack([y[i * hop : i * hop + win] * np.hamming(win) for i in range(n)])
    power = np.abs(np.fft.rfft(frames, n=n_fft)) ** 2
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = hz(np.linspace(mel(0), mel(8000), n_mels + 2))
    bins = np.arange(n_fft // 2 + 1) * SR / n_fft
    weights = np.zeros((len(bins), n_mels))
    for m in range(n_mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        for k, f in enumerate(bins):
            if lo < f <= c:
                weights[k, m] = (f - lo) / (c - lo)
            elif c < f < hi:
                weights[k, m] = (hi - f) / (hi - c)
    return np.log(np.maximum(power @ weights, 1e-10)), edges[1:-1]


def tone(freq, seconds=1.3, amp=0.5):
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_frame_counts_match_the_contract():
    clip = torch.zeros(20800)
    assert fbank(clip).shape == (128, 40)
    assert fbank(clip, "misp2021").shape == (127, 40)
    assert num_frames(20800) == 128 and num_frames(20800, "misp2021") == 127
    assert num_frames(399) == 0 and num_frames(400) == 1 and num_frames(560) == 2
    assert fbank(torch.zeros(3, 16000)).shape == (3, 98, 40)


@pytest.mark.parametrize("preset", ["default", "misp2021"])
def test_values_match_independent_numpy(preset):
    cfg = PRESETS[preset]
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(20800) + tone(440) + tone(2500, amp=0.2)).astype(np.float32)
    ours = fbank(torch.from_numpy(x), preset).numpy()
    ref, _ = numpy_fbank(x, cfg.win_length, cfg.hop_length)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=2e-3, rtol=1e-4)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 3000.0, 6000.0])
def test_tone_energy_lands_in_its_mel_band(freq):
    feats = fbank(torch.from_numpy(tone(freq))).numpy()
    _, centres = numpy_fbank(tone(freq)[:800], 400, 160)
    expected = int(np.argmin(np.abs(centres - freq)))
    assert np.all(np.abs(np.argmax(feats, axis=1) - expected) <= 1)
    assert feats[:, expected].mean() - np.median(feats.mean(0)) > 5.0


def test_filterbank_covers_the_band_with_triangles():
    fb = mel_filterbank().numpy()
    assert fb.shape == (257, 40)
    assert fb.max() <= 1.0 and np.all(fb.sum(0) > 0)
    assert np.all(np.diff(np.argmax(fb, axis=0)) >= 0)


def test_bad_inputs_raise():
    with pytest.raises(EdgepruneError, match="shorter than one FBank window"):
        fbank(torch.zeros(100))
    with pytest.raises(EdgepruneError, match="unknown FBank preset"):
        fbank(torch.zeros(20800), "kaldi")
    with pytest.raises(EdgepruneError, match="shape"):
        fbank(torch.zeros(1, 2, 20800))
