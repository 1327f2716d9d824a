"""How long to measure: warm-up count, minimum runs and seconds per model, the overall cap, the round size."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .errors import BenchError


@dataclass(frozen=True)
class Budget:
    """Every model gets at least `min_runs` timed runs AND `min_seconds` of timed runs, interleaved in rounds in
    which the model that needs the most runs does `block` of them and the others run in proportion to what
    they still need; warm-up and timed runs together stop once `max_seconds` have passed (each model keeps at
    least one timed run)."""

    warmup: int = 10
    min_runs: int = 50
    min_seconds: float = 2.0
    max_seconds: float = 120.0
    block: int = 10

    def __post_init__(self):
        if self.warmup < 0 or self.min_runs < 1 or self.block < 1:
            raise BenchError("warm-up must be >= 0, min-runs and block >= 1")
        if not (math.isfinite(self.min_seconds) and math.isfinite(self.max_seconds)) \
                or self.min_seconds < 0 or self.max_seconds <= 0:
            raise BenchError("min-seconds must be >= 0 and max-seconds > 0 (finite numbers)")

    def to_dict(self) -> dict:
        return asdict(self)
