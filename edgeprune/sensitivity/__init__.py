"""Per-group sensitivity (dev Score after cutting one group alone) and AIMET's greedy per-layer ratio selection."""

from edgeprune.sensitivity.select import Selection, additive_params, ratios_under, select

__all__ = ["Selection", "additive_params", "ratios_under", "select"]
