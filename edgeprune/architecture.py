"""Per-layer widths as data: capture them from a (pruned) model, and re-shape a freshly built model to them.

A pruned model differs from its dense build only in layer widths, so "dense build + recorded widths +
state dict" rebuilds it without pickling the module (PITFALLS.md item 8).
"""

from __future__ import annotations

import torch
from torch import nn

from edgeprune.errors import EdgepruneError

# Layer kind -> the constructor attributes that carry a width. forward() of these layers reads some of
# them (LSTM.input_size/hidden_size, LayerNorm.normalized_shape, GroupNorm.num_groups), so they must be
# set, not only the parameter shapes.
_WIDTH_ATTRS: tuple[tuple[type, tuple[str, ...]], ...] = (
    (nn.modules.conv._ConvNd, ("in_channels", "out_channels", "groups")),
    (nn.modules.batchnorm._NormBase, ("num_features",)),
    (nn.Linear, ("in_features", "out_features")),
    (nn.Bilinear, ("in1_features", "in2_features", "out_features")),
    (nn.RNNBase, ("input_size", "hidden_size", "proj_size")),
    (nn.LayerNorm, ("normalized_shape",)),
    (nn.GroupNorm, ("num_groups", "num_channels")),
    (nn.PReLU, ("num_parameters",)),
    (nn.Embedding, ("num_embeddings", "embedding_dim")),
)


def _attrs_for(module: nn.Module) -> tuple[str, ...]:
    for kind, attrs in _WIDTH_ATTRS:
        if isinstance(module, kind):
            return attrs
    return ()


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def capture_widths(model: nn.Module) -> dict[str, dict]:
    """{qualified layer name: {"type": class name, width attr: value, ...}} for every layer with widths."""
    widths = {}
    for name, module in model.named_modules():
        attrs = _attrs_for(module)
        if attrs:
            entry = {"type": type(module).__name__}
            entry.update({a: _jsonable(getattr(module, a)) for a in attrs if hasattr(module, a)})
            widths[name] = entry
    return widths


def apply_widths(model: nn.Module, widths: dict[str, dict], state: dict[str, torch.Tensor]) -> None:
    """Re-shape `model` in place: set each layer's width attributes and give every parameter and buffer
    the shape and dtype it has in `state`, so that load_state_dict(state, strict=True) then fits."""
    modules = dict(model.named_modules())
    for name, entry in widths.items():
        module = modules.get(name)
        if module is None:
            raise EdgepruneError(f"checkpoint layer {name!r} ({entry.get('type')}) does not exist in the rebuilt model")
        if type(module).__name__ != entry.get("type"):
            raise EdgepruneError(
                f"checkpoint layer {name!r} is a {entry.get('type')} but the rebuilt model has a {type(module).__name__}"
            )
        for attr, value in entry.items():
            if attr == "type":
                continue
            if not hasattr(module, attr):
                raise EdgepruneError(f"checkpoint layer {name!r} records {attr!r}, which a {entry['type']} lacks")
            setattr(module, attr, tuple(value) if isinstance(value, list) else value)
    _reshape_tensors(model, state)


def _reshape_tensors(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Replace each parameter/buffer whose shape or dtype differs from `state` by an empty one that fits."""
    own = dict(model.named_parameters(remove_duplicate=False))
    own_buffers = dict(model.named_buffers(remove_duplicate=False))
    touched_rnns = []
    for key, saved in state.items():
        current = own.get(key, own_buffers.get(key))
        if current is None or (current.shape == saved.shape and current.dtype == saved.dtype):
            continue  # unknown keys are reported by load_state_dict(strict=True)
        owner_name, _, attr = key.rpartition(".")
        owner = model.get_submodule(owner_name) if owner_name else model
        fresh = torch.empty(saved.shape, dtype=saved.dtype, device=current.device)
        if key in own:
            # setattr goes through RNNBase.__setattr__, which keeps LSTM._flat_weights in step.
            setattr(owner, attr, nn.Parameter(fresh, requires_grad=current.requires_grad))
        else:
            owner.register_buffer(attr, fresh, persistent=True)
        if isinstance(owner, nn.RNNBase):
            touched_rnns.append(owner)
    for rnn in touched_rnns:
        rnn._init_flat_weights()
