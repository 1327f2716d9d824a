"""Joint cuts in the latency table: every group at once at a few keep fractions, measured beside the single-group
points, and the calibration of a prediction on them.

Single-group points cannot tell how the time of a layer cut on both sides splits between its input and output,
nor whether the model's time still follows them when everything shrinks at once (tv-audio, 0.3 ms: its LSTM cut
alone saves three quarters of the time and its first conv alone a quarter, yet cut together the model's time
follows its MACs). The joint points decide, in two steps: (1) the weight of the `product` model against plain MAC
proportion (dense x MACs / dense MACs), least squares over the joint points, clipped to [0, 1]; (2) the blend's
interaction (its prediction minus the additive one) scaled by the factor that matches each joint point,
interpolated between joint points by predicted saved share and held beyond them. With weight 1 single-group cuts
keep their measured figures (they have no interaction).
"""

from __future__ import annotations

from edgeprune.latency.table import LatencyTable, interpolate

KEEP = (0.75, 0.5, 0.3)  # kept fractions of the joint points (a fourth at 0.2 made misp-audio's WSR 0.8 worse)
LABEL = "*joint"  # cache label prefix (no layer name starts with '*')
_SCALE_RANGE = (0.0, 4.0)


UNALIGNED = 8  # without --align, joint widths avoid multiples of this


def widths(groups: dict, keep: float, align: int = 0) -> dict[str, int]:
    """Every group at `keep` of its width: with `align`, the nearest multiple of it (at least align); without, the
    nearest width that is not a multiple of 8 (one channel narrower if it is), as a cut without round_to mostly
    lands: kernels step at multiples of 8 and 16, and joint points at aligned widths taught the calibration the
    fast case (misp-audio's slim models at unaligned widths ran 20 % slower than so predicted)."""
    out = {}
    for root, g in groups.items():
        full = int(g["width"])
        w = max(1, int(round(keep * full)))
        if align:
            w = max(align, int(round(w / align)) * align)
        elif w % UNALIGNED == 0 and w > 1:
            w -= 1
        out[root] = min(w, full)
    return out


def label(keep: float, align: int = 0) -> str:
    return f"{LABEL}@{keep:g}/{int(align)}"


def blend_weight(table: LatencyTable, stat: str, product, by_macs) -> float:
    """Weight of `product(widths, macs)` against `by_macs(macs)` that fits the joint points best (relative error,
    least squares), in [0, 1]; 1 without joint points."""
    dense = float(table.dense[stat])
    num = den = 0.0
    for j in table.joints:
        measured = dense * float(j[stat]) / float(j[f"dense_{stat}"])
        a, b = product(j["widths"], j["layer_macs"]), by_macs(j["layer_macs"])
        num += (a - b) * (measured - b) / measured ** 2
        den += (a - b) ** 2 / measured ** 2
    return min(max(num / den, 0.0), 1.0) if den > 0 else 1.0


def scale_points(table: LatencyTable, stat: str, additive, product) -> list[tuple[float, float]]:
    """(predicted saved share, interaction scale) per joint point of the table; `additive(widths)` and
    `product(widths, macs)` are the two uncalibrated predictions."""
    dense = float(table.dense[stat])
    out = []
    for j in table.joints:
        measured = dense * float(j[stat]) / float(j[f"dense_{stat}"])
        add, prod = additive(j["widths"]), product(j["widths"], j["layer_macs"])
        if abs(prod - add) < 1e-6 * dense:
            continue
        s = min(max((measured - add) / (prod - add), _SCALE_RANGE[0]), _SCALE_RANGE[1])
        out.append((1.0 - prod / dense, s))
    return out


def calibrated(table: LatencyTable, add: float, prod: float, points: list[tuple[float, float]],
               stat: str = "p50") -> float:
    """The prediction with its interaction (prod - add) scaled as at the joint points of similar depth."""
    if not points:
        return prod
    share = 1.0 - prod / float(table.dense[stat])
    return add + interpolate(points, share) * (prod - add)
