"""A small source-filter speech synthesiser for the synth corpus: syllables with pitch contours, formants,
bursts and frication, spoken by randomised speakers (f0, formant scale, rate, breathiness).

Source: a Rosenberg glottal pulse train (per-sample f0) plus noise; filter: per-frame formant and
frication spectra applied in the STFT domain (vectorised), overlap-added back to a waveform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 16000
_N, _H = 512, 128  # STFT size and hop used for filtering
_WIN = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N) / _N)).astype(np.float64)
_FREQS = np.fft.rfftfreq(_N, 1.0 / SR)
_BW = np.array([80.0, 100.0, 140.0, 250.0, 300.0])

# Vowel formants (F1, F2, F3) of an adult male and lip rounding (0 spread .. 1 rounded).
VOWELS = {
    "i": ((280, 2250, 2950), 0.0), "a": ((780, 1250, 2500), 0.0), "o": ((520, 880, 2450), 1.0),
    "u": ((330, 750, 2300), 1.0), "e": ((520, 1850, 2550), 0.0), "y": ((300, 1850, 2350), 1.0),
    "r": ((400, 1600, 2600), 0.2), "I": ((420, 2000, 2700), 0.0),
}
# Tone contours: f0 multipliers at the start, middle and end of the voiced part.
TONES = {1: (1.15, 1.15, 1.12), 2: (0.95, 1.0, 1.22), 3: (1.0, 0.8, 0.95), 4: (1.28, 1.1, 0.8), 5: (1.05, 1.1, 1.02)}


@dataclass(frozen=True)
class Syllable:
    """onset: None | ("fric", centre_hz, bw_hz) | ("affric", centre_hz, aspirated) |
    ("stop", burst_hz, aspirated) | ("nasal",) | ("h",) | ("liquid",)."""

    name: str
    onset: tuple | None
    vowels: tuple
    tone: int
    dur: float  # seconds at the neutral rate


INVENTORY = {s.name: s for s in (
    Syllable("xiao", ("fric", 3900, 1400), ("i", "a", "o"), 3, 0.30),
    Syllable("T", ("stop", 4500, True), ("i",), 5, 0.24),
    Syllable("jiao", ("affric", 3400, False), ("i", "a", "o"), 1, 0.28),
    Syllable("qiao", ("affric", 3600, True), ("i", "a", "o"), 2, 0.30),
    Syllable("shao", ("fric", 2600, 1100), ("a", "o"), 3, 0.28),
    Syllable("xiu", ("fric", 3900, 1400), ("i", "o", "u"), 1, 0.27),
    Syllable("xie", ("fric", 3900, 1400), ("i", "e"), 4, 0.26),
    Syllable("di", ("stop", 4000, False), ("i",), 1, 0.20),
    Syllable("qi", ("affric", 3600, True), ("i",), 2, 0.24),
    Syllable("ni", ("nasal",), ("i",), 3, 0.22),
    Syllable("hao", ("h",), ("a", "o"), 3, 0.27),
    Syllable("kai", ("stop", 1800, True), ("a", "I"), 1, 0.26),
    Syllable("da", ("stop", 3800, False), ("a",), 4, 0.20),
    Syllable("ma", ("nasal",), ("a",), 1, 0.22),
    Syllable("shi", ("fric", 2600, 1100), ("r",), 4, 0.22),
    Syllable("dian", ("stop", 4000, False), ("i", "e"), 4, 0.25),
    Syllable("bo", ("stop", 900, False), ("o",), 1, 0.21),
    Syllable("yi", None, ("i",), 1, 0.20),
    Syllable("lu", ("liquid",), ("u",), 4, 0.22),
    Syllable("guan", ("stop", 1500, False), ("u", "a"), 1, 0.27),
    Syllable("tai", ("stop", 4500, True), ("a", "I"), 2, 0.26),
    Syllable("wo", None, ("u", "o"), 3, 0.24),
)}
WAKE = ("xiao", "T", "xiao", "T")
CONFUSABLE_A = ("jiao", "qiao", "shao", "xiu", "xie", "hao")
CONFUSABLE_B = ("di", "qi", "ni", "yi", "tai", "shi")
OTHER = tuple(n for n in INVENTORY if n not in ("xiao", "T"))


@dataclass(frozen=True)
class Speaker:
    f0: float  # Hz
    formant_scale: float
    dur_scale: float  # > 1 speaks slower
    tone_range: float
    breath: float
    open_quotient: float
    level: float  # vocal effort (relative)

    @staticmethod
    def random(rng: np.random.Generator) -> "Speaker":
        female = rng.random() < 0.5
        return Speaker(
            f0=float(rng.uniform(165, 255) if female else rng.uniform(85, 145)),
            formant_scale=float(rng.uniform(1.08, 1.22) if female else rng.uniform(0.92, 1.05)),
            dur_scale=float(rng.uniform(0.8, 1.25)),
            tone_range=float(rng.uniform(0.7, 1.3)),
            breath=float(rng.uniform(0.02, 0.15)),
            open_quotient=float(rng.uniform(0.5, 0.72)),
            level=float(rng.uniform(0.7, 1.3)),
        )


class _Track:
    """Piecewise-linear track built from breakpoints in time order, evaluated with np.interp."""

    def __init__(self, start_value: float = 0.0):
        self.t, self.v = [0.0], [start_value]

    def to(self, t: float, value: float) -> None:
        t = max(t, self.t[-1] + 1e-6)
        self.t.append(t)
        self.v.append(value)

    def hold(self, t: float) -> None:
        self.to(t, self.v[-1])

    def __call__(self, times: np.ndarray) -> np.ndarray:
        return np.interp(times, self.t, self.v)


def plan_timing(names, speaker: Speaker, rng: np.random.Generator, clip_s: float) -> list[tuple[str, float, float]]:
    """(name, start, duration) per syllable: speaker rate, jitter, gaps (a longer one between word pairs)
    and a random onset, compressed to fit the clip."""
    durs = np.array([INVENTORY[n].dur for n in names]) * speaker.dur_scale * rng.uniform(0.9, 1.1, len(names))
    gaps = rng.uniform(0.01, 0.05, len(names)) * speaker.dur_scale
    gaps[1::2] += rng.uniform(0.0, 0.06, len(gaps[1::2]))
    gaps[-1] = 0.0
    total = float(durs.sum() + gaps.sum())
    room = clip_s - 0.08
    if total > room:
        durs, gaps = durs * room / total, gaps * room / total
        total = room
    t = float(rng.uniform(0.03, clip_s - total - 0.03)) if clip_s - total > 0.06 else 0.03
    out = []
    for name, d, g in zip(names, durs, gaps):
        out.append((name, t, float(d)))
        t += float(d + g)
    return out


def _formant_env(formants: np.ndarray, scale: float) -> np.ndarray:
    """(F, 3) moving formants + fixed F4/F5 (speaker scaled) -> (F, bins) magnitude of a resonator cascade."""
    f2 = np.square(_FREQS)
    fixed = np.ones_like(f2)
    for fk, bw in ((3500.0 * scale, _BW[3]), (4500.0 * scale, _BW[4])):
        fixed = fixed * fk**2 / np.sqrt((fk**2 - f2) ** 2 + (bw**2) * f2)
    fk2 = np.square(formants)[:, None, :]
    denom = np.square(fk2 - f2[None, :, None]) + (_BW[None, None, :3] ** 2) * f2[None, :, None]
    return fk2.prod(axis=-1) / np.sqrt(denom.prod(axis=-1)) * fixed


def _glottal(f0: np.ndarray, oq: float, rng: np.random.Generator) -> np.ndarray:
    """Differentiated Rosenberg pulses at a per-sample f0, with a little jitter."""
    jitter = 1.0 + 0.01 * np.interp(np.arange(len(f0)), np.arange(0, len(f0), 80), rng.standard_normal(len(f0) // 80 + 1)[: len(np.arange(0, len(f0), 80))])
    phase = np.cumsum(f0 * jitter / SR) % 1.0
    tp = 0.6 * oq
    g = np.where(phase < tp, 0.5 * (1 - np.cos(np.pi * phase / tp)),
                 np.where(phase < oq, np.cos(0.5 * np.pi * (phase - tp) / (oq - tp)), 0.0))
    return np.diff(g, prepend=0.0)


def _stft(x: np.ndarray) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(x, _N)[::_H]
    return np.fft.rfft(frames * _WIN, axis=-1)


def _istft(spec: np.ndarray, length: int) -> np.ndarray:
    frames = np.fft.irfft(spec, n=_N, axis=-1) * _WIN
    out = np.zeros((len(frames) + 3) * _H + _N)
    for k in range(_N // _H):
        part = frames[k :: _N // _H].reshape(-1)
        out[k * _H : k * _H + len(part)] += part
    return out[:length] / 1.5  # sum of squared Hann windows at hop N/4


def synthesize(names, speaker: Speaker, rng: np.random.Generator, clip_s: float = 1.3):
    """Speak syllables `names` into a clip of `clip_s` seconds.

    Returns (wave float64 (L,), tracks) where tracks has per-sample-time functions' breakpoints evaluated
    later: a dict with `rounding` and `jaw` (_Track) for the lip synthesiser, and `timing`.
    """
    length = int(round(clip_s * SR))
    timing = plan_timing(names, speaker, rng, clip_s)
    voice, fric, asp = _Track(), _Track(), _Track()
    f0m, fc, fbw = _Track(1.0), _Track(4000.0), _Track(1200.0)
    form = [_Track(v) for v in (500.0, 1500.0, 2500.0)]
    rounding, jaw = _Track(), _Track()
    s = speaker.formant_scale
    for name, t0, dur in timing:
        syl = INVENTORY[name]
        onset = syl.onset or ("none",)
        kind = onset[0]
        cons = {"fric": 0.34, "affric": 0.26, "stop": 0.22, "nasal": 0.22, "h": 0.2, "liquid": 0.15}.get(kind, 0.0) * dur
        tv = t0 + cons  # voicing onset
        first = VOWELS[syl.vowels[0]]
        for trk, val in zip(form, first[0]):
            trk.hold(t0)
        if kind in ("fric", "affric", "stop"):
            centre = onset[1] * (0.9 + 0.1 * s)
            fc.hold(t0); fc.to(t0 + 1e-4, centre)
            fbw.hold(t0); fbw.to(t0 + 1e-4, onset[2] if kind == "fric" else 1800.0)
        if kind == "fric":
            fric.hold(t0); fric.to(t0 + 0.03, 1.0); fric.to(tv - 0.01, 0.9); fric.to(tv + 0.01, 0.0)
        elif kind == "affric":
            closure = 0.35 * cons
            fric.hold(t0 + closure); fric.to(t0 + closure + 0.004, 2.0); fric.to(t0 + closure + 0.014, 0.8)
            fric.to(tv - 0.01, 0.6 if onset[2] else 0.4); fric.to(tv + 0.005, 0.0)
        elif kind == "stop":
            burst = t0 + (0.6 if onset[2] else 0.8) * cons
            fric.hold(burst); fric.to(burst + 0.002, 2.5); fric.to(burst + 0.012, 0.0)
            if onset[2]:
                asp.hold(burst + 0.008); asp.to(burst + 0.015, 0.8); asp.to(tv, 0.5); asp.to(tv + 0.02, 0.0)
        elif kind == "h":
            asp.hold(t0); asp.to(t0 + 0.02, 0.9); asp.to(tv, 0.7); asp.to(tv + 0.02, 0.0)
        # voicing and formant trajectory
        end = t0 + dur
        if kind in ("nasal", "liquid"):
            nas = (250, 1100, 2300) if kind == "nasal" else (350, 1100, 2600)
            for trk, val in zip(form, nas):
                trk.to(t0 + 1e-3, val * s); trk.hold(tv)
            voice.hold(t0); voice.to(t0 + 0.02, 0.35); voice.to(tv, 0.4)
        else:
            voice.hold(tv)
        voice.to(tv + 0.025, 1.0)
        voice.to(end - 0.045, 0.85)
        voice.to(end, 0.0)
        targets = syl.vowels
        times = np.linspace(tv + 0.02, end - 0.03, len(targets)) if len(targets) > 1 else [tv + 0.02]
        for tt, vname in zip(times, targets):
            fmts, rnd = VOWELS[vname]
            for trk, val in zip(form, fmts):
                trk.to(tt, val * s)
            rounding.to(tt, rnd)
            jaw.to(tt, (fmts[0] - 250.0) / 550.0)
        for trk in form:
            trk.hold(end)
        jaw.to(end + 0.04, 0.0)
        rounding.hold(end + 0.04)
        tone = TONES[syl.tone]
        for frac, mult in zip((0.0, 0.5, 1.0), tone):
            f0m.to(tv + frac * (end - tv), 1.0 + (mult - 1.0) * speaker.tone_range)
    t_samples = np.arange(length) / SR
    declination = 1.0 - 0.08 * t_samples / clip_s
    f0 = speaker.f0 * f0m(t_samples) * declination
    src_voiced = _glottal(f0, speaker.open_quotient, rng) * 20.0 * voice(t_samples)
    noise = rng.standard_normal(length)
    src_voiced += speaker.breath * noise * voice(t_samples)
    src_asp = 0.25 * asp(t_samples) * rng.standard_normal(length)
    src_fric = 0.12 * fric(t_samples) * rng.standard_normal(length)

    pad = np.zeros(_N)
    n_frames = (length + 2 * _N - _N) // _H + 2
    total = (n_frames - 1) * _H + _N
    def framed(x):
        return _stft(np.concatenate([pad, x, np.zeros(total - _N - length)]))
    centres = (np.arange(n_frames) * _H + _N / 2 - _N) / SR
    formants = np.stack([trk(centres) for trk in form], axis=1)
    fenv = _formant_env(formants, s)
    fc_c, bw_c = fc(centres)[:, None], fbw(centres)[:, None]
    fric_env = np.exp(-0.5 * ((_FREQS[None, :] - fc_c) / bw_c) ** 2) + 0.05
    spec = framed(src_voiced + src_asp) * fenv + framed(src_fric) * fric_env
    wave = _istft(spec, length + _N)[_N:]
    wave = wave[:length] if len(wave) >= length else np.pad(wave, (0, length - len(wave)))
    tracks = {"rounding": rounding, "jaw": jaw, "timing": timing}
    return wave * speaker.level, tracks
