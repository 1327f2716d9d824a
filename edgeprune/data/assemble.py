"""Turn RawSplits into a DataBundle: FBank per clip, stats from train, normalisation of every split."""

from __future__ import annotations

import numpy as np
import torch

from edgeprune.data.bundle import ArraySplit, DataBundle
from edgeprune.data.progress import progress
from edgeprune.data.raw import RawSplit
from edgeprune.errors import EdgepruneError
from edgeprune.features.fbank import fbank, get_config
from edgeprune.features.stats import apply_stats, compute_stats

SPLITS = ("train", "dev", "test")
_CHUNK = 128
_LIP_STAT_CLIPS = 64
_POOL_NEGATIVES = 256  # training negatives (speech, TV, near misses) in the augmentation noise pool
_POOL_SYNTH = 32  # plus this many pink-noise and this many music backgrounds


def noise_pool(raw: RawSplit, seed: int = 0) -> np.ndarray:
    """(K, L) float32 unit-RMS backgrounds for training-time noise augmentation: up to 256 of the training
    split's own negative clips (the corpus's noise and speech) plus synthetic pink noise and music."""
    from edgeprune.data.synth_noise import music, pink_noise, rms

    waves = raw.waves
    length = waves.shape[1]
    scale = 1.0 / 32768.0 if waves.dtype == np.int16 else 1.0
    rng = np.random.default_rng([int(seed) % (2**31), 0x9001])
    negatives = np.flatnonzero(np.asarray(raw.labels) == 0)
    picks = rng.permutation(negatives)[:_POOL_NEGATIVES]
    clips = [np.asarray(waves[i], dtype=np.float32) * scale for i in picks]
    clips += [pink_noise(length, rng) for _ in range(_POOL_SYNTH)]
    clips += [music(length, rng) for _ in range(_POOL_SYNTH)]
    return np.stack([(c / rms(c)).astype(np.float32) for c in clips])


def waves_to_fbank(waves: np.ndarray, preset: str, desc: str = "fbank") -> torch.Tensor:
    """(N, L) int16/float waves -> (N, T, 40) float32 log-mel, computed in chunks."""
    scale = 1.0 / 32768.0 if waves.dtype == np.int16 else 1.0
    out = []
    for start in progress(range(0, len(waves), _CHUNK), desc=desc):
        chunk = torch.from_numpy(np.asarray(waves[start : start + _CHUNK], dtype=np.float32) * scale)
        out.append(fbank(chunk, preset))
    return torch.cat(out) if out else torch.zeros(0, 0, get_config(preset).n_mels)


def lip_stats(raw: RawSplit) -> dict:
    """One mean/std over all pixels (scaled to [0, 1]) of up to 64 evenly spaced training lip clips."""
    used = np.unique(raw.lip_index)
    pick = used[np.linspace(0, len(used) - 1, min(len(used), _LIP_STAT_CLIPS)).round().astype(int)]
    return compute_stats(torch.from_numpy(np.asarray(raw.lips[pick], dtype=np.float32) / 255.0), dims=0)


def build_bundle(raws: dict, inputs, preset: str, info: dict, bad=None, task: str = "binary", seed: int = 0) -> DataBundle:
    """FBank and lips for the requested `inputs` only; stats are computed on train and applied to all. The
    training split keeps its raw waves and a noise pool is drawn, for on-the-fly augmentation."""
    unknown = set(inputs) - {"fbank", "lips"}
    if unknown:
        raise EdgepruneError(f"this data source provides fbank and lips, not {', '.join(sorted(unknown))}")
    for name in SPLITS:
        if len(raws[name]) == 0:
            raise EdgepruneError(f"the {name} split of {info.get('spec', 'the data')} is empty")
    stats: dict = {}
    feats = {}
    if "fbank" in inputs:
        feats = {name: waves_to_fbank(raws[name].waves, preset, desc=f"fbank {name}") for name in SPLITS}
        stats["fbank"] = compute_stats(feats["train"])
        feats = {name: apply_stats(f, stats["fbank"]) for name, f in feats.items()}
    if "lips" in inputs:
        if any(raws[name].lips is None for name in SPLITS):
            raise EdgepruneError(f"{info.get('spec', 'the data')} has no lip frames but the inputs include lips")
        stats["lips"] = lip_stats(raws["train"])
    splits = {}
    for name in SPLITS:
        raw = raws[name]
        tensors = {"fbank": feats[name]} if "fbank" in inputs else {}
        use_lips = "lips" in inputs
        labels = torch.as_tensor(np.asarray(raw.labels), dtype=torch.float32 if task == "binary" else torch.int64)
        splits[name] = ArraySplit(
            tensors, labels, raw.snr, raw.ids,
            lips=raw.lips if use_lips else None,
            lip_index=raw.lip_index if use_lips else None,
            lip_stats=stats.get("lips"),
            waves=raw.waves if name == "train" and "fbank" in inputs else None,
            crop=raw.window if name == "train" and "fbank" in inputs and raw.full is not None else None,
        )
    info = dict(info, inputs=list(inputs), preset=preset, fbank=get_config(preset).to_dict(),
                sizes={name: len(raws[name]) for name in SPLITS})
    pool = noise_pool(raws["train"], seed) if "fbank" in inputs else None
    return DataBundle(splits["train"], splits["dev"], splits["test"], stats, info, list(bad or []), task, pool)
