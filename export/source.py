"""What is being exported: a model in eval mode, its input names and example shapes, task and meta.

Resolves a checkpoint path (edgeprune.load) or an in-memory nn.Module (zoo-built or with explicit inputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from edgeprune.errors import EdgepruneError

# Output name per task (the ONNX output / documented in the README).
OUTPUT_NAMES = {"binary": "logit", "multiclass": "logits", "embedding": "embedding"}


@dataclass
class ExportSource:
    model: nn.Module
    name: str  # zoo name, factory spec or class name
    input_names: tuple[str, ...]
    example: tuple[torch.Tensor, ...]  # batch 1
    task: str
    meta: dict = field(default_factory=dict)

    @property
    def output_name(self) -> str:
        return OUTPUT_NAMES.get(self.task, "output")

    @property
    def threshold(self) -> float:
        """The decision threshold on the sigmoid: the checkpoint's (meta or its metrics), else 0.5."""
        for holder in (self.meta, self.meta.get("metrics") or {}):
            value = holder.get("threshold") if isinstance(holder, dict) else None
            if isinstance(value, (int, float)) and 0.0 < value < 1.0:
                return float(value)
        return 0.5

    def zoo_cfg(self) -> dict:
        arch = self.meta.get("arch") or {}
        return dict(arch.get("cfg") or {}) if "zoo" in arch else {}


def resolve(ckpt_or_model, *, example_inputs=None, input_names=None, task=None, meta=None,
            trust_factory=False) -> ExportSource:
    """Load a checkpoint path, or take a module; find its inputs from the zoo or the arguments."""
    if isinstance(ckpt_or_model, (str, Path)):
        from edgeprune.checkpoint import load

        model, loaded = load(ckpt_or_model, trust_factory=trust_factory)
        meta = {**loaded, **(meta or {})}
    elif isinstance(ckpt_or_model, nn.Module):
        model = ckpt_or_model
        meta = dict(meta or {})
        meta.setdefault("arch", getattr(model, "edgeprune_arch", None) or {})
    else:
        raise EdgepruneError(f"cannot export a {type(ckpt_or_model).__name__}: give a checkpoint path or an nn.Module")
    model.eval()
    arch = meta.get("arch") or {}
    if "zoo" in arch:
        from edgeprune import models

        spec = models.spec(arch["zoo"])
        cfg = dict(arch.get("cfg") or {})
        names = tuple(input_names or spec.inputs)
        example = tuple(example_inputs) if example_inputs is not None else tuple(models.example_inputs(arch["zoo"], batch=1, **cfg))
        return ExportSource(model, arch["zoo"], names, example, task or spec.task, meta)
    if (example_inputs is None or input_names is None) and isinstance(meta.get("inputs"), dict):
        example_inputs, input_names = _from_meta(meta["inputs"])
    if example_inputs is None or input_names is None:
        raise EdgepruneError(
            f"{type(model).__name__} is not a zoo model: pass example_inputs= and input_names=, or save it with "
            "inputs={name: shape} in its meta"
        )
    example = tuple(example_inputs)
    if len(example) != len(input_names):
        raise EdgepruneError(f"{len(example)} example inputs but {len(input_names)} input names")
    name = arch.get("factory") or type(model).__name__
    return ExportSource(model, name, tuple(input_names), example, task or meta.get("task", "binary"), meta)


def _from_meta(inputs: dict) -> tuple[tuple[torch.Tensor, ...], tuple[str, ...]]:
    """Seeded normal example inputs from a checkpoint's meta `inputs` = {name: shape with batch 1}."""
    gen = torch.Generator().manual_seed(0)
    tensors = []
    for name, shape in inputs.items():
        if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and d > 0 for d in shape):
            raise EdgepruneError(f"checkpoint meta inputs[{name!r}] must be a list of positive ints, got {shape!r}")
        tensors.append(torch.randn(1, *shape[1:], generator=gen))
    return tuple(tensors), tuple(inputs)
