"""ChannelPruner's argument checks: one-line errors for bad settings, and layer lists resolved to modules."""

from __future__ import annotations

import torch.nn as nn

from edgeprune.errors import EdgepruneError


def choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise EdgepruneError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def check_numbers(min_channels, round_to, max_step_share) -> None:
    if max_step_share is not None and not (isinstance(max_step_share, (int, float)) and 0 < max_step_share <= 1):
        raise EdgepruneError(f"max_step_share must be None or a fraction in (0, 1], got {max_step_share!r}")
    if not isinstance(min_channels, int) or min_channels < 1:
        raise EdgepruneError(f"min_channels must be an integer >= 1, got {min_channels!r}")
    if round_to is not None and (not isinstance(round_to, int) or round_to < 1):
        raise EdgepruneError(f"round_to must be None or an integer >= 1, got {round_to!r}")


def resolve_layers(model: nn.Module, entries, what: str = "ignored_layers") -> set[int]:
    """id() of every module named by `entries` (modules or qualified names; a container brings all inside it)."""
    if isinstance(entries, (str, nn.Module)):
        entries = [entries]
    ids = set()
    for entry in entries:
        if isinstance(entry, str):
            try:
                entry = model.get_submodule(entry)
            except AttributeError:
                raise EdgepruneError(f"{what}: layer {entry!r} is not a module of the model") from None
        if not isinstance(entry, nn.Module):
            raise EdgepruneError(f"{what} takes modules or qualified names, got {type(entry).__name__}")
        ids.update(id(m) for m in entry.modules())
    return ids


def copy_history(history: list[dict]) -> list[dict]:
    """A copy the caller may change (cheaper than deepcopy, which grew with every step)."""
    return [{"ops": [dict(op, idxs=list(op["idxs"])) for op in step["ops"]]} for step in history]
