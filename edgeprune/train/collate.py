"""Augmented training batches: the augmenters a DataBundle allows, and AugmentCollate, which applies them to each
example of a batch with its own seeded draw in the DataLoader's worker processes."""

from __future__ import annotations

import numpy as np
from torch.utils.data import default_collate

from edgeprune.train.augment import AudioAugment, LipAugment, example_rng


class AugmentCollate:
    """Collates a training batch and augments each example with its own (seed, epoch, index) draw; runs in the
    DataLoader's worker processes when cfg.num_workers > 0, so augmentation overlaps training."""

    def __init__(self, augmenters: dict, seed: int, epoch: int, crop=None):
        self.augmenters, self.seed, self.epoch, self.crop = augmenters, seed, epoch, crop

    def __call__(self, items):
        batch = default_collate(items)
        if "index" not in batch:
            return batch
        rngs = [example_rng(self.seed, self.epoch, int(i)) for i in batch["index"]]
        if "fbank" in self.augmenters:
            waves = batch["wave"].numpy()
            if self.crop is not None:  # a random window of each whole recording (longer clips than the model's)
                waves = np.stack([np.asarray(self.crop(int(i), rng)) for i, rng in zip(batch["index"], rngs)])
            batch["fbank"] = self.augmenters["fbank"](waves, rngs)
        if "lips" in self.augmenters:
            batch["lips"] = self.augmenters["lips"](batch["lips"], rngs)
        return batch


def augmenters_for(data, train, inputs: tuple[str, ...], cfg) -> dict:
    """{input name: augmenter} for the inputs that `data` (a DataBundle, `train` its training split) lets us
    augment; empty when cfg.augment is off."""
    if not cfg.augment:
        return {}
    out = {}
    pool = getattr(data, "noise_pool", None)
    fb_stats = (getattr(data, "stats", None) or {}).get("fbank")
    if "fbank" in inputs and getattr(train, "waves", None) is not None and pool is not None and fb_stats:
        preset = (getattr(data, "info", None) or {}).get("preset", "default")
        out["fbank"] = AudioAugment(cfg.augment_config(), pool, fb_stats, preset)
    lip_stats = getattr(train, "lip_stats", None)
    if "lips" in inputs and getattr(train, "lips", None) is not None:
        std = float(lip_stats["std"][0]) if lip_stats else 1.0
        out["lips"] = LipAugment(cfg.augment_config(), std)
    return out
