"""The `product` latency model: per-layer times from the table, each layer's slim time its exact MAC fraction times
the measured efficiency of every group that cuts it (so a layer cut on both sides is charged both).

Every counted layer that a group touches gets a dense time: its share of the dense time by MACs, raised where the
table's single-group savings need more (a group cannot save more than its layers take: tv-audio's LSTM, half of
the MACs, saves three quarters of the time cut alone). Group g cut alone to width w leaves its layers a measured
remaining time R_g(w) = T_g - S_g(w) (T_g: the group's layers' time; S_g: the measured saving, taken relative to
the dense run of the same batch); dividing by the time its layers would keep if time followed MACs gives the
group's efficiency e_g(w) (above 1 where narrow kernels run slower per MAC). A slim model's layer l then takes
t_l * MACs_l(slim) / MACs_l(dense) * prod(e_g for the groups cutting l), and the model T0 + sum over layers, T0 the
time outside the counted layers. On every measured single-group point this reproduces the measurement.
"""

from __future__ import annotations

from edgeprune.latency.table import LatencyTable, interpolate

_EFFICIENCY_MAX = 10.0  # a noisy saving near a layer's whole time must not make one layer dominate


def saving(table: LatencyTable, root: str, width: int, stat: str = "p50") -> float:
    """Ms saved by cutting `root` alone to `width`: each point's saving as a share of its own run's dense
    latency, times the table's dense (run-to-run drift of the machine cancels), interpolated between widths."""
    dense = float(table.dense[stat])
    g = table.groups[root]
    pts = [(int(g["width"]), 0.0)] + [(int(p["width"]), dense * (1.0 - float(p[stat]) / float(p[f"dense_{stat}"])))
                                       for p in g["points"] if float(p[f"dense_{stat}"]) > 0]
    return interpolate(pts, width)


def additive(table: LatencyTable, widths: dict[str, int], stat: str = "p50") -> float:
    """Dense minus the sum of the single-group savings (relative, as `saving`): no interaction at all."""
    return float(table.dense[stat]) - sum(saving(table, r, w, stat) for r, w in widths.items()
                                          if w < int(table.groups[r]["width"]))


def _layers(table: LatencyTable, root: str) -> list[str]:
    info = table.groups[root]
    return [n for n in dict.fromkeys(list(info["out_layers"]) + list(info["in_layers"])) if table.layer_macs.get(n)]


def _single_macs(table: LatencyTable, root: str, width: int) -> dict[str, float]:
    """MACs of the group's layers with the group alone at `width` (interpolated between measured widths)."""
    g = table.groups[root]
    out = {}
    for name in _layers(table, root):
        dense = float(table.layer_macs[name])
        pts = [(int(g["width"]), dense)] + [(int(p["width"]), float(p["layer_macs"].get(name, dense)))
                                            for p in g["points"]]
        out[name] = interpolate(pts, width)
    return out


def layer_times(table: LatencyTable, stat: str = "p50") -> dict[str, float]:
    """Dense ms per counted layer touched by a group: the MAC share, raised where a group's measured savings
    exceed what that share could save (the group's layers scaled up together), the total kept within dense."""
    dense = float(table.dense[stat])
    total = sum(table.layer_macs.values()) or 1
    times = {n: dense * float(m) / total for root in table.groups for n in _layers(table, root)
             for m in [table.layer_macs[n]]}
    for _ in range(3):  # raising one group's layers changes its neighbours' shares: settle in a few passes
        for root, g in table.groups.items():
            names = _layers(table, root)
            held = sum(times[n] for n in names)
            if held <= 0:
                continue
            need = held
            for p in g["points"]:
                saved_share = sum(times[n] * (1.0 - float(p["layer_macs"].get(n, table.layer_macs[n]))
                                              / float(table.layer_macs[n])) for n in names) / held
                if saved_share > 0:
                    need = max(need, saving(table, root, int(p["width"]), stat) / saved_share)
            for n in names:
                times[n] *= need / held
        held_all = sum(times.values())
        if held_all > dense:
            times = {n: t * dense / held_all for n, t in times.items()}
    return times


def efficiency(table: LatencyTable, root: str, width: int, times: dict, stat: str = "p50") -> float:
    """Measured remaining time of the group's layers / the time they would keep if time followed MACs."""
    macs = _single_macs(table, root, width)
    held = sum(times[n] for n in macs)
    kept = sum(times[n] * macs[n] / float(table.layer_macs[n]) for n in macs)
    if kept <= 0:
        return 1.0
    remaining = max(0.0, held - saving(table, root, width, stat))
    return min(remaining / kept, _EFFICIENCY_MAX)


def product(table: LatencyTable, widths: dict[str, int], macs: dict[str, int], stat: str = "p50",
            times: dict | None = None) -> float:
    """Predicted ms of a slim model: group `widths` and the slim model's per-layer MACs (layer_macs)."""
    times = layer_times(table, stat) if times is None else times
    dense = float(table.dense[stat])
    total = dense - sum(times.values())
    factor = {n: float(macs.get(n, table.layer_macs[n])) / float(table.layer_macs[n]) for n in times}
    for root, w in widths.items():
        if w >= int(table.groups[root]["width"]):
            continue
        e = efficiency(table, root, w, times, stat)
        for n in _layers(table, root):
            factor[n] *= e
    return total + sum(times[n] * factor[n] for n in times)
