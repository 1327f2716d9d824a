"""Per-group widths the runtime's kernels like: each pruned group moved up to the widest nearby width at which the
layers it touches, each timed alone in onnxruntime (one-layer models, thread CPU clock), are no slower.

onnxruntime (1.32, AVX-512) runs a Conv in its blocked NCHWc layout only when the input channels are fewer than
the block (16) or a multiple of 4, and pads the output channels up to a multiple of 16: a width just past a
step costs as much as the next step, and a width that is not a multiple of 4 falls back to the im2col path.
Not a fixed `round_to`: the width is chosen per group from what its own layers measure on this machine.
"""

from __future__ import annotations

import math
import time

import torch.nn as nn

from edgeprune.errors import EdgepruneError


def candidates(wanted: int, full: int, block: int = 16, step: int = 4) -> list[int]:
    """Widths to try for a group cut to `wanted` of `full` channels: `wanted` and the multiples of `step` above
    it up to the next multiple of `block` (never above `full`, which is tried when it lies in that range)."""
    if not (isinstance(wanted, int) and isinstance(full, int) and 1 <= wanted <= full):
        raise EdgepruneError(f"wanted width must be an integer from 1 to {full}, got {wanted!r}")
    top = min(full, int(math.ceil(wanted / block) * block))
    return sorted({wanted, top, *range(int(math.ceil(wanted / step) * step), top + 1, step)})


def layer_inputs(model: nn.Module, example) -> dict[str, tuple]:
    """{layer name: input shape} of every Conv/Linear/LSTM call in one forward pass of `model`."""
    import torch

    shapes, hooks = {}, []

    def record(name):
        def hook(module, inp, out):  # returns None: the output is left as it is
            shapes.setdefault(name, tuple(inp[0].shape))
        return hook

    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.LSTM)):
            hooks.append(m.register_forward_hook(record(name)))
    try:
        with torch.inference_mode():
            model(*example)
    finally:
        for h in hooks:
            h.remove()
    return shapes


def layer_model(module: nn.Module, shape: tuple, cin: int, cout: int) -> bytes | None:
    """A one-layer ONNX model of `module`'s kind at `cin` -> `cout` on an input of `shape` (its channel axis set to
    cin); None for layers this does not model (grouped convs other than depthwise ones). A depthwise conv (groups =
    in = out channels, MobileNetV2's) is modelled at min(cin, cout) with groups = that: onnxruntime's depthwise kernel
    is ~3x slower at widths that are not a multiple of 4 (1 thread here: 32x95x22x22 3.2 ms, x96 1.0 ms)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from edgeprune.latency.nodes import conv_model

    rng = np.random.default_rng(0)
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        depthwise = module.groups == module.in_channels == module.out_channels > 1
        if module.groups != 1 and not depthwise:
            return None
        if depthwise:  # one width: a group sets it from one side, the other side still reads the uncut width
            cin = cout = min(cin, cout)
        nd = len(module.kernel_size)
        pads = list(module.padding) if isinstance(module.padding, tuple) else None
        if pads is None:
            return None  # padding="same"/"valid" strings: not modelled
        conv = {"in": cin, "out": cout, "kernel": list(module.kernel_size), "group": cin if depthwise else 1,
                "strides": list(module.stride),
                "pads": pads + pads, "dilations": list(module.dilation), "bias": module.bias is not None}
        return conv_model(conv, shape[0], list(shape[2:2 + nd]))
    if isinstance(module, nn.Linear):
        rows = math.prod(shape[:-1])
        w = numpy_helper.from_array(rng.standard_normal((cin, cout)).astype(np.float32), "W")
        b = numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), "B")
        node = helper.make_node("Gemm", ["x", "W", "B"], ["y"], name="fc")
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, cin])
        inits = [w, b]
    elif isinstance(module, nn.LSTM):
        if module.num_layers != 1 or module.bidirectional:
            return None
        b_, t = (shape[0], shape[1]) if module.batch_first else (shape[1], shape[0])
        h = cout
        inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32) * 0.1, n)
                 for n, s in (("W", (1, 4 * h, cin)), ("R", (1, 4 * h, h)), ("B", (1, 8 * h)))]
        node = helper.make_node("LSTM", ["x", "W", "R", "B"], ["y"], name="lstm", hidden_size=h)
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [t, b_, cin])
    else:
        return None
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([node], "layer", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


class LayerTimer:
    """Thread-CPU milliseconds (min over `runs`) of one layer alone at given widths, memoised."""

    def __init__(self, model: nn.Module, example, runs: int = 10, threads: int = 1):
        self.modules = dict(model.named_modules())
        self.shapes = layer_inputs(model, example)
        self.runs, self.threads, self.memo = runs, threads, {}
        self.measured = 0

    def widths(self, name: str) -> tuple[int, int]:
        """(in, out) of layer `name` as it is now."""
        m = self.modules[name]
        if isinstance(m, nn.Linear):
            return m.in_features, m.out_features
        if isinstance(m, nn.LSTM):
            return m.input_size, m.hidden_size
        return m.in_channels, m.out_channels

    def ms(self, name: str, cin: int, cout: int) -> float:
        """Time of layer `name` at cin -> cout; 0.0 for a layer not modelled (it then never decides a width)."""
        key = (name, cin, cout)
        if key not in self.memo:
            self.memo[key] = self._measure(name, cin, cout)
        return self.memo[key]

    def _measure(self, name: str, cin: int, cout: int) -> float:
        import numpy as np

        from edgeprune.latency.nodes import session

        if name not in self.shapes:
            return 0.0
        blob = layer_model(self.modules[name], self.shapes[name], cin, cout)
        if blob is None:
            return 0.0
        sess = session(blob, self.threads)
        arg = sess.get_inputs()[0]
        x = np.random.default_rng(0).standard_normal(arg.shape).astype(np.float32)
        sess.run(None, {arg.name: x})
        best = float("inf")
        for _ in range(self.runs):
            t0 = time.thread_time()
            sess.run(None, {arg.name: x})
            best = min(best, (time.thread_time() - t0) * 1e3)
        self.measured += 1
        return best


def choose(groups: dict, widths: dict[str, int], timer: LayerTimer, tolerance: float = 0.0,
           block: int = 16, step: int = 4, passes: int = 4) -> tuple[dict[str, int], dict]:
    """Widths at or above the wanted ones (`widths` = {root: wanted}, `groups` = {root: GroupInfo}) that minimise
    the time of the layers the groups touch, each layer timed alone at its in/out widths; among widths within
    `tolerance` of the fastest, the widest (channels that cost no time are kept). Coordinate descent over the
    groups (each group's candidates, the others held), from the wanted widths and from every group at the top of
    its range (two layers may only be fast together: a conv's input and output both aligned), the faster end
    point kept. Every step lowers (or keeps) the total, so the result is no slower than the wanted widths by the
    same measurements. Returns the widths and {"groups": [...], "ms_wanted", "ms_chosen", "layers_timed"}."""
    layer_out = {layer: root for root, g in groups.items() for layer in g.out_layers}
    layer_in = {layer: root for root, g in groups.items() for layer in g.in_layers}
    touched = {root: list(dict.fromkeys(groups[root].out_layers + groups[root].in_layers)) for root in widths}
    options = {root: candidates(w, int(groups[root].width), block, step) for root, w in widths.items()}

    def layer_ms(layer: str, assign: dict) -> float:
        cin, cout = timer.widths(layer)
        cin = assign.get(layer_in.get(layer), cin)
        cout = assign.get(layer_out.get(layer), cout)
        return timer.ms(layer, cin, cout)

    def cost(layers, assign: dict) -> float:
        return sum(layer_ms(layer, assign) for layer in layers)

    every = list(dict.fromkeys(layer for root in widths for layer in touched[root]))

    def descend(start: dict) -> dict:
        cur = dict(start)
        for _ in range(passes):
            changed = False
            for root in widths:
                costs = {w: cost(touched[root], {**cur, root: w}) for w in options[root]}
                low = min(costs.values())
                best = max(w for w, c in costs.items() if c <= low * (1.0 + tolerance))
                if costs[best] < costs[cur[root]] or (best > cur[root] and costs[best] <= costs[cur[root]]):
                    cur[root], changed = best, True
            if not changed:
                break
        return cur

    ends = [descend(dict(widths)), descend({root: opts[-1] for root, opts in options.items()})]
    totals = [cost(every, e) for e in ends]
    low = min(totals)
    chosen = max((e for e, t in zip(ends, totals) if t <= low * (1.0 + tolerance)), key=lambda e: sum(e.values()))
    records = [{"group": root, "full": int(groups[root].width), "wanted": w, "chosen": chosen[root],
                "candidates": options[root]} for root, w in widths.items()]
    return chosen, {"groups": records, "ms_wanted": cost(every, dict(widths)), "ms_chosen": cost(every, chosen),
                    "layers_timed": timer.measured}
