"""Widths the runtime likes: per group, the nearest measured width that is no slower than the one asked for.

Kernels step in speed with the channel count (vector width, blocking), so a width just past a step costs as
much as the next step up: keeping those channels is free. Not a fixed `round_to`, but what was measured on
this target, runtime and thread count for this layer.
"""

from __future__ import annotations

from edgeprune.errors import EdgepruneError
from edgeprune.latency.table import LatencyTable


def measured_latency(table: LatencyTable, root: str, width: int, stat: str = "p50") -> float:
    """Latency with group `root` alone at `width`; at a width between measured ones, that of the next measured
    width up (conservative: a step may lie anywhere in between)."""
    widths = table.widths(root)
    above = [w for w in widths if w >= width]
    if not above:
        raise EdgepruneError(f"width {width} is above group {root!r}'s width {widths[0]}")
    return table.latency(root, min(above), stat)


def nearest_no_slower(table: LatencyTable, root: str, wanted: int, stat: str = "p50",
                      tolerance: float = 0.0) -> int:
    """The widest measured width of group `root`, at or above `wanted`, whose latency is at most that of
    `wanted` (times 1 + tolerance, for measurement noise); `wanted` itself when it is measured and no wider
    width is as fast. Between measured widths `wanted` is charged the next measured width up, which is then
    the answer unless a wider one is as fast."""
    if root not in table.groups:
        raise EdgepruneError(f"group {root!r} is not in the latency table of {table.model}")
    full = int(table.groups[root]["width"])
    if not isinstance(wanted, int) or not 1 <= wanted <= full:
        raise EdgepruneError(f"wanted width for {root!r} must be an integer from 1 to {full}, got {wanted!r}")
    limit = measured_latency(table, root, wanted, stat) * (1.0 + tolerance)
    widths = set(table.widths(root))
    best = wanted if wanted in widths else min(w for w in widths if w >= wanted)
    for w in sorted(widths):
        if w > best and table.latency(root, w, stat) <= limit:
            best = w
    return best


def steps(table: LatencyTable, root: str, stat: str = "p50", rise: float = 0.02) -> list[dict]:
    """Where group `root`'s latency jumps: consecutive measured widths (narrow -> wide) whose latency rises by
    more than `rise` of the dense latency, widest change first in size."""
    dense = float(table.dense[stat])
    ws = sorted(table.widths(root))
    out = []
    for a, b in zip(ws, ws[1:]):
        jump = table.latency(root, b, stat) - table.latency(root, a, stat)
        if jump > rise * dense:
            out.append({"from": a, "to": b, "ms": jump, "share_of_dense": jump / dense})
    return sorted(out, key=lambda s: -s["ms"])
