"""Parameter counts per layer type (conv, LSTM, FC, norm) of a model, honouring weight masks: the data
behind the 'pruned share per layer type' table (seed 001 Table 4)."""

from __future__ import annotations

from torch import nn

from edgeprune.kinds import kind_of

LAYER_TYPES = ("conv", "lstm", "fc", "norm", "other")


def layer_type(module: nn.Module) -> str | None:
    """conv, lstm, fc or norm for a layer that owns parameters; other for anything else; None when empty."""
    if not any(True for _ in module.parameters(recurse=False)):
        return None
    kind = kind_of(module)
    return kind.family if kind is not None and kind.family in LAYER_TYPES else "other"


def params_by_type(model: nn.Module, masks: dict | None = None) -> dict[str, int]:
    """{layer type: number of live parameters}; masked-out weights do not count."""
    masks = masks or {}
    out = {t: 0 for t in LAYER_TYPES}
    for mname, module in model.named_modules():
        kind = layer_type(module)
        if kind is None:
            continue
        for pname, p in module.named_parameters(recurse=False):
            full = f"{mname}.{pname}" if mname else pname
            m = masks.get(full)
            out[kind] += int(m.sum()) if m is not None else p.numel()
    return out
