"""edgeprune.models: the model zoo (MISP2021 and ICASSP 2022 wake-word networks, LeNets), one registry.

`names()`, `build(name, **cfg)`, `example_inputs(name, batch=1, **cfg)`, `spec(name) -> ModelSpec`.
"""

from .calibration import calibrate_bn
from .registry import ModelSpec, build, example_inputs, names, resolve_cfg, spec

__all__ = ["ModelSpec", "build", "calibrate_bn", "example_inputs", "names", "resolve_cfg", "spec"]
