"""The `digits` source: scikit-learn's bundled 8x8 digits (no download) as (1, 28, 28) images for the
lenet models (resized to 20x20 and padded by 4, the MNIST layout), ten classes, seeded stratified splits.
scikit-learn is the `digits` extra (it and scipy are about 200 MB that nothing else in the core needs)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from edgeprune.data.bundle import ArraySplit, DataBundle
from edgeprune.errors import EdgepruneError
from edgeprune.features.stats import apply_stats, compute_stats

SIZE, INNER = 28, 20
EXTRA_HINT = 'pip install "edgeprune[digits]" (from a clone: pip install -c constraints.txt -e ".[digits]")'


def to_images(flat: np.ndarray) -> torch.Tensor:
    """(N, 64) values 0..16 -> (N, 1, 28, 28) float32 in [0, 1]."""
    x = torch.from_numpy(flat.reshape(-1, 1, 8, 8).astype(np.float32) / 16.0)
    x = F.interpolate(x, size=(INNER, INNER), mode="bilinear", align_corners=False)
    pad = (SIZE - INNER) // 2
    return F.pad(x, (pad, pad, pad, pad)).clamp_(0.0, 1.0)


def split_indices(labels: np.ndarray, seed: int, dev: float, test: float) -> dict:
    """Stratified, seeded split of the indices: per class, the first `test` share, then `dev`, rest train."""
    rng = np.random.default_rng([seed, 31])
    out = {"train": [], "dev": [], "test": []}
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test, n_dev = int(round(test * len(idx))), int(round(dev * len(idx)))
        out["test"] += idx[:n_test].tolist()
        out["dev"] += idx[n_test : n_test + n_dev].tolist()
        out["train"] += idx[n_test + n_dev :].tolist()
    return {k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in out.items()}


def open_digits(path, *, inputs, seed=0, dev=0.1, test=0.2, train=None):
    """A multiclass DataBundle with input `image`; `train` optionally caps the training set size."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise EdgepruneError(f"digits data needs scikit-learn, the digits extra ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'not importable'}): {EXTRA_HINT}") from None
    if path:
        raise EdgepruneError(f"digits takes no path (got 'digits:{path}')")
    if tuple(inputs) not in (("image",), ("fbank",)):
        raise EdgepruneError(f"digits data provides the input 'image', not {list(inputs)}")
    if not (0 < dev < 1 and 0 < test < 1 and dev + test < 1):
        raise EdgepruneError(f"digits: dev and test must be fractions with dev + test < 1, got {dev}, {test}")
    data = load_digits()
    labels = data.target.astype(np.int64)
    images = to_images(data.data)
    parts = split_indices(labels, seed, dev, test)
    if train is not None:
        parts["train"] = np.sort(np.random.default_rng([seed, 32]).permutation(parts["train"])[: int(train)])
    stats = {"image": compute_stats(images[torch.from_numpy(parts["train"])], dims=0)}
    splits = {}
    for name, idx in parts.items():
        t = torch.from_numpy(idx)
        splits[name] = ArraySplit({"image": apply_stats(images[t], stats["image"])}, torch.from_numpy(labels[idx]),
                                  [float("nan")] * len(idx), [f"digit_{i:04d}" for i in idx])
    info = {"source": "digits", "spec": "digits", "num_classes": 10, "image_size": SIZE, "inputs": ["image"],
            "sizes": {k: len(v) for k, v in parts.items()}}
    return DataBundle(splits["train"], splits["dev"], splits["test"], stats, info, [], "multiclass")
