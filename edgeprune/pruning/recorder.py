"""Record what each traced tensor op did (function, input shapes, arguments), keyed by its autograd node.

torch-pruning's graph sees autograd nodes only; CatBackward0 keeps no input sizes and raw model inputs
leave no node at all, so concat.py and reshape.py read the sizes they need from this record.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.overrides import TorchFunctionMode


@dataclass
class OpRecord:
    func: object
    args: tuple
    kwargs: dict
    in_shapes: list  # shape of every tensor argument, in order (None for non-tensors in a list arg)
    out_shape: tuple


def _shapes(args) -> list:
    shapes = []
    for a in args:
        if torch.is_tensor(a):
            shapes.append(tuple(a.shape))
        elif isinstance(a, (list, tuple)) and a and all(torch.is_tensor(t) for t in a):
            shapes.append([tuple(t.shape) for t in a])
    return shapes


class ShapeRecorder(TorchFunctionMode):
    """A torch function mode: `with recorder: model(*inputs)` fills `recorder.ops` {grad_fn: OpRecord}."""

    def __init__(self):
        super().__init__()
        self.ops: dict = {}
        self.outputs = None  # what the traced forward returned

    def output_fns(self) -> set:
        """Autograd nodes of the model outputs (a layer producing one of them must keep its width)."""
        stack, fns = [self.outputs], set()
        while stack:
            o = stack.pop()
            if torch.is_tensor(o):
                if o.grad_fn is not None:
                    fns.add(o.grad_fn)
            elif isinstance(o, dict):
                stack.extend(o.values())
            elif isinstance(o, (list, tuple)):
                stack.extend(o)
        return fns

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if torch.is_tensor(out) and out.grad_fn is not None and out.grad_fn not in self.ops:
            kept_args = tuple(a if not torch.is_tensor(a) else None for a in args)
            self.ops[out.grad_fn] = OpRecord(func, kept_args, dict(kwargs), _shapes(args), tuple(out.shape))
        return out
