"""PITFALL 7: one global |gamma| ranking without per-group normalisation; l1/l2 filter norms."""

import torch
import torch.nn as nn

from edgeprune.pruning import ChannelPruner


def _two_convs():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1))
    with torch.no_grad():
        model[1].weight.copy_(torch.linspace(0.01, 0.08, 8))  # every gamma of layer 1 below layer 2's
        model[4].weight.copy_(torch.linspace(0.5, 1.0, 8))
    return model


def test_global_bn_scale_ranking_is_not_normalised_per_layer():
    model = _two_convs()
    report = ChannelPruner(model, (torch.randn(1, 1, 6, 6),)).prune(6 / 16, unit="channels")
    # per-group normalisation would take 3 from each; the raw global ranking takes the 6 smallest gammas
    assert model[0].out_channels == 2 and model[3].out_channels == 8
    assert torch.allclose(model[1].weight, torch.tensor([0.07, 0.08]))
    assert report.max_diff <= 1e-5


def test_layerwise_scope_takes_the_fraction_from_every_group():
    model = _two_convs()
    ChannelPruner(model, (torch.randn(1, 1, 6, 6),), scope="layerwise").prune(0.5, unit="channels")
    assert model[0].out_channels == 4 and model[3].out_channels == 4
    assert torch.allclose(model[4].weight, torch.linspace(0.5, 1.0, 8)[4:])


def test_l1_and_l2_rank_by_filter_norm():
    for method, norm in (("l1", 1), ("l2", 2)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 1))
        scores = model[0].weight.detach().norm(p=norm, dim=1)
        keep = scores.argsort()[3:].sort().values
        expected = model[0].weight.detach()[keep].clone()
        ChannelPruner(model, (torch.randn(2, 5),), importance=method).prune(0.5, unit="channels")
        assert torch.equal(model[0].weight, expected)
