"""The PITFALLS.md item 10 self-check, layer by layer: a cut must leave every layer it touches computing what
that layer computes in the unpruned model with the removed channels zeroed where they are produced.

The reference zeroes channels where they are *produced* (each layer kind's `zeroed`: the output channel of a
filter or BatchNorm, the cell gate of an LSTM unit, a user kind's own rule), so it shares no index mapping of the consumers with the pruner, and a wrongly
mapped consumer shows up at that consumer. Comparing only the final output is not enough: on untrained
weights with tied BatchNorm statistics it is almost constant, and an off-by-one consumer passed with a
difference of 1e-13. So the output of every layer whose inputs change is compared, relative to its own
scale, and in both runs every BatchNorm adds a fixed random level per channel (folded into its bias): each
channel then carries its own level even where the running statistics shrink the activations to nothing or a
later mean cancels them, so a consumer that reads a neighbouring channel shows it. The equality holds for
any BatchNorm bias, so this changes what is measured, not what must be equal. Both runs use the model
itself, in its own dtype (no copy); the pruner re-measures a float32 failure in float64 before refusing.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

from edgeprune.counting import counted, layer_macs
from edgeprune.kinds import kind_of
from edgeprune.pruning import layers

LIMIT = 1e-5  # relative difference above which a prune is wrong


def flat(out) -> list[torch.Tensor]:
    """The tensors of a (nested) module output, in order."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in flat(v)]
    if isinstance(out, (list, tuple)):
        return [t for v in out for t in flat(v)]
    return []


def channel_axis(m: nn.Module, t: torch.Tensor) -> int:
    """The axis of `m`'s output that holds its output channels."""
    return kind_of(m).out_axis(m, t)


def relative(ref: list[torch.Tensor], got: list[torch.Tensor], floor: float = 0.0) -> float:
    """max |ref - got| / max(max |ref|, floor) over a list of tensors (inf when shapes differ or a value is NaN).

    `floor` lets a model output that is small next to the layer feeding it (a logit near 0 after a max over
    time) be measured on that layer's scale, where float32 rounding of the layer shows, not on its own.
    """
    if len(ref) != len(got) or any(a.shape != b.shape for a, b in zip(ref, got)):
        return float("inf")
    num = max((float(torch.sub(a, b).abs_().amax()) for a, b in zip(ref, got) if a.numel()), default=0.0)
    den = max([floor] + [float(a.abs().amax()) for a in ref if a.numel()])
    if num != num:
        return float("inf")
    return num / den if den > 0 else num


@contextlib.contextmanager
def levelled(model: nn.Module, offsets: dict):
    """Run `model` in eval mode with `offsets[bn]` (one value per channel) added to every BatchNorm's output.

    The offset is folded into the BatchNorm's bias for the run (no extra pass over the activations); the
    original parameter objects and every module's mode are put back afterwards.
    """
    modes = [(m, m.training) for m in model.modules()]
    saved, handles = [], []

    def shift(m, args, out):  # a BatchNorm without affine has no bias to fold the offset into
        view = [1] * out.dim()
        view[min(1, out.dim() - 1)] = -1
        return out + offsets[m].to(out).view(view)

    try:
        model.eval()
        for m, table in offsets.items():
            if m.affine:
                saved.append((m, m._parameters["bias"]))
                m._parameters["bias"] = m.bias.detach() + table.to(m.bias)
            else:
                handles.append(m.register_forward_hook(shift))
        with torch.no_grad():
            yield
    finally:
        for h in handles:
            h.remove()
        for m, bias in saved:
            m._parameters["bias"] = bias
        for m, t in modes:
            m.training = t


class Reference:
    """The unpruned model with the channels `ops` remove zeroed: the outputs of every touched layer and of the model.

    Run it before the cut (`Reference(model, ops, inputs)`), cut, then `compare(model)` runs the pruned model
    through the same layers. Both runs also count MACs (`.macs`), so the pruner needs no extra forward to count.
    """

    def __init__(self, model: nn.Module, ops, inputs, seed: int = 0):
        self.inputs = inputs
        self.removed = {op["layer"]: torch.tensor(op["idxs"], dtype=torch.long) for op in ops if op["axis"] == "out"}
        self.names = sorted({op["layer"] for op in ops if op["axis"] == "in"})  # the layers whose inputs change
        self.layers: dict[str, list[list[torch.Tensor]]] = {n: [] for n in self.names}
        self.last_scale = 0.0  # of the last compared layer output: the model output is measured against it too
        g = torch.Generator().manual_seed(seed)
        self.offsets = {n: torch.rand(m.num_features, generator=g, dtype=torch.float64) + 0.2
                        for n, m in model.named_modules() if isinstance(m, layers._BN)}
        with contextlib.ExitStack() as stack:
            self.outputs, self.macs = _run(model, inputs, stack, self._offsets(model, pruned=False),
                                           lambda: self._hooks(model, stack))

    def _offsets(self, model: nn.Module, pruned: bool) -> dict:
        """Each BatchNorm's offsets: removed channels get none (reference) or are left out (pruned run)."""
        out = {}
        for name, table in self.offsets.items():
            idx = self.removed.get(name)
            if idx is not None and len(idx):
                table = table[_complement(idx, len(table))] if pruned else table.index_fill(0, idx, 0.0)
            out[model.get_submodule(name)] = table
        return out

    def _hooks(self, model: nn.Module, stack: contextlib.ExitStack) -> None:
        handles = []
        stack.callback(lambda: [h.remove() for h in handles])
        for name, idx in self.removed.items():
            m = model.get_submodule(name)
            stack.enter_context(kind_of(m).zeroed(m, idx))  # where the channel is produced, as its kind says
        for name in self.names:
            handles.append(model.get_submodule(name).register_forward_hook(self._keep(name)))

    def _keep(self, name):
        idx = self.removed.get(name)

        def hook(m, args, out):
            ts = flat(out)
            if idx is not None and len(idx):
                keep = _complement(idx, ts[0].shape[channel_axis(m, ts[0])])
                ts = [t.index_select(channel_axis(m, t), keep.to(t.device)) for t in ts]
            self.layers[name].append([t.detach() for t in ts])
            self.last_scale = max((float(t.abs().amax()) for t in ts if t.numel()), default=0.0)
        return hook

    def compare(self, model: nn.Module) -> tuple[float, str | None, int]:
        """(max relative difference, the layer where it is largest (None: the model output), MACs) for the cut model."""
        worst = [0.0, None]
        calls = {n: 0 for n in self.names}

        def note(diff, where):
            if not diff <= worst[0]:  # NaN and inf count as worst
                worst[0], worst[1] = diff, where

        def hook_for(name):
            def hook(m, args, out):
                k = calls[name]
                calls[name] += 1
                ref = self.layers[name][k] if k < len(self.layers[name]) else None
                note(float("inf") if ref is None else relative(ref, flat(out)), name)
            return hook

        def hooks(stack):
            handles = [model.get_submodule(n).register_forward_hook(hook_for(n)) for n in self.names]
            stack.callback(lambda: [h.remove() for h in handles])

        with contextlib.ExitStack() as stack:
            outputs, macs = _run(model, self.inputs, stack, self._offsets(model, pruned=True), lambda: hooks(stack))
        for name in self.names:
            if calls[name] != len(self.layers[name]):
                note(float("inf"), name)
        out_diff = relative(self.outputs, outputs, floor=self.last_scale)
        if not out_diff <= worst[0]:
            worst = [out_diff, None]
        return float(worst[0]), worst[1], macs


def _complement(idx: torch.Tensor, width: int) -> torch.Tensor:
    mask = torch.ones(width, dtype=torch.bool)
    mask[idx] = False
    return mask.nonzero().flatten()


def _run(model: nn.Module, inputs, stack: contextlib.ExitStack, offsets: dict, add_hooks) -> tuple[list, int]:
    """The model's outputs, levelled (BatchNorm offsets first, then `add_hooks()`), and the MACs of its layers."""
    macs = [0]

    def count(m, args, out):
        macs[0] += layer_macs(m, args, out)

    stack.enter_context(levelled(model, offsets))
    add_hooks()
    handles = [m.register_forward_hook(count) for m in model.modules() if counted(m)]
    stack.callback(lambda: [h.remove() for h in handles])
    return [t.detach() for t in flat(model(*inputs))], macs[0]
