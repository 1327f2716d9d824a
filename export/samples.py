"""Input samples for calibration and for the parity gate: from a data spec, or seeded random normal inputs.

`random` (or `random:SEED`) draws normal inputs shaped like the model's example inputs: enough to check a
converter, not to calibrate a model that will be deployed. Any other spec goes to edgeprune.data.open_data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from edgeprune.errors import EdgepruneError


@dataclass
class Samples:
    """Model inputs as {name: float32 array (N, ...)} with optional binary labels (N,)."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    def head(self, n: int) -> "Samples":
        labels = None if self.labels is None else self.labels[:n]
        return Samples({k: v[:n] for k, v in self.inputs.items()}, labels)

    def tensors(self, names) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(self.inputs[n]) for n in names)


def random_samples(source, n: int, seed: int = 0) -> Samples:
    """`n` seeded standard-normal samples shaped like source.example (batch axis replaced by n)."""
    rng = np.random.default_rng(seed)
    return Samples({
        name: rng.standard_normal((n, *t.shape[1:])).astype(np.float32)
        for name, t in zip(source.input_names, source.example)
    })


def is_random(spec: str | None) -> bool:
    return spec is not None and (spec == "random" or spec.startswith("random:"))


def _random_seed(spec: str) -> int:
    _, _, seed = spec.partition(":")
    try:
        return int(seed) if seed else 0
    except ValueError:
        raise EdgepruneError(f"calibration spec {spec!r}: expected random or random:SEED") from None


def spec_samples(source, spec: str, split: str, n: int | None) -> Samples:
    """Up to `n` samples (all when None) of `split` ("train" for calibration, "test" for the gate)."""
    if is_random(spec):
        return random_samples(source, n or 100, seed=_random_seed(spec) + (0 if split == "train" else 1))
    data = _open(source, spec)
    dataset = getattr(data, split)
    count = len(dataset) if n is None else min(n, len(dataset))
    if count == 0:
        raise EdgepruneError(f"data {spec!r}: the {split} split is empty")
    items = [dataset[i] for i in _spread(len(dataset), count)]
    missing = [name for name in source.input_names if name not in items[0]]
    if missing:
        raise EdgepruneError(f"data {spec!r} has no input {missing[0]!r} that {source.name} needs")
    inputs = {name: np.stack([np.asarray(it[name], dtype=np.float32) for it in items]) for name in source.input_names}
    labels = np.array([float(it["label"]) for it in items]) if source.task == "binary" else None
    return Samples(inputs, labels)


def _spread(total: int, count: int) -> list[int]:
    """`count` indices spread evenly over `total` items (both classes end up represented)."""
    return sorted({int(i) for i in np.linspace(0, total - 1, count)})


def _open(source, spec: str):
    try:
        from edgeprune.data import open_data
    except ImportError:
        raise EdgepruneError(f"data spec {spec!r} needs edgeprune.data.open_data, which this install lacks") from None
    lip_size = next((int(t.shape[-1]) for n, t in zip(source.input_names, source.example) if n == "lips"), 88)
    return open_data(spec, inputs=tuple(source.input_names), lip_size=lip_size)
