"""Long synth recordings for streaming evaluation: minutes of TV sound, babble, music and noise with speech of
held-out speakers (wake words at known times, near-misses, other phrases), deterministic from a seed."""

from __future__ import annotations

import math

import numpy as np

from edgeprune.data.synth_corpus import MIC_FLOOR_DB, SPEAKERS, SPLIT_CODES, TEST_SNRS, phrase
from edgeprune.data.synth_noise import music, pink_noise, rms, talker_pool, tv_sound, babble
from edgeprune.data.synth_speech import SR, Speaker, synthesize
from edgeprune.data.wav import to_int16
from edgeprune.errors import EdgepruneError

# Seed stream of its own (the corpus's splits use 1-3), so the stream's speakers and talkers are new voices,
# disjoint from the training speakers, as MISP2021's test speakers are.
STREAM_CODE = 4
SEGMENT_S = 3.0  # background changes every segment (cross-faded)
FADE_S = 0.25
BACKGROUNDS = ("tv", "babble", "music", "pink")
OTHER_KINDS = ("once", "partial", "rhythm", "other")  # non-wake speech, near-misses included
UTTERANCE_S = 1.3  # each utterance is synthesised into a clip of this length, as the corpus's are
MIN_GAP_S = 2.0  # between utterance clips: longer than the default refractory period
LEVEL_DBFS = -26.0
POOL_TALKERS = 40


def _plan(rng, minutes: float, wake_per_minute: float, other_per_minute: float, snrs) -> list[dict]:
    duration = minutes * 60.0
    n_wake = int(round(minutes * wake_per_minute))
    n_other = int(round(minutes * other_per_minute))
    n = n_wake + n_other
    free = duration - 1.0 - 2.5 - n * (UTTERANCE_S + MIN_GAP_S)
    if free < 0:
        raise EdgepruneError(f"synth stream: {n} utterances do not fit {minutes:g} minutes "
                             f"(each takes {UTTERANCE_S + MIN_GAP_S:g} s); lower the rates or add minutes")
    kinds = ["wake"] * n_wake + [OTHER_KINDS[i % len(OTHER_KINDS)] for i in range(n_other)]
    kinds = [kinds[i] for i in rng.permutation(n)]
    # spare time spread at random over the n + 1 gaps
    spare = rng.dirichlet(np.ones(n + 1)) * free
    out, t, counts = [], 1.0 + spare[0], {"wake": 0, "other": 0}
    for j, kind in enumerate(kinds):
        group = "wake" if kind == "wake" else "other"
        snr = float(snrs[counts[group] % len(snrs)])  # each SNR equally often among wake words and among others
        counts[group] += 1
        out.append({"kind": kind, "clip_start": float(t), "snr": snr})
        t += UTTERANCE_S + MIN_GAP_S + spare[j + 1]
    return out


def _background(n_samples: int, seed: int, pool: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Unit-RMS segments of TV sound, babble, music or pink noise, cross-faded with constant-power ramps."""
    seg, fade = int(SEGMENT_S * SR), int(FADE_S * SR)
    n_seg = math.ceil(n_samples / seg)
    out = np.zeros(n_seg * seg + fade)
    ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade)
    kinds = []
    for k in range(n_seg):
        rng = np.random.default_rng([seed, STREAM_CODE, 2, k])
        kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
        if kind == "tv":
            x = tv_sound(pool, rng)
        elif kind == "babble":
            x = babble(pool, rng)
        elif kind == "music":
            x = music(seg + fade, rng)
        else:
            x = pink_noise(seg + fade, rng)
        x = np.resize(x, seg + fade)  # pool clips are one segment long: wrap the fade tail
        x = x / rms(x)
        x[:fade] *= ramp
        x[-fade:] *= ramp[::-1]
        out[k * seg : (k + 1) * seg + fade] += x
        kinds.append(kind)
    return out[:n_samples], kinds


def synth_stream(seed: int = 0, minutes: float = 10.0, wake_per_minute: float = 3.0,
                 other_per_minute: float = 6.0, snrs=TEST_SNRS) -> dict:
    """A long recording: int16 `wave` at `sample_rate`, `events` (n, 2) wake-word start/end in seconds,
    `event_snr`, every utterance (`utterances`: kind, start, end, snr, speaker, syllables) and `info`."""
    if not 0.5 <= float(minutes) <= 240:
        raise EdgepruneError(f"synth stream: minutes must be between 0.5 and 240, got {minutes}")
    if wake_per_minute < 0 or other_per_minute < 0:
        raise EdgepruneError("synth stream: utterance rates must be >= 0")
    if not snrs:
        raise EdgepruneError("synth stream: give at least one SNR")
    n_samples = int(round(minutes * 60.0 * SR))
    rng = np.random.default_rng([seed, STREAM_CODE, 0])
    speakers = [Speaker.random(rng) for _ in range(SPEAKERS["test"])]
    pool = talker_pool(POOL_TALKERS, rng, SEGMENT_S)
    plan = _plan(rng, minutes, wake_per_minute, other_per_minute, snrs)
    background, bg_kinds = _background(n_samples, seed, pool)
    mix = background.copy()
    level = rms(background)
    clip = int(round(UTTERANCE_S * SR))
    utterances = []
    for j, u in enumerate(plan):
        urng = np.random.default_rng([seed, STREAM_CODE, 1, j])
        who = int(urng.integers(len(speakers)))
        names = phrase("positive" if u["kind"] == "wake" else u["kind"], urng)
        if names is None:  # phrase() returns None only for the corpus's speechless "tv" kind, not used here
            raise AssertionError(u["kind"])
        wave, tracks = synthesize(names, speakers[who], urng, UTTERANCE_S)
        a = int(round(u["clip_start"] * SR))
        # SNR: the speech clip's RMS against the background's long-term RMS (the TV's volume); the few
        # samples under the clip may be a pause of a TV talker, which would make the speech inaudible
        mix[a : a + clip] += wave[:clip] / rms(wave[:clip]) * level * 10 ** (u["snr"] / 20)
        timing = tracks["timing"]
        start = u["clip_start"] + timing[0][1]
        end = u["clip_start"] + timing[-1][1] + timing[-1][2]
        utterances.append({"kind": u["kind"], "start": round(start, 4), "end": round(end, 4), "snr": u["snr"],
                           "speaker": who, "syllables": list(names)})
    frng = np.random.default_rng([seed, STREAM_CODE, 3])
    mix = mix + pink_noise(n_samples, frng) * rms(mix) * 10 ** (MIC_FLOOR_DB / 20)
    wave = to_int16(mix * 10 ** (LEVEL_DBFS / 20) / rms(mix))
    wake = [u for u in utterances if u["kind"] == "wake"]
    return {
        "wave": wave,
        "sample_rate": SR,
        "events": np.asarray([[u["start"], u["end"]] for u in wake], dtype=np.float64).reshape(-1, 2),
        "event_snr": np.asarray([u["snr"] for u in wake], dtype=np.float64),
        "utterances": utterances,
        "info": {"source": "synth-stream", "seed": int(seed), "minutes": float(minutes),
                 "wake_per_minute": float(wake_per_minute), "other_per_minute": float(other_per_minute),
                 "snrs": [float(s) for s in snrs], "speakers": len(speakers), "seed_stream": STREAM_CODE,
                 "corpus_split_streams": sorted(SPLIT_CODES.values()), "backgrounds": bg_kinds,
                 "utterance_kinds": {k: sum(u["kind"] == k for u in utterances) for k in ("wake", *OTHER_KINDS)}},
    }
