"""Re-estimate BatchNorm running statistics on example inputs, as training would.

Freshly initialised lip encoders in eval mode give embeddings of ~1e-7 (unit running variance against
tiny activations), next to which any parity figure means nothing: benchmarks and tests that use
untrained zoo models calibrate them first.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import example_inputs


def calibrate_bn(model: nn.Module, name: str, batches: int = 4, batch: int = 4, **cfg) -> nn.Module:
    """Reset every BatchNorm's statistics, average them over `batches` seeded example batches, return the
    model in eval mode. `cfg` shapes the inputs (frames, lip_frames, lip_size) as for example_inputs."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for seed in range(batches):
            torch.manual_seed(seed)
            model(*example_inputs(name, batch=batch, **cfg))
    for m in norms:
        m.momentum = 0.1
    return model.eval()
