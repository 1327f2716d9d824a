"""The latency table: per prunable group, measured whole-model latency with that group alone at each width."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from edgeprune.errors import EdgepruneError

SCHEMA = "edgeprune.latency-table/1"
STATS = ("p50", "p90", "mean", "min")


@dataclass
class LatencyTable:
    """`groups[root]` = {"width", "out_layers", "in_layers", "points": [{"width", p50/p90/mean, dense_p50/...,
    "layer_macs": {layer: MACs with the group at that width}}]}; `dense` = the dense model's p50/p90/mean
    (median over the measured batches); `layer_macs` = the dense model's MACs per counted layer; `joints` = every
    group cut at once (edgeprune.latency.joint): [{"keep", "widths", "layer_macs", p50/..., dense_p50/...}], none in
    tables made before them."""

    model: str
    meta: dict  # architecture, runtime, runtime_version, threads, target, machine, device, bench settings
    dense: dict
    layer_macs: dict
    groups: dict
    complete: bool = True
    notes: list = field(default_factory=list)
    joints: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "model": self.model, **self.meta, "dense": self.dense,
                "layer_macs": self.layer_macs, "groups": self.groups, "complete": self.complete, "notes": self.notes,
                "joints": self.joints}

    @classmethod
    def from_dict(cls, data: dict) -> "LatencyTable":
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise EdgepruneError(f"not a latency table (schema {SCHEMA} expected)")
        core = ("schema", "model", "dense", "layer_macs", "groups", "complete", "notes", "joints")
        meta = {k: v for k, v in data.items() if k not in core}
        return cls(data["model"], meta, data["dense"], data["layer_macs"], data["groups"],
                   bool(data.get("complete", True)), list(data.get("notes") or []), list(data.get("joints") or []))

    @classmethod
    def read(cls, path) -> "LatencyTable":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EdgepruneError(f"latency table not found: {path}") from None
        except (OSError, ValueError) as exc:
            raise EdgepruneError(f"cannot read latency table {path}: {exc}") from None
        try:
            return cls.from_dict(data)
        except EdgepruneError as exc:
            raise EdgepruneError(f"{path}: {exc}") from None

    # -- lookups ------------------------------------------------------------------------------------------
    def points(self, root: str) -> list[dict]:
        """Measured points of group `root`, widest first (the dense width itself is implied, not stored)."""
        if root not in self.groups:
            raise EdgepruneError(f"group {root!r} is not in the latency table of {self.model}")
        return sorted(self.groups[root]["points"], key=lambda p: -p["width"])

    def widths(self, root: str) -> list[int]:
        """Measured widths of `root`, the full width included, widest first."""
        return [int(self.groups[root]["width"])] + [int(p["width"]) for p in self.points(root)]

    def latency(self, root: str, width: int, stat: str = "p50") -> float:
        """Whole-model latency with group `root` alone at `width`: dense minus the measured saving (linear
        between measured widths; the saving is taken against the dense run of the same interleaved batch)."""
        return float(self.dense[stat]) - self.saving(root, width, stat)

    def saving(self, root: str, width: int, stat: str = "p50") -> float:
        """Milliseconds saved by cutting group `root` alone to `width` (interpolated between measured widths)."""
        full = int(self.groups[root]["width"]) if root in self.groups else None
        pts = [(full, 0.0)] + [(int(p["width"]), float(p[f"dense_{stat}"]) - float(p[stat])) for p in self.points(root)]
        return interpolate(pts, width)


def interpolate(points: list[tuple[int, float]], x: float) -> float:
    """Piecewise-linear value at `x` of points (x_i, y_i), held constant beyond the ends."""
    pts = sorted(points)
    if not pts:
        raise EdgepruneError("no points to interpolate")
    if x <= pts[0][0]:
        return pts[0][1]
    if x >= pts[-1][0]:
        return pts[-1][1]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return math.nan  # unreachable: x lies within the sorted points
