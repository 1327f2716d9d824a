"""The step ceiling: one prune() takes at most floor(max_step_share * width) channels of any layer; slim passes it on."""

import argparse
import math

import pytest
import torch

from edgeprune import models
from edgeprune.errors import EdgepruneError
from edgeprune.methods.config import SlimConfig
from edgeprune.pruning import ChannelPruner
from pruning_nets import spread_gammas


def _tv_audio():
    torch.manual_seed(0)
    model = spread_gammas(models.build("tv-audio")).eval()
    x = models.example_inputs("tv-audio", batch=2, frames=32)
    with torch.no_grad():
        assert not torch.allclose(model(*x), model(*(torch.randn_like(t) for t in x))), "outputs must vary"
    return model, x


def _check_rows(report, share):
    """Every layer lost at most floor(share * its width before the step); returns how many sat at the ceiling."""
    at_ceiling = 0
    for row in report.layers:
        allowed = math.floor(share * row["before"] + 1e-9)
        lost = row["before"] - row["after"]
        assert lost <= allowed, (row, share)
        at_ceiling += lost == allowed > 0
    return at_ceiling


@pytest.mark.parametrize("share", [0.5, 0.25])
def test_ceiling_is_respected_exactly_every_step(share):
    # raw L1 norms pile a step onto fc1 (128 -> 1 without a ceiling), so the ceiling has to bind
    model, x = _tv_audio()
    pruner = ChannelPruner(model, x, importance="l1", normalizer="none", max_step_share=share)
    at_ceiling = 0
    for _ in range(3):
        report = pruner.prune(0.3)
        assert report.max_diff <= 1e-5
        at_ceiling += _check_rows(report, share)
    assert at_ceiling >= 2
    assert model.backend.fc1.out_features >= math.ceil(128 * (1 - share) ** 3)


def test_without_a_ceiling_the_same_step_takes_more():
    model, x = _tv_audio()
    report = ChannelPruner(model, x, importance="l1", normalizer="none").prune(0.3)
    with pytest.raises(AssertionError):
        _check_rows(report, 0.5)


def test_ceiling_that_cannot_reach_the_amount_says_so():
    model, x = _tv_audio()
    report = ChannelPruner(model, x, importance="l1", max_step_share=0.1).prune(0.5)
    assert not report.reached and "step ceiling" in report.note
    assert _check_rows(report, 0.1) >= 3  # it took all it was allowed from several layers
    assert report.max_diff <= 1e-5


def test_layerwise_scope_respects_the_ceiling():
    model, x = _tv_audio()
    report = ChannelPruner(model, x, importance="l2", scope="layerwise", max_step_share=0.2).prune(0.4, unit="channels")
    assert not report.reached and "step ceiling" in report.note
    assert _check_rows(report, 0.2) >= 3


@pytest.mark.parametrize("bad", [0, 1.5, -0.2, "0.5"])
def test_bad_ceiling_is_refused(bad):
    model, x = _tv_audio()
    with pytest.raises(EdgepruneError, match="max_step_share must be None or a fraction in"):
        ChannelPruner(model, x, max_step_share=bad)


def test_slim_config_resolves_validates_and_passes_the_ceiling(tmp_path):
    assert SlimConfig().resolve().max_step_share == 0.5
    assert SlimConfig(method="cp").resolve().max_step_share == 1.0  # one shot: no ceiling
    assert SlimConfig(max_step_share=0.25).resolve().max_step_share == 0.25
    with pytest.raises(EdgepruneError, match="--max-step-share must be in"):
        SlimConfig(max_step_share=0.0).validate()

    from edgeprune.commands import slim

    parser = argparse.ArgumentParser()
    slim.add_arguments(parser)
    cfg = slim.config_from_args(parser.parse_args(["--max-step-share", "0.25"]))
    assert cfg.max_step_share == 0.25

    from edgeprune.methods.context import Context

    model, x = _tv_audio()
    ctx = Context(SlimConfig(max_step_share=0.25, out=str(tmp_path / "run")).resolve())
    ctx.__dict__["example"] = x  # what the data would give; no corpus needed for the pruner
    pruner = ctx.pruner(model, importance="l1", scope="global")
    report = pruner.prune(0.3)
    assert pruner.max_step_share == 0.25 and report.max_diff <= 1e-5
    _check_rows(report, 0.25)
