"""Activation choice by name, so a model's cfg can say "none" (the MISP2021 baseline) or "relu"."""

from __future__ import annotations

from torch import nn

from edgeprune.errors import EdgepruneError

_ACTIVATIONS = {"none": nn.Identity, "relu": nn.ReLU, "relu6": nn.ReLU6}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module for `name` ("none", "relu" or "relu6"); never in-place."""
    if name not in _ACTIVATIONS:
        raise EdgepruneError(f"unknown activation {name!r}; choose one of {', '.join(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()
