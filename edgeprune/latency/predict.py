"""Whole-model latency of a slim model predicted from the latency table.

`calibrated` (the default): the `product` model (edgeprune.latency.product: per-layer times from the table, a
layer cut on both sides charged the measured efficiency of both groups), blended with plain MAC proportion and its
interaction with the additive model scaled, both as the table's joint points say (edgeprune.latency.joint); a
table without joint points gets `product`, which reproduces every measured single-group point.

The older models stay selectable for comparison. `additive`: dense latency minus the sum of each group's measured
saving at its width; it double-counts the layers that two cut groups share (a conv whose input and output are
both cut keeps x_in * x_out of its MACs, not 1 - (1 - x_in) - (1 - x_out)), so it predicts too little time for
deep cuts.
`layers`: the dense time is split over the counted layers in proportion to their dense MACs;
a slim model's saving in each layer is its exact MAC saving (counted on the slim model, so shared layers are
right) times the measured efficiency of the groups that cut it: efficiency = measured saving of the group
alone / the MAC-proportional saving of the same single-group cut (interpolated between measured widths).
On every measured single-group point it reproduces the measurement exactly.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from edgeprune.errors import EdgepruneError
from edgeprune.latency.groups import root_width
from edgeprune.latency.table import LatencyTable, interpolate

MODELS = ("calibrated", "product", "layers", "additive")
_EFFICIENCY_RANGE = (0.0, 3.0)  # a noisy tiny saving divided by a tiny MAC share must not dominate


def layer_macs(model: nn.Module, example_inputs) -> dict[str, int]:
    """MACs of one forward pass per counted layer (conv, linear, LSTM), by qualified name."""
    from edgeprune.counting import counted
    from edgeprune.counting import layer_macs as macs_of

    out: dict[str, int] = {}
    handles = []
    for name, m in model.named_modules():
        if counted(m):
            def hook(mod, inp, res, name=name):
                out[name] = out.get(name, 0) + int(macs_of(mod, inp, res))
            handles.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*example_inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return out


def group_widths(table: LatencyTable, model: nn.Module) -> dict[str, int]:
    """The width of every table group in `model` (its root layer's output width)."""
    return {root: root_width(model, root) for root in table.groups}


def additive(table: LatencyTable, widths: dict[str, int], stat: str = "p50") -> float:
    return float(table.dense[stat]) - sum(table.saving(r, w, stat) for r, w in widths.items()
                                          if w < table.groups[r]["width"])


def _share(table: LatencyTable, root: str, macs: dict, stat: str) -> float:
    """Milliseconds a MAC-proportional split of the dense time would save with these layer MACs of `root`."""
    total = sum(table.layer_macs.values()) or 1
    dense = float(table.dense[stat])
    info = table.groups[root]
    layers = list(info["out_layers"]) + list(info["in_layers"])
    return sum(dense * (table.layer_macs[name] - macs.get(name, table.layer_macs[name])) / total
               for name in layers if table.layer_macs.get(name))


def efficiency(table: LatencyTable, root: str, width: int, stat: str = "p50") -> float:
    """Measured saving / MAC-proportional saving of group `root` alone, interpolated between measured widths."""
    pts = []
    for p in table.points(root):
        share = _share(table, root, p["layer_macs"], stat)
        if share > 0:
            eff = (float(p[f"dense_{stat}"]) - float(p[stat])) / share
            pts.append((int(p["width"]), min(max(eff, _EFFICIENCY_RANGE[0]), _EFFICIENCY_RANGE[1])))
    return interpolate(pts, width) if pts else 1.0


def layered(table: LatencyTable, widths: dict[str, int], macs: dict[str, int], stat: str = "p50") -> float:
    """The `layers` model: `macs` are the slim model's per-layer MACs (layer_macs of the slim model)."""
    total = sum(table.layer_macs.values()) or 1
    dense = float(table.dense[stat])
    weights: dict[str, list[tuple[float, float]]] = {}  # layer -> [(cut fraction of a group, its efficiency)]
    for root, w in widths.items():
        info = table.groups[root]
        if w >= info["width"]:
            continue
        eff = efficiency(table, root, w, stat)
        for name in list(info["out_layers"]) + list(info["in_layers"]):
            weights.setdefault(name, []).append((1.0 - w / info["width"], eff))
    saved = 0.0
    for name, pairs in weights.items():
        dense_macs = table.layer_macs.get(name)
        if not dense_macs:
            continue
        eff = sum(f * e for f, e in pairs) / sum(f for f, _ in pairs)
        saved += dense * (dense_macs - macs.get(name, dense_macs)) / total * eff
    return dense - saved


def by_macs(table: LatencyTable, macs: dict[str, int], stat: str = "p50") -> float:
    """Dense latency x the slim model's counted MACs / the dense model's (time follows MACs)."""
    return float(table.dense[stat]) * sum(macs.get(k, v) for k, v in table.layer_macs.items()) \
        / (sum(table.layer_macs.values()) or 1)


def calibrated(table: LatencyTable, widths: dict[str, int], macs: dict[str, int], stat: str = "p50") -> float:
    """The `calibrated` model: `product` blended with MAC proportion, its interaction scaled, as the table's joint
    points say (edgeprune.latency.joint); `product` itself for a table without joint points."""
    from edgeprune.latency import joint, product

    times = product.layer_times(table, stat)
    weight = joint.blend_weight(table, stat, lambda w, m: product.product(table, w, m, stat, times),
                                lambda m: by_macs(table, m, stat))

    def blend(w, m):
        return weight * product.product(table, w, m, stat, times) + (1.0 - weight) * by_macs(table, m, stat)

    points = joint.scale_points(table, stat, lambda w: product.additive(table, w, stat), blend)
    return joint.calibrated(table, product.additive(table, widths, stat), blend(widths, macs), points, stat)


def predict(table: LatencyTable, model: nn.Module, example_inputs, stat: str = "p50",
            how: str = "calibrated") -> float:
    """Predicted whole-model latency (ms, statistic `stat`) of `model`, a slim copy of the table's model."""
    if how not in MODELS:
        raise EdgepruneError(f"unknown latency model {how!r}; choose one of {', '.join(MODELS)}")
    widths = group_widths(table, model)
    if how == "additive":
        return additive(table, widths, stat)
    macs = layer_macs(model, example_inputs)
    if how == "layers":
        return layered(table, widths, macs, stat)
    if how == "product":
        from edgeprune.latency.product import product

        return product(table, widths, macs, stat)
    return calibrated(table, widths, macs, stat)
