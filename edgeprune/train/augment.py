"""On-the-fly training augmentation: audio (time shift, noise at a random SNR, gain, SpecAugment masks on FBank)
and lips (small shifts, brightness/contrast), drawn per example from a seed so runs repeat exactly.

Augmentation works on the raw waveform, then computes the same FBank and normalisation as evaluation does, so a
clip seen in training differs from a dev/test clip only by what the augmentation did. Dev and test are never
augmented (the trainer applies this to training batches only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from edgeprune.errors import EdgepruneError
from edgeprune.features.fbank import fbank
from edgeprune.features.stats import apply_stats


@dataclass(frozen=True)
class AugmentConfig:
    """The knobs of one augmenter (the TrainConfig fields `aug_*` fill it)."""

    shift_s: float = 0.05
    noise_prob: float = 0.6
    snr_db: tuple = (0.0, 20.0)
    gain_db: float = 3.0
    time_masks: int = 0
    time_mask_frames: int = 5
    freq_masks: int = 0
    freq_mask_bins: int = 4
    lip_shift: int = 4
    lip_brightness: float = 0.15


def example_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one example's augmentation: a function of (seed, epoch, dataset index) only, so the
    same example gets the same draw whatever the batch or the number of distributed ranks."""
    return np.random.default_rng([int(seed) % (2**31), int(epoch), int(index), 0xA06])


def _shift(wave: np.ndarray, samples: int) -> np.ndarray:
    """Shift a clip by `samples` (positive: later), filling the vacated edge by reflection (no silent gap
    that a model could learn to spot)."""
    if samples == 0:
        return wave
    n = len(wave)
    s = min(abs(samples), n - 1)
    if samples > 0:
        return np.concatenate([wave[1 : s + 1][::-1], wave[: n - s]])
    return np.concatenate([wave[s:], wave[n - s - 1 : n - 1][::-1]])


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


class AudioAugment:
    """float waves (B, L) in [-1, 1] + per-example generators -> augmented, normalised FBank (B, T, D)."""

    def __init__(self, cfg: AugmentConfig, noise_pool: np.ndarray, stats: dict, preset: str = "default",
                 sample_rate: int = 16000):
        pool = np.asarray(noise_pool, dtype=np.float32)
        if pool.ndim != 2 or len(pool) == 0:
            raise EdgepruneError("audio augmentation needs a non-empty (N, L) noise pool")
        self.cfg, self.pool, self.stats, self.preset = cfg, pool, stats, preset
        self.max_shift = int(round(cfg.shift_s * sample_rate))

    def wave(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One augmented waveform: shift, then noise at a random SNR (relative to the clip), then gain."""
        c = self.cfg
        x = np.asarray(wave, dtype=np.float32)
        if self.max_shift:
            x = _shift(x, int(rng.integers(-self.max_shift, self.max_shift + 1)))
        if rng.random() < c.noise_prob:
            noise = self.pool[int(rng.integers(len(self.pool)))]
            noise = np.roll(noise, int(rng.integers(len(noise))))
            if len(noise) < len(x):
                noise = np.resize(noise, len(x))
            noise = noise[: len(x)]
            snr = float(rng.uniform(*c.snr_db))
            x = x + noise * (_rms(x) / (_rms(noise) * 10.0 ** (snr / 20.0)))
        if c.gain_db:
            x = x * np.float32(10.0 ** (float(rng.uniform(-c.gain_db, c.gain_db)) / 20.0))
        return x

    def masks(self, feats: torch.Tensor, rngs) -> torch.Tensor:
        """SpecAugment: time and frequency bands set to 0 (the normalised mean), drawn per example."""
        c = self.cfg
        out = feats.clone()
        frames, dims = out.shape[1], out.shape[2]
        for b, rng in enumerate(rngs):
            for _ in range(c.time_masks):
                w = int(rng.integers(0, c.time_mask_frames + 1))
                if 0 < w < frames:
                    t0 = int(rng.integers(0, frames - w + 1))
                    out[b, t0 : t0 + w, :] = 0.0
            for _ in range(c.freq_masks):
                w = int(rng.integers(0, c.freq_mask_bins + 1))
                if 0 < w < dims:
                    f0 = int(rng.integers(0, dims - w + 1))
                    out[b, :, f0 : f0 + w] = 0.0
        return out

    def __call__(self, waves, rngs) -> torch.Tensor:
        waves = np.asarray(waves)
        scale = 1.0 / 32768.0 if waves.dtype == np.int16 else 1.0
        mixed = np.stack([self.wave(w.astype(np.float32) * scale, rng) for w, rng in zip(waves, rngs)])
        feats = apply_stats(fbank(torch.from_numpy(mixed), self.preset), self.stats)
        return self.masks(feats, rngs)


class LipAugment:
    """Normalised lips (B, Tv, S, S) -> the same clip shifted by a few pixels (edge replicated) with a random
    brightness offset and contrast, one draw per example (the whole clip moves together)."""

    def __init__(self, cfg: AugmentConfig, pixel_std: float = 1.0):
        self.cfg = cfg
        self.pixel_std = float(pixel_std)  # lips are normalised by this std: brightness is in [0, 1] pixel units

    def __call__(self, lips: torch.Tensor, rngs) -> torch.Tensor:
        c = self.cfg
        out = lips.clone()
        for b, rng in enumerate(rngs):
            x = out[b]
            if c.lip_shift:
                dy, dx = (int(v) for v in rng.integers(-c.lip_shift, c.lip_shift + 1, size=2))
                x = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
                if dy > 0:
                    x[..., :dy, :] = x[..., dy : dy + 1, :]
                elif dy < 0:
                    x[..., dy:, :] = x[..., dy - 1 : dy, :]
                if dx > 0:
                    x[..., :, :dx] = x[..., :, dx : dx + 1]
                elif dx < 0:
                    x[..., :, dx:] = x[..., :, dx - 1 : dx]
            if c.lip_brightness:
                contrast = float(rng.uniform(1 - c.lip_brightness, 1 + c.lip_brightness))
                offset = float(rng.uniform(-c.lip_brightness, c.lip_brightness)) / self.pixel_std
                x = x * contrast + offset
            out[b] = x
        return out
