"""Per-layer widths as data: capture them from a (pruned) model, check them, and re-shape a fresh build to them.

A pruned model differs from its dense build only in layer widths, so "dense build + recorded widths +
state dict" rebuilds it without pickling the module (PITFALLS.md item 8). Only the width attributes of the
layer types the pruner changes may be set, and only to values that agree with the saved tensor shapes.
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


_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _expected_shapes(name: str, module: nn.Module, v: dict) -> dict[str, tuple]:
    """{parameter or buffer name: shape} that a layer of this type has with the widths `v`."""

    def bad(why):
        return EdgepruneError(f"checkpoint layer {name!r}: {why}")

    shapes = {}
    if isinstance(module, nn.modules.conv._ConvNd):
        i, o, g = v["in_channels"], v["out_channels"], v["groups"]
        if i % g or o % g:
            raise bad(f"groups {g} does not divide in_channels {i} and out_channels {o}")
        k = tuple(module.kernel_size)
        shapes["weight"] = (i, o // g, *k) if module.transposed else (o, i // g, *k)
        if module.bias is not None:
            shapes["bias"] = (o,)
    elif isinstance(module, nn.modules.batchnorm._NormBase):
        n = v["num_features"]
        if module.affine:
            shapes.update(weight=(n,), bias=(n,))
        if module.track_running_stats:
            shapes.update(running_mean=(n,), running_var=(n,))
    elif isinstance(module, nn.Linear):
        shapes["weight"] = (v["out_features"], v["in_features"])
        if module.bias is not None:
            shapes["bias"] = (v["out_features"],)
    elif isinstance(module, nn.Bilinear):
        shapes["weight"] = (v["out_features"], v["in1_features"], v["in2_features"])
        if module.bias is not None:
            shapes["bias"] = (v["out_features"],)
    elif isinstance(module, nn.RNNBase):
        gates, hidden, proj = _GATES.get(module.mode, 1) * v["hidden_size"], v["hidden_size"], v.get("proj_size", 0)
        if proj and proj >= hidden:
            raise bad(f"proj_size {proj} must be smaller than hidden_size {hidden}")
        out = proj or hidden
        dirs = 2 if module.bidirectional else 1
        for layer in range(module.num_layers):
            for sfx in ("", "_reverse")[:dirs]:
                shapes[f"weight_ih_l{layer}{sfx}"] = (gates, v["input_size"] if layer == 0 else out * dirs)
                shapes[f"weight_hh_l{layer}{sfx}"] = (gates, out)
                if module.bias:
                    shapes[f"bias_ih_l{layer}{sfx}"] = shapes[f"bias_hh_l{layer}{sfx}"] = (gates,)
                if proj:
                    shapes[f"weight_hr_l{layer}{sfx}"] = (proj, hidden)
    elif isinstance(module, nn.LayerNorm):
        ns = tuple(v["normalized_shape"])
        if module.weight is not None:
            shapes["weight"] = ns
        if module.bias is not None:
            shapes["bias"] = ns
    elif isinstance(module, nn.GroupNorm):
        c, g = v["num_channels"], v["num_groups"]
        if c % g:
            raise bad(f"num_groups {g} does not divide num_channels {c}")
        if module.affine:
            shapes.update(weight=(c,), bias=(c,))
    elif isinstance(module, nn.PReLU):
        shapes["weight"] = (v["num_parameters"],)
    elif isinstance(module, nn.Embedding):
        shapes["weight"] = (v["num_embeddings"], v["embedding_dim"])
    return shapes


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
