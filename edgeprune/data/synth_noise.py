"""Background sounds for the synth corpus (pink noise, music-like tones, babble of synthetic talkers, TV
sound) and mixing at an exact SNR."""

from __future__ import annotations

import numpy as np

from edgeprune.data.synth_speech import OTHER, SR, Speaker, synthesize

NOISE_KINDS = ("babble", "music", "pink")


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)) + 1e-20))


def pink_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """1/f power spectrum noise, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(length))
    f = np.fft.rfftfreq(length, 1.0 / SR)
    spec /= np.sqrt(np.maximum(f, 20.0))
    x = np.fft.irfft(spec, n=length)
    return x / rms(x)


def music(length: int, rng: np.random.Generator) -> np.ndarray:
    """A melody of harmonic notes with decaying envelopes over a sustained two-note chord, unit RMS."""
    t = np.arange(length) / SR
    n_notes = int(rng.integers(3, 9))
    bounds = np.sort(rng.uniform(0, length, n_notes - 1)).astype(int)
    starts = np.concatenate([[0], bounds])
    semis = rng.integers(-12, 13, n_notes)
    root = rng.uniform(180, 420)
    note_idx = np.searchsorted(starts, np.arange(length), side="right") - 1
    freq = root * 2.0 ** (semis[note_idx] / 12.0)
    phase = 2 * np.pi * np.cumsum(freq) / SR
    since = (np.arange(length) - starts[note_idx]) / SR
    env = np.exp(-since * rng.uniform(2, 8)) * (1 - np.exp(-since * 200))
    timbre = rng.uniform(0.2, 0.8)
    melody = sum(timbre ** (k - 1) * np.sin(k * phase) for k in range(1, 6)) * env
    chord = sum(np.sin(2 * np.pi * root / 2 * r * t + rng.uniform(0, 2 * np.pi)) for r in (1.0, 1.5, 1.26))
    x = melody + rng.uniform(0.2, 0.6) * chord
    if rng.random() < 0.5:  # a drum: decaying noise bursts on a beat
        beat = int(SR * rng.uniform(0.25, 0.5))
        since_beat = (np.arange(length) % beat) / SR
        x += rng.uniform(0.3, 1.0) * rng.standard_normal(length) * np.exp(-since_beat * 40)
    return x / rms(x)


def talker_pool(n: int, rng: np.random.Generator, clip_s: float) -> np.ndarray:
    """(n, L) utterances of other talkers (random non-wake syllables filling the clip), unit RMS each."""
    out = []
    for _ in range(n):
        speaker = Speaker.random(rng)
        names = [OTHER[i] for i in rng.integers(0, len(OTHER), int(rng.integers(4, 7)))]
        wave, _ = synthesize(names, speaker, rng, clip_s)
        out.append(wave / rms(wave))
    return np.stack(out)


def babble(pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """3 to 6 talkers from the pool, each circularly shifted, with random levels; unit RMS."""
    picks = rng.choice(len(pool), size=int(rng.integers(3, 7)), replace=False)
    x = sum(np.roll(pool[p], int(rng.integers(0, pool.shape[1]))) * rng.uniform(0.5, 1.0) for p in picks)
    return x / rms(x)


def tv_sound(pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a TV plays: one talker, music, or both; unit RMS."""
    choice = rng.random()
    speech = np.roll(pool[int(rng.integers(len(pool)))], int(rng.integers(0, pool.shape[1])))
    tune = music(pool.shape[1], rng)
    if choice < 0.4:
        x = speech
    elif choice < 0.6:
        x = tune
    else:
        x = speech + rng.uniform(0.2, 0.8) * tune
    return x / rms(x)


def noise(kind: str, length: int, pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if kind == "babble":
        return babble(pool, rng)
    if kind == "music":
        return music(length, rng)
    if kind == "pink":
        return pink_noise(length, rng)
    raise ValueError(f"unknown noise kind {kind!r}")


def mix_at_snr(clean: np.ndarray, background: np.ndarray, snr_db: float) -> np.ndarray:
    """clean + background scaled so that 10 log10(P_clean / P_background) == snr_db exactly."""
    gain = rms(clean) / (rms(background) * 10.0 ** (snr_db / 20.0))
    return clean + gain * background


def measured_snr(clean: np.ndarray, mixture: np.ndarray) -> float:
    """The SNR a mixture has with respect to its clean part, in dB."""
    return 20.0 * np.log10(rms(clean) / rms(mixture - clean))
