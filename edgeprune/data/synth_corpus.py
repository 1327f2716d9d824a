"""The synth wake-word corpus plan: which phrase, speaker, background and SNR each clip gets, generated
deterministically from a seed (each clip from its own seeded stream)."""

from __future__ import annotations

import numpy as np

from edgeprune.data.progress import progress
from edgeprune.data.synth_lips import mouth_tracks, render_mouth
from edgeprune.data.synth_noise import NOISE_KINDS, mix_at_snr, noise, pink_noise, rms, talker_pool, tv_sound
from edgeprune.data.synth_speech import CONFUSABLE_A, CONFUSABLE_B, OTHER, SR, WAKE, Speaker, synthesize
from edgeprune.data.wav import to_int16
from edgeprune.features.lips import lip_frames_for

SPLIT_CODES = {"train": 1, "dev": 2, "test": 3}
SPEAKERS = {"train": 40, "dev": 12, "test": 20}  # disjoint speakers per split, as in MISP2021 (at least)
TRAIN_CLIPS_PER_SPEAKER = 20  # a larger training corpus brings new speakers, not more clips of the same ones
POOL_TALKERS = 40  # other talkers for babble and TV speech, drawn per split
POSITIVE_FRACTION = 0.4
NEGATIVE_KINDS = ("once", "partial", "rhythm", "other", "tv")
NEGATIVE_WEIGHTS = (0.2, 0.2, 0.25, 0.15, 0.2)
CLEAN_FRACTION = 0.2  # train and dev: this share is left clean, the rest gets SNR ~ U[-5, 10] dB
SNR_RANGE = (-5.0, 10.0)
TEST_SNRS = (-5.0, 0.0, 5.0)
MIC_FLOOR_DB = -55.0  # microphone self-noise relative to the clean signal, also in "clean" clips


def phrase(kind: str, rng: np.random.Generator) -> tuple | None:
    """The syllables a clip's speaker says (None: the speaker is silent, only the TV plays)."""
    def pick(options):
        return options[int(rng.integers(len(options)))]
    if kind == "positive":
        return WAKE
    if kind == "once":
        extra = [pick(OTHER) for _ in range(int(rng.integers(0, 3)))]
        return tuple(extra + ["xiao", "T"]) if rng.random() < 0.5 else tuple(["xiao", "T"] + extra)
    if kind == "partial":
        while True:
            names = list(WAKE)
            if rng.random() < 0.5:
                names[int(rng.integers(4))] = pick(CONFUSABLE_A + CONFUSABLE_B + OTHER)
            else:
                del names[int(rng.integers(4))]
            if tuple(names) != WAKE:
                return tuple(names)
    if kind == "rhythm":
        a, b = pick(CONFUSABLE_A), pick(CONFUSABLE_B)
        return (a, b, a, b)
    if kind == "other":
        return tuple(pick(OTHER) for _ in range(int(rng.integers(2, 6))))
    if kind == "tv":
        return None
    raise ValueError(kind)


def _plan_labels(split: str, n: int, seed: int) -> tuple[np.ndarray, list]:
    rng = np.random.default_rng([seed, SPLIT_CODES[split], 7_000_001])
    labels = np.zeros(n, dtype=np.int64)
    labels[rng.permutation(n)[: int(round(POSITIVE_FRACTION * n))]] = 1
    kinds = ["positive" if y else NEGATIVE_KINDS[int(rng.choice(len(NEGATIVE_KINDS), p=NEGATIVE_WEIGHTS))] for y in labels]
    return labels, kinds


def n_speakers(split: str, n: int) -> int:
    """Speakers of a split: the fixed dev/test panels; for train one per 20 clips (at least 40), so that a
    model sees hundreds of voices and cannot learn the wake word as a few speakers' recordings."""
    if split == "train":
        return max(SPEAKERS["train"], n // TRAIN_CLIPS_PER_SPEAKER)
    return SPEAKERS[split]


def _scene(split: str, seed: int, clip_s: float, n: int):
    rng = np.random.default_rng([seed, SPLIT_CODES[split], 7_000_002])
    speakers = [Speaker.random(rng) for _ in range(n_speakers(split, n))]
    return speakers, talker_pool(POOL_TALKERS, rng, clip_s)


def _clean_clip(kind, speakers, pool, rng, clip_s, n_video):
    """(clean waveform, mouth tracks, speaker index) for one clip."""
    length = int(round(clip_s * SR))
    who = int(rng.integers(len(speakers)))
    names = phrase(kind, rng)
    if names is None:
        clean = tv_sound(pool, rng)
        mouth = mouth_tracks(clean, None, n_video, rng)
    else:
        clean, tracks = synthesize(names, speakers[who], rng, clip_s)
        mouth = mouth_tracks(clean, tracks, n_video, rng)
    clean = clean[:length] / rms(clean[:length])
    clean = clean + pink_noise(length, rng) * 10 ** (MIC_FLOOR_DB / 20)
    return clean, mouth, who


def _finish(mix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random recording level (-32..-16 dBFS RMS), clipped to 16-bit."""
    return to_int16(mix * 10 ** (rng.uniform(-32, -16) / 20) / rms(mix))


def generate_split(split: str, n: int, seed: int, clip_s: float = 1.3) -> dict:
    """Audio and mouth tracks of one split. train/dev: n clips; test: n clean clips x TEST_SNRS."""
    length, n_video = int(round(clip_s * SR)), lip_frames_for(clip_s)
    labels, kinds = _plan_labels(split, n, seed)
    speakers, pool = _scene(split, seed, clip_s, n)
    snrs_per_clip = TEST_SNRS if split == "test" else (None,)
    out = {k: [] for k in ("waves", "labels", "snr", "ids", "kinds", "noise", "speaker", "lip_index")}
    mouths = []
    for i in progress(range(n), desc=f"synth {split}", total=n):
        rng = np.random.default_rng([seed, SPLIT_CODES[split], i])
        clean, mouth, who = _clean_clip(kinds[i], speakers, pool, rng, clip_s, n_video)
        mouths.append(mouth)
        for k, fixed in enumerate(snrs_per_clip):
            nrng = np.random.default_rng([seed, SPLIT_CODES[split], i, 100 + k])
            if fixed is None and nrng.random() < CLEAN_FRACTION:
                snr, kind, mix = float("inf"), "clean", clean
            else:
                snr = float(fixed) if fixed is not None else float(nrng.uniform(*SNR_RANGE))
                kind = NOISE_KINDS[int(nrng.integers(len(NOISE_KINDS)))]
                mix = mix_at_snr(clean, noise(kind, length, pool, nrng), snr)
            out["waves"].append(_finish(mix, nrng))
            out["labels"].append(labels[i])
            out["snr"].append(snr)
            tag = "" if fixed is None else f"_snr{int(fixed):+d}"
            out["ids"].append(f"{split}_{i:05d}{tag}")
            out["kinds"].append(kinds[i])
            out["noise"].append(kind)
            out["speaker"].append(who)
            out["lip_index"].append(i)
    return {
        "waves": np.stack(out["waves"]) if out["waves"] else np.zeros((0, length), np.int16),
        "labels": np.asarray(out["labels"], dtype=np.int64),
        "snr": np.asarray(out["snr"], dtype=np.float64),
        "ids": np.asarray(out["ids"], dtype=str),
        "kinds": np.asarray(out["kinds"], dtype=str),
        "noise": np.asarray(out["noise"], dtype=str),
        "speaker": np.asarray(out["speaker"], dtype=np.int64),
        "lip_index": np.asarray(out["lip_index"], dtype=np.int64),
        "mouth": np.stack(mouths) if mouths else np.zeros((0, n_video, 2), np.float32),
    }


def render_split_lips(split: str, mouth: np.ndarray, seed: int, size: int) -> np.ndarray:
    """uint8 (M, Tv, size, size) mouth crops, one seeded person/scene per clean clip."""
    frames = np.zeros((len(mouth), mouth.shape[1], size, size), dtype=np.uint8)
    for i in progress(range(len(mouth)), desc=f"lips {split}", total=len(mouth)):
        frames[i] = render_mouth(mouth[i], size, np.random.default_rng([seed, SPLIT_CODES[split], i, 9_000]))
    return frames
