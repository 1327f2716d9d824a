"""Frozen sub-modules (staged audio-visual pruning): no gradient, and eval mode (BN statistics and dropout fixed)."""

from __future__ import annotations

from contextlib import contextmanager

from torch import nn

from edgeprune.errors import EdgepruneError


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def frozen_modules(model: nn.Module, prefixes) -> list[nn.Module]:
    """The top-most sub-modules of `model` named by `prefixes` (a module name or a dotted prefix of one)."""
    prefixes = [p for p in prefixes if p]
    named = dict(model.named_modules())
    found = []
    for p in prefixes:
        if p not in named:
            raise EdgepruneError(f"cannot freeze {p!r}: the model has no sub-module of that name")
        found.append(named[p])
    return found


@contextmanager
def freeze(model: nn.Module, prefixes):
    """Within the block, parameters under `prefixes` do not require grad; restored on exit."""
    modules = frozen_modules(model, prefixes)
    saved = []
    for mod in modules:
        for p in mod.parameters():
            saved.append((p, p.requires_grad))
            p.requires_grad_(False)
    try:
        yield modules
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)


def train_mode(model: nn.Module, frozen: list[nn.Module]) -> None:
    """model.train(), except the frozen sub-modules, which stay in eval mode."""
    model.train()
    for mod in frozen:
        mod.eval()
