"""The issue's three user models (docs/examples/own_models.py) prune to >= 35 % of their channels with BN-scale
importance and `ignored_layers=[model.fc]`; where only dead channels (gamma = beta = 0) go, outputs are unchanged."""

import copy
import os
import sys

import pytest
import torch

from edgeprune import count
from edgeprune.pruning import ChannelPruner

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples"))
from own_models import CRNN, DSCNN, FusionNet, as_if_trained, example_inputs  # noqa: E402

MODELS = {"DSCNN": DSCNN, "CRNN": CRNN, "FusionNet": FusionNet}


def _dead_channels(model) -> int:
    """Channels with gamma = beta = 0, counted once per channel (BatchNorms of one group share them)."""
    return sum(int(((m.weight == 0) & (m.bias == 0)).sum()) for m in model.modules()
               if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))


@pytest.mark.parametrize("name", MODELS)
def test_dead_channels_go_and_the_outputs_stay(name):
    torch.manual_seed(0)
    model = as_if_trained(MODELS[name]()).eval()
    x = example_inputs(name)
    dense = copy.deepcopy(model)
    with torch.no_grad():
        want = model(*x)
    assert float(want.max() - want.min()) > 1e-3  # outputs vary over inputs
    pruner = ChannelPruner(model, x, importance="bn_scale", ignored_layers=[model.fc])
    candidates = {g["root"]: g["width"] for g in pruner.groups() if g["reason"] is None}
    gone = sum(round(0.4 * w) for w in candidates.values())  # as_if_trained kills round(0.4 * width) per width
    report = pruner.prune(gone / sum(candidates.values()), unit="channels")
    assert report.achieved >= 0.35, report.note
    assert report.max_diff <= 1e-5
    with torch.no_grad():
        got = model(*x)
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-5, rtol=1e-5)
    assert _dead_channels(model) == 0 < _dead_channels(dense)  # exactly the dead channels went
    assert count(model, x).params == report.params_after < report.params_before


@pytest.mark.parametrize("name", MODELS)
def test_prunes_at_least_35_percent_of_channels_with_bn_scale(name):
    torch.manual_seed(0)
    model = as_if_trained(MODELS[name](), dead=0.0).eval()
    x = example_inputs(name)
    report = ChannelPruner(model, x, importance="bn_scale", ignored_layers=[model.fc]).prune(0.4, unit="channels")
    assert report.achieved >= 0.35 and report.max_diff <= 1e-5
    rules = {u["name"]: u["rule"] for u in report.untouched}
    assert rules.get("fc") == "ignored" and "touches" not in " ".join(u["reason"] for u in report.untouched)
    assert model.fc.out_features == MODELS[name]().fc.out_features
