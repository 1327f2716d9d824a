"""TrainConfig.for_model follows the one precedence rule (field default < model recommendation < overrides,
None unset), and reading a TrainConfig never imports torch (the command line builds flags from it)."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.train.config import TrainConfig


def test_for_model_layers_defaults_model_and_overrides():
    spec = SimpleNamespace(defaults={"lr": 2e-4, "batch_size": 16, "epochs": 5})
    cfg = TrainConfig.for_model(spec, batch_size=8, epochs=None, weight_decay=0.0)
    assert (cfg.lr, cfg.batch_size, cfg.epochs, cfg.weight_decay) == (2e-4, 8, 5, 0.0)
    assert cfg.grad_clip == TrainConfig().grad_clip
    with pytest.raises(EdgepruneError, match="TrainConfig has no field lrr"):
        TrainConfig.for_model(spec, lrr=1.0)


def test_train_config_imports_without_torch():
    code = "import sys, edgeprune.train.config, edgeprune.methods.config\nassert 'torch' not in sys.modules\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
