"""RawSplit: a split as loaded from a source (waveforms, lip clips, labels), before features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RawSplit:
    """Clips of one split, cropped/padded to one length. `waves` (N, L) int16 or float32 in [-1, 1];
    `lips` (M, Tv, S, S) uint8 or None, with `lip_index` (N,) choosing each clip's lip sequence."""

    waves: np.ndarray | None
    labels: np.ndarray
    snr: np.ndarray
    ids: list
    lips: np.ndarray | None = None
    lip_index: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


def fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop a longer signal, zero-pad a shorter one at the end."""
    if len(x) >= length:
        start = (len(x) - length) // 2
        return x[start : start + length]
    return np.concatenate([x, np.zeros(length - len(x), dtype=x.dtype)])


def crop_start(n: int, length: int) -> int:
    """The sample where fit_length's centre crop starts (0 when padding)."""
    return max(0, (n - length) // 2)
