"""RawSplit: a split as loaded from a source (waveforms, lip clips, labels), before features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


#: Clip length of folder and MISP2021 data unless the caller gives one: the tv models' 1.3 s window.
DEFAULT_CLIP_S = 1.3


@dataclass
class RawSplit:
    """Clips of one split, cropped/padded to one length. `waves` (N, L) int16 or float32 in [-1, 1];
    `lips` (M, Tv, S, S) uint8 or None, with `lip_index` (N,) choosing each clip's lip sequence.

    `full` (audio-only training splits) keeps, per clip, the whole recording when it was longer than the
    window (None otherwise), so that training can draw a random window each epoch (`window`); `waves`
    holds the centred window that evaluation uses.
    """

    waves: np.ndarray | None
    labels: np.ndarray
    snr: np.ndarray
    ids: list
    lips: np.ndarray | None = None
    lip_index: np.ndarray | None = None
    full: list | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def window(self, i: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """Clip i's window: the stored (centred) one without `rng`, else a random window of the same length
        from the whole recording (the training-time crop hook)."""
        source = self.full[i] if self.full is not None else None
        if rng is None or source is None:
            return self.waves[i]
        length = self.waves.shape[1]
        start = int(rng.integers(0, len(source) - length + 1))
        return source[start : start + length]


def fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop a longer signal, zero-pad a shorter one at the end."""
    if len(x) >= length:
        start = (len(x) - length) // 2
        return x[start : start + length]
    return np.concatenate([x, np.zeros(length - len(x), dtype=x.dtype)])


def crop_start(n: int, length: int) -> int:
    """The sample where fit_length's centre crop starts (0 when padding)."""
    return max(0, (n - length) // 2)
