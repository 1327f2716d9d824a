"""Joint cuts in the latency table: every group at once at a few keep fractions, measured beside the single-group
points, and the calibration of a prediction on them.

Single-group points cannot tell how the time of a layer cut on both sides splits between its input and output
(nor how much a small model's time falls when everything shrinks at once: on a loaded machine a smaller working
set runs faster everywhere). The joint points measure it: the `product` model's predicted interaction (its
prediction minus the additive one) is scaled by the factor that makes it match each joint point, interpolated
between the joint points by predicted saved share and held beyond them. Single-group cuts keep their measured
figures (they have no interaction).
"""

from __future__ import annotations

from edgeprune.latency.table import LatencyTable, interpolate

KEEP = (0.75, 0.5, 0.3)  # keep fractions of the joint points (WSR about 0.45, 0.75, 0.9 for a chain of groups)
LABEL = "*joint"  # cache label prefix (no layer name starts with '*')
_SCALE_RANGE = (0.0, 4.0)


def widths(groups: dict, keep: float, align: int = 0) -> dict[str, int]:
    """Every group at `keep` of its width (at least 1; with `align`, the nearest multiple of it, at least align)."""
    out = {}
    for root, g in groups.items():
        full = int(g["width"])
        w = max(1, int(round(keep * full)))
        if align:
            w = max(align, int(round(w / align)) * align)
        out[root] = min(w, full)
    return out


def label(keep: float, align: int = 0) -> str:
    return f"{LABEL}@{keep:g}/{int(align)}"


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
