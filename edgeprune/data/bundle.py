"""DataBundle (train/dev/test splits + train-split feature stats) and the Dataset that serves items."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset


class ArraySplit(Dataset):
    """One split held as arrays; an item is a dict: one key per input, `label`, `snr`, `id`.

    `tensors` holds ready features with the item axis first (e.g. fbank (N, T, 40)). Lips stay uint8
    (M, Tv, S, S) (possibly memory-mapped; several items may share one clip through `lip_index`) and are
    converted and normalised per item, so a corpus of video never sits in memory as float32.
    `waves` (N, L), kept for the training split only, lets the trainer augment the raw audio on the fly;
    items then carry `wave` and their dataset `index` (which seeds each example's augmentation); `crop`,
    when the source kept whole recordings, draws a random window of one instead of the centred `wave`.
    """

    def __init__(self, tensors: dict, labels, snr, ids, lips=None, lip_index=None, lip_stats=None, waves=None,
                 crop=None):
        self.tensors = dict(tensors)
        self.labels = torch.as_tensor(labels)
        self.snr = [float(s) for s in snr]
        self.ids = [str(i) for i in ids]
        self.lips = lips
        self.lip_index = None if lip_index is None else np.asarray(lip_index, dtype=np.int64)
        self.lip_stats = lip_stats
        self.waves = waves
        self.crop = crop  # (index, rng) -> a random window of the whole recording (training crops), or None
        n = len(self.ids)
        sizes = {len(self.labels), len(self.snr)} | {len(t) for t in self.tensors.values()}
        if self.waves is not None:
            sizes.add(len(self.waves))
        if self.lips is not None:
            sizes.add(len(self.lip_index))
        if sizes != {n}:
            raise ValueError(f"split arrays disagree in length: {sorted(sizes)} vs {n} ids")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        item = {name: t[i] for name, t in self.tensors.items()}
        if self.lips is not None:
            frames = torch.from_numpy(np.asarray(self.lips[self.lip_index[i]], dtype=np.float32)) / 255.0
            if self.lip_stats is not None:
                frames = (frames - self.lip_stats["mean"][0]) / self.lip_stats["std"][0]
            item["lips"] = frames
        if self.waves is not None:
            item["wave"] = torch.from_numpy(np.asarray(self.waves[i]))
            item["index"] = i
        item["label"] = self.labels[i]
        item["snr"] = self.snr[i]
        item["id"] = self.ids[i]
        return item

    def label_counts(self) -> dict:
        values, counts = torch.unique(self.labels, return_counts=True)
        return {int(v): int(c) for v, c in zip(values.tolist(), counts.tolist())}

    def snr_values(self) -> list[float]:
        """The distinct SNRs in this split (nan excluded), sorted."""
        return sorted({s for s in self.snr if not math.isnan(s)})


@dataclass
class DataBundle:
    """What open_data returns: three splits, train-split stats per input, info, skipped bad files."""

    train: ArraySplit
    dev: ArraySplit
    test: ArraySplit
    stats: dict
    info: dict
    bad: list = field(default_factory=list)
    task: str = "binary"
    noise_pool: np.ndarray | None = None  # (K, L) float32 backgrounds for training-time noise augmentation

    def splits(self) -> dict:
        return {"train": self.train, "dev": self.dev, "test": self.test}
