"""The model under evaluation, from a checkpoint or an exported file: a probability function over input
batches plus what inference needs from its record (inputs, clip frames, dev threshold, feature stats)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from edgeprune.errors import EdgepruneError


@dataclass
class ModelSource:
    name: str
    kind: str  # "checkpoint" | "onnx"
    inputs: tuple[str, ...]
    frames: int | None  # FBank frames per window (the clip length the model was trained on)
    threshold: float | None  # dev threshold on the probability
    feature_stats: dict | None  # {input name: {"mean": [...], "std": [...]}} of the training split
    predict: Callable[[dict], np.ndarray]  # {input: float32 (B, ...)} -> (B,) wake probabilities
    data: str | None = None  # the data spec it was trained on, when recorded
    lip_size: int | None = None  # lip crop size, for models with a lips input
    meta: dict = field(default_factory=dict)

    def need_threshold(self) -> float:
        if self.threshold is None:
            raise EdgepruneError(f"{self.name} records no dev threshold (checkpoint meta 'threshold'); "
                                 "pass --threshold")
        return self.threshold

    def need_stats(self, name: str) -> dict:
        stats = (self.feature_stats or {}).get(name)
        if not isinstance(stats, dict) or "mean" not in stats or "std" not in stats:
            raise EdgepruneError(f"{self.name} records no training feature statistics for {name!r} "
                                 "(checkpoint meta 'feature_stats'); save it with them, as `edgeprune slim` does")
        return stats


def _threshold(*candidates) -> float | None:
    for value in candidates:
        try:
            t = float(value)
        except (TypeError, ValueError):
            continue
        if 0.0 < t < 1.0 and not math.isnan(t):
            return t
    return None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if x.shape[1] != 1:
        raise EdgepruneError(f"a wake-word model returns one logit per input; this one returns {x.shape[1]}")
    return 1.0 / (1.0 + np.exp(-x[:, 0]))


def from_checkpoint(path, trust_factory: bool = False) -> ModelSource:
    """An edgeprune checkpoint (edgeprune.save / `edgeprune slim` rounds) run in PyTorch."""
    import torch

    from edgeprune.checkpoint import load

    model, meta = load(path, trust_factory=trust_factory)
    arch = meta.get("arch") or {}
    if "zoo" in arch:
        from edgeprune import models
        from edgeprune.models.registry import DEFAULT_FRAMES

        spec = models.spec(arch["zoo"])
        name, inputs, task = arch["zoo"], tuple(spec.inputs), spec.task
        frames = int((arch.get("cfg") or {}).get("frames", DEFAULT_FRAMES))
        lip_size = (arch.get("cfg") or {}).get("lip_size", spec.lip_size)
    elif isinstance(meta.get("inputs"), dict):
        name, inputs, task = str(arch.get("factory", "model")), tuple(meta["inputs"]), meta.get("task", "binary")
        shape = meta["inputs"].get("fbank")
        frames = int(shape[1]) if isinstance(shape, list) and len(shape) == 3 else None
        lips = meta["inputs"].get("lips")
        lip_size = int(lips[-1]) if isinstance(lips, list) and len(lips) == 4 else None
    else:
        raise EdgepruneError(f"{path}: not a zoo model and no meta 'inputs' ({{name: shape}}): cannot tell its inputs")
    if task != "binary":
        raise EdgepruneError(f"{path}: eval measures wake-word (binary) models; {name} is {task}")
    model.eval()

    @torch.no_grad()
    def predict(feeds: dict) -> np.ndarray:
        out = model(*[torch.as_tensor(np.asarray(feeds[k], dtype=np.float32)) for k in inputs])
        return _sigmoid(out.detach().cpu().numpy())

    metrics_dev = ((meta.get("metrics") or {}).get("dev") or {})
    return ModelSource(name=name, kind="checkpoint", inputs=inputs, frames=frames,
                       threshold=_threshold(meta.get("threshold"), metrics_dev.get("threshold")),
                       feature_stats=meta.get("feature_stats"), predict=predict, data=meta.get("data"),
                       lip_size=lip_size, meta=meta)


def from_exported(path, runner, metadata: dict) -> ModelSource:
    """An exported file run in its runtime: `runner` maps {input: batch} to logits (edgeprune.export.runtimes),
    `metadata` is the file's edgeprune metadata (edgeprune.export.metadata)."""
    if not metadata.get("model"):
        raise EdgepruneError(f"{path} carries no edgeprune metadata (export it with `edgeprune export`)")
    if metadata.get("task", "binary") != "binary":
        raise EdgepruneError(f"{path}: eval measures wake-word (binary) models; "
                             f"{metadata['model']} is {metadata['task']}")
    try:
        shapes = json.loads(metadata.get("inputs") or "{}")
        stats = json.loads(metadata["feature_stats"]) if metadata.get("feature_stats") else None
    except json.JSONDecodeError as exc:
        raise EdgepruneError(f"{path}: damaged edgeprune metadata ({exc})") from None
    inputs = tuple(runner.input_names)
    fb = shapes.get("fbank")
    frames = int(fb[1]) if isinstance(fb, list) and len(fb) == 3 else None
    lips = shapes.get("lips")

    def predict(feeds: dict) -> np.ndarray:
        return _sigmoid(runner({k: np.asarray(feeds[k], dtype=np.float32) for k in inputs}))

    return ModelSource(name=f"{metadata['model']} ({Path(path).name})", kind="onnx", inputs=inputs, frames=frames,
                       threshold=_threshold(metadata.get("threshold")), feature_stats=stats, predict=predict,
                       lip_size=int(lips[-1]) if isinstance(lips, list) and len(lips) == 4 else None,
                       meta=dict(metadata))
