"""Per-layer widths as data: capture them from a (pruned) model, check them, and re-shape a fresh build to them.

A pruned model differs from its dense build only in layer widths, so "dense build + recorded widths +
state dict" rebuilds it without pickling the module (PITFALLS.md item 8). Only the width attributes of the
layer types the pruner changes may be set, and only to values that agree with the saved tensor shapes.
"""

from __future__ import annotations

import torch
from torch import nn

from edgeprune.errors import EdgepruneError
from edgeprune.kinds import kind_of

def _attrs_for(module: nn.Module) -> tuple[str, ...]:
    """The constructor attributes that carry a width, as the layer's kind (edgeprune.kinds) lists them.
    forward() of some layers reads them (LSTM.input_size/hidden_size, GroupNorm.num_groups), so they must
    be set, not only the parameter shapes."""
    kind = kind_of(module)
    return kind.width_attrs if kind is not None else ()


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
    the shape and dtype it has in `state`, so that load_state_dict(state, strict=True) then fits.
    `widths` is checked first (check_widths): nothing is set or allocated for a record that does not fit."""
    check_widths(model, widths, state)
    modules = dict(model.named_modules())
    for name, entry in widths.items():
        module = modules[name]
        for attr, value in entry.items():
            if attr != "type":
                setattr(module, attr, tuple(value) if isinstance(value, list) else value)
    _reshape_tensors(model, state)


def check_widths(model: nn.Module, widths, state: dict[str, torch.Tensor]) -> None:
    """Refuse (EdgepruneError, one line) a widths record that names a layer the model lacks or of another
    type, sets anything but a width attribute of a layer type the pruner changes, holds a non-integer or
    inconsistent width, or disagrees with the tensor shapes in `state`; and any tensor whose shape differs
    from the built model outside those layers. Reads `model` only (it may live on the meta device)."""
    if not isinstance(widths, dict):
        raise EdgepruneError("checkpoint widths must be an object of layer name -> widths, "
                             f"not a {type(widths).__name__}")
    modules = dict(model.named_modules())
    for name, entry in widths.items():
        _check_entry(modules, name, entry)
    covered = set()
    for name, module in modules.items():
        attrs = _attrs_for(module)
        if not attrs:
            continue
        values = {a: _jsonable(getattr(module, a)) for a in attrs if hasattr(module, a)}
        values.update({a: v for a, v in (widths.get(name) or {}).items() if a != "type"})
        for pname, shape in _expected_shapes(name, module, values).items():
            key = f"{name}.{pname}" if name else pname
            covered.add(key)
            saved = state.get(key)
            if saved is not None and tuple(saved.shape) != shape:
                raise EdgepruneError(f"checkpoint tensor {key!r} has shape {list(saved.shape)} but the recorded "
                                     f"widths of {name or 'the model'!r} give {list(shape)}")
    built = dict(model.named_parameters(remove_duplicate=False))
    built.update(model.named_buffers(remove_duplicate=False))
    for key, saved in state.items():
        current = built.get(key)
        if current is not None and key not in covered and tuple(current.shape) != tuple(saved.shape):
            raise EdgepruneError(f"checkpoint tensor {key!r} has shape {list(saved.shape)} but the model builds "
                                 f"{list(current.shape)}, and pruning does not change its layer's width")


def _check_entry(modules: dict, name, entry) -> None:
    if not isinstance(entry, dict):
        raise EdgepruneError(f"checkpoint widths of layer {name!r} must be an object, not a {type(entry).__name__}")
    module = modules.get(name)
    if module is None:
        raise EdgepruneError(f"checkpoint layer {name!r} ({entry.get('type')}) does not exist in the rebuilt model")
    if type(module).__name__ != entry.get("type"):
        raise EdgepruneError(
            f"checkpoint layer {name!r} is a {entry.get('type')} but the rebuilt model has a {type(module).__name__}"
        )
    allowed = _attrs_for(module)
    for attr, value in entry.items():
        if attr == "type":
            continue
        if attr not in allowed or not hasattr(module, attr):
            known = ", ".join(a for a in allowed if hasattr(module, a)) or "none"
            raise EdgepruneError(f"checkpoint layer {name!r} records {attr!r}, which is not a width of a "
                                 f"{entry['type']} (widths: {known})")
        if attr == "normalized_shape":
            ok = isinstance(value, list) and value and all(_is_int(v) and v >= 1 for v in value)
        else:
            ok = _is_int(value) and value >= (0 if attr == "proj_size" else 1)
        if not ok:
            raise EdgepruneError(f"checkpoint layer {name!r}: {attr} = {value!r} is not a valid width")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expected_shapes(name: str, module: nn.Module, v: dict) -> dict[str, tuple]:
    """{parameter or buffer name: shape} that a layer of this type has with the widths `v`."""
    kind = kind_of(module)
    try:
        return kind.shapes(module, v) if kind is not None else {}
    except ValueError as exc:  # the kind found the widths inconsistent
        raise EdgepruneError(f"checkpoint layer {name!r}: {exc}") from None


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
