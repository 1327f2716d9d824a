"""Exact channel -> column maps at reshapes/flattens (PITFALLS.md item 2).

torch-pruning assumes a flatten is channel-major (channel c -> columns c*F .. c*F+F-1); after
`permute(0, 2, 3, 1)` (frequency-major, column f*C + c) it silently removes the wrong LSTM inputs.
Here the recorded view/permute ops between the producing layer and the reshape are replayed on a tensor
of channel ids, which gives the true column set of every channel; reductions over other axes (a per-frame
encoder's spatial mean) are followed too. A reshape that mixes channels into another axis (an LSTM output
viewed as a one-channel image) is reported as opaque instead.
"""

from __future__ import annotations

import torch
import torch_pruning as tp
from torch_pruning import _helpers

from edgeprune.pruning.concat import feature_axis
from edgeprune.pruning.layers import channels_last
_SHAPE_OPS = {"permute", "transpose", "view", "reshape", "flatten", "squeeze", "unsqueeze", "contiguous",
              "swapaxes", "swapdims", "movedim", "unflatten", "_reshape_alias"}


_COPIES = {"CloneBackward0", "ContiguousBackward0"}
# Reductions over whole axes: where every reduced axis holds one channel per position (a per-frame encoder's
# `.mean((2, 3))` over space, before `reshape(B, T, K)` unfolds the frames from the batch), each output
# channel is a function of one input channel, so the channel map passes through.
_REDUCTIONS = {"mean", "sum", "amax", "amin", "nanmean", "nansum", "logsumexp", "std", "var", "norm"}


def _reduced_dims(rec) -> tuple[tuple[int, ...], bool] | None:
    """(reduced axes, keepdim) of a recorded reduction over named axes, or None (a full or unknown reduction)."""
    if _name(rec.func) not in _REDUCTIONS or not rec.in_shapes:
        return None
    ndim = len(rec.in_shapes[0])
    pos = 2 if _name(rec.func) == "norm" else 1  # norm(input, p, dim, keepdim)
    dims = rec.kwargs.get("dim", rec.args[pos] if len(rec.args) > pos else None)
    if dims is None or isinstance(dims, str):
        return None
    dims = tuple(d % ndim for d in ((dims,) if isinstance(dims, int) else dims))
    keep = rec.kwargs.get("keepdim", rec.args[pos + 1] if len(rec.args) > pos + 1 else False)
    return (dims, bool(keep)) if all(isinstance(d, int) for d in dims) else None


class ColumnMapping:
    """Channel -> columns (forward) or column -> channel (reverse), in torch-pruning's index-mapping protocol."""

    def __init__(self, columns: list[list[int]], channel_of: list[int], reverse: bool):
        self.columns, self.channel_of, self.reverse = columns, channel_of, reverse

    def __call__(self, idxs):
        if self.reverse:
            seen, out = set(), []
            for i in idxs:
                c = self.channel_of[i.idx]
                if (c, i.root_idx) not in seen:
                    seen.add((c, i.root_idx))
                    out.append(_helpers._HybridIndex(idx=c, root_idx=i.root_idx))
            return out
        return [_helpers._HybridIndex(idx=j, root_idx=i.root_idx) for i in idxs for j in self.columns[i.idx]]


def _name(func) -> str:
    return getattr(func, "__name__", str(func))


def _chain(node, recorder):
    """Recorded shape ops from the producing layer to `node` (inclusive), that layer's node, the nodes passed."""
    ops, cur, passed = [], node, []
    while True:
        if channels_last(cur.module) is not None:
            return list(reversed(ops)), cur, passed
        rec = recorder.ops.get(cur.grad_fn)
        if rec is None and len(cur.inputs) == 1 and cur.grad_fn.name() in _COPIES:
            passed.append(cur)  # the copy `reshape` makes of a non-contiguous tensor: same shape and order
            cur = cur.inputs[0]
            continue
        if rec is None or not cur.inputs:
            return None, None, passed
        if len(cur.inputs) > 1 and any(tuple(s) != rec.out_shape for s in rec.in_shapes):
            return None, None, passed  # only a same-shape element-wise join (residual add) keeps the channel axis
        if _name(rec.func) in _SHAPE_OPS or _reduced_dims(rec) is not None:
            ops.append(rec)
        elif not rec.in_shapes or len(rec.in_shapes[0]) != len(rec.out_shape):
            return None, None, passed  # a reduction that drops an axis: not followed
        elif tuple(rec.in_shapes[0]) != rec.out_shape:
            ops.append(rec)  # pooling/resizing: other axes change size, the channel axis must not
        passed.append(cur)
        cur = cur.inputs[0]


def _replay(ops, producer) -> torch.Tensor | None:
    first = ops[0].in_shapes[0]
    axis = len(first) - 1 if channels_last(producer.module) else 1
    shape = [1] * len(first)
    shape[axis] = first[axis]
    ids = torch.arange(first[axis]).reshape(shape).expand(*first)
    for rec in ops:
        if _name(rec.func) in _SHAPE_OPS:
            ids = rec.func(*((ids,) + tuple(rec.args[1:])), **rec.kwargs)
            continue
        reduced = _reduced_dims(rec)
        if reduced is not None:
            if not bool((ids.amax(reduced[0], keepdim=True) == ids.amin(reduced[0], keepdim=True)).all()):
                return None  # the reduction mixes channels
            ids = ids.amax(reduced[0], keepdim=reduced[1])
            continue
        varying = [a for a in range(ids.dim()) if ids.shape[a] > 1 and not bool((ids == ids.narrow(a, 0, 1)).all())]
        if len(varying) != 1 or rec.out_shape[varying[0]] != ids.shape[varying[0]]:
            return None
        a = varying[0]
        shape = [1] * ids.dim()
        shape[a] = ids.shape[a]
        ids = ids.narrow(a, 0, ids.shape[a]).amax(dim=tuple(d for d in range(ids.dim()) if d != a), keepdim=True)
        ids = ids.reshape(shape).expand(*rec.out_shape)
    return ids


def _pure(ids: torch.Tensor, axis: int) -> bool:
    cols = ids.movedim(axis, 0).reshape(ids.shape[axis], -1)
    return bool((cols == cols[:, :1]).all()) and (ids.shape[axis] > 1 or int(ids.max()) == 0)


def _channel_axis(ids: torch.Tensor, preferred: int) -> int | None:
    """The axis that holds exactly one channel per position (the consumer's axis first), if any."""
    if _pure(ids, preferred):
        return preferred
    pure = [a for a in range(ids.dim()) if _pure(ids, a)]
    return pure[0] if len(pure) == 1 else None


def fix(dg, recorder, opaque: dict) -> None:
    """Install exact channel maps on reshape nodes (in place); unmappable ones go into `opaque`."""
    reshapes = [n for n in dg.module2node.values() if n.type == tp.ops.OPTYPE.RESHAPE]
    chains = {n: _chain(n, recorder) for n in reshapes}
    inner = {m for n in reshapes for m in chains[n][2][1:] if m in chains}
    for node in inner:  # the last reshape of a chain maps from the layer itself; earlier ones pass through
        node.type = tp.ops.OPTYPE.ELEMENTWISE
        for dep in node.dependencies + [d for i in node.inputs for d in i.dependencies if d.target is node]:
            dep.index_mapping[0] = None
    for node in reshapes:
        if node in inner:
            continue
        ops, producer, _ = chains[node]
        if node.grad_fn not in recorder.ops:
            continue  # a view inside a layer's kernel (linear on 3-D input): keep torch-pruning's map, the probe checks it
        if not ops:
            opaque[node] = "channels pass through a reshape whose source layer could not be followed"
            continue
        ids = _replay(ops, producer)
        if ids is None:
            opaque[node] = "channels pass through a resize that changes the channel axis before a reshape"
            continue
        width = ops[0].in_shapes[0][-1 if channels_last(producer.module) else 1]
        axis = _channel_axis(ids, feature_axis(node, ids.dim()))
        if axis is None:
            opaque[node] = "channels pass through a reshape that mixes channels with another axis"
            continue
        cols = ids.movedim(axis, 0).reshape(ids.shape[axis], -1)
        channel_of = cols[:, 0].tolist()
        columns = [[] for _ in range(width)]
        for j, c in enumerate(channel_of):
            columns[c].append(j)
        # Freeze: torch-pruning re-derives reshape maps (channel-major only) before every group query.
        node.type = tp.ops.OPTYPE.ELEMENTWISE
        in_node = node.inputs[0]
        for dep in node.dependencies:
            if dep.target is in_node:
                dep.index_mapping[0] = ColumnMapping(columns, channel_of, reverse=True)
        for dep in in_node.dependencies:
            if dep.target is node:
                dep.index_mapping[0] = ColumnMapping(columns, channel_of, reverse=False)
