"""Swap sub-modules of a copy of a model for export-friendly equivalents, leaving the original untouched."""

from __future__ import annotations

import copy
from typing import Callable

from torch import nn


def replace_modules(model: nn.Module, swap: Callable[[nn.Module], nn.Module | None]) -> tuple[nn.Module, int]:
    """(a copy of `model` in eval mode with every module for which `swap(module)` is not None replaced by that
    result, how many); `model` itself, untouched, when none is."""
    names = [name for name, module in model.named_modules() if name and swap(module) is not None]
    if not names:
        return model, 0
    model = copy.deepcopy(model)
    for name in names:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, swap(getattr(parent, attr)))
    return model.eval(), len(names)
