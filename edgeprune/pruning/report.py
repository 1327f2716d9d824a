"""PruneReport: what one prune step did (widths, params, MACs, verification figure, replayable history)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class PruneReport:
    """One `ChannelPruner.prune` step.

    `achieved` is the removed fraction in `unit` (params: of the params before the step; channels: of the
    candidate channels). `reached` is False when floors, ties, round_to or a lack of candidates kept the
    step from its amount, and `note` says why. `layers` lists every conv/linear/LSTM/BN layer with its output
    width (`before`/`after`) and input width (`in_before`/`in_after`). `history` is the pruner's whole
    history so far (JSON), for `edgeprune.pruning.replay`.
    """

    amount: float
    unit: str
    achieved: float
    reached: bool
    note: str
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int
    max_diff: float | None
    layers: list = field(default_factory=list)
    untouched: list = field(default_factory=list)
    history: list = field(default_factory=list)
    importance: str = "bn_scale"
    scope: str = "global"
    ties: int = 0

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    def summary(self) -> str:
        """A short readable table of the step."""
        diff = "off" if self.max_diff is None else f"{self.max_diff:.1e}"
        lines = [f"pruned {self.achieved:.4f} of {self.unit} (asked {self.amount}), reached={self.reached}, "
                 f"params {self.params_before} -> {self.params_after}, MACs {self.macs_before} -> {self.macs_after}, "
                 f"verify {diff}"]
        if self.note:
            lines.append(f"note: {self.note}")
        lines += [f"  {r['name']:<40} {r['type']:<12} {r['before']:>6} -> {r['after']:<6}"
                  for r in self.layers if r["before"] != r["after"] or r["in_before"] != r["in_after"]]
        return "\n".join(lines)
