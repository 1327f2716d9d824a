"""bn_scale+l1: BatchNorm groups by |gamma|, LSTM/FC groups by normalised L1, on one scale; bn_scale unchanged."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from edgeprune import count, models
from edgeprune.methods.config import SlimConfig
from edgeprune.pruning import ChannelPruner, importance
from edgeprune.pruning.groups import Group, Item
from pruning_nets import removed_rows, spread_gammas


def _tv_audio(seed=0):
    torch.manual_seed(seed)
    model = spread_gammas(models.build("tv-audio"), seed=seed).eval()
    x = models.example_inputs("tv-audio", batch=2, frames=32)
    with torch.no_grad():
        assert not torch.allclose(model(*x), model(*(torch.randn_like(t) for t in x))), "outputs must vary"
    return model, x


def _gammas(model):
    return [model.backend.convs[1].weight.detach().clone(), model.backend.convs[4].weight.detach().clone()]


def _gamma_split(before, model):
    """(removed, kept) |gamma| values over both BatchNorms, matched by value."""
    removed, kept = [], []
    for g, bn in zip(before, (model.backend.convs[1], model.backend.convs[4])):
        gone = removed_rows(g.unsqueeze(1), bn.weight.detach().unsqueeze(1))
        mask = np.zeros(len(g), bool)
        mask[gone] = True
        removed += g.abs()[mask].tolist()
        kept += g.abs()[~mask].tolist()
    return removed, kept


@pytest.mark.parametrize("seed", [0, 1])
def test_hybrid_cuts_lstm_and_fc_and_reaches_wsr_08(seed):
    model, x = _tv_audio(seed)
    dense = count(model, x).params
    pruner = ChannelPruner(model, x, importance="bn_scale+l1", max_step_share=0.5)  # slim's cplr settings
    wsr = 0.0
    while wsr < 0.8 - 1e-3:
        report = pruner.prune(min(0.3, 1 - 0.2 / (1 - wsr)))
        assert report.reached and report.max_diff <= 1e-5, report.note
        wsr = 1 - report.params_after / dense
    assert wsr == pytest.approx(0.8, abs=0.01)
    b = model.backend
    assert b.lstm.hidden_size < 0.8 * 160 and b.fc1.out_features < 0.8 * 128  # ranked, not only shrunk via inputs
    assert min(b.lstm.hidden_size, b.fc1.out_features, b.convs[0].out_channels, b.convs[3].out_channels) >= 8


def test_pure_bn_scale_still_stops_below_065_on_tv_audio():
    model, x = _tv_audio()
    dense = count(model, x).params
    pruner = ChannelPruner(model, x, importance="bn_scale")
    for _ in range(8):
        report = pruner.prune(0.3)
        if not report.reached:
            break
    assert "could not reach" in report.note and 1 - report.params_after / dense < 0.65
    assert model.backend.lstm.hidden_size == 160 and model.backend.fc1.out_features == 128
    assert any("no BatchNorm" in u["reason"] for u in report.untouched)


def test_pure_bn_scale_ranks_by_raw_gamma_globally():
    model, x = _tv_audio()
    before = _gammas(model)
    ChannelPruner(model, x, importance="bn_scale").prune(0.3)
    removed, kept = _gamma_split(before, model)
    assert removed and max(removed) < min(kept)


def test_hybrid_keeps_the_papers_gamma_order_among_batchnorm_channels():
    model, x = _tv_audio()
    before = _gammas(model)
    ChannelPruner(model, x, importance="bn_scale+l1").prune(0.3)
    removed, kept = _gamma_split(before, model)
    assert removed and max(removed) < min(kept)
    assert model.backend.fc1.out_features < 128 or model.backend.lstm.hidden_size < 160


def _conv_bn_group(gammas):
    conv, bn = nn.Conv1d(3, len(gammas), 1), nn.BatchNorm1d(len(gammas))
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gammas))
    idx = np.arange(len(gammas))
    return Group("conv", len(gammas), [Item("conv", conv, "out", idx, idx), Item("bn", bn, "out", idx, idx)])


def _linear_group(rows):
    fc = nn.Linear(4, len(rows))
    with torch.no_grad():
        fc.weight.copy_(torch.tensor(rows))
    idx = np.arange(len(rows))
    return Group("fc", len(rows), [Item("fc", fc, "out", idx, idx)])


def test_rank_standardises_each_family_by_median_and_iqr():
    gammas = [0.01, 0.2, 0.4, 0.6, 0.9, 1.5]
    rows = [[1.0, 1, 1, 1], [2, 2, 2, 2], [0.5, 0.5, 0.5, 0.5], [3, 0, 0, 0]]
    groups = {0: _conv_bn_group(gammas), 3: _linear_group(rows)}
    out = importance.rank(groups, "bn_scale+l1")
    g = np.asarray(gammas)
    q1, med, q3 = np.percentile(g, [25, 50, 75])
    assert np.allclose(out[0], (g - med) / (q3 - q1))
    l1 = np.abs(np.asarray(rows)).sum(axis=1)
    l1 = l1 / l1.mean()
    q1, med, q3 = np.percentile(l1, [25, 50, 75])
    assert np.allclose(out[3], (l1 - med) / (q3 - q1))
    # pure bn_scale: raw |gamma|, and the linear group is no candidate
    raw = importance.rank(groups, "bn_scale")
    assert set(raw) == {0} and np.allclose(raw[0], g)


def test_hybrid_with_untrained_gammas_does_not_divide_by_zero():
    groups = {0: _conv_bn_group([1.0] * 5), 1: _linear_group([[1.0, 2, 3, 4], [0.1, 0, 0, 0]])}
    out = importance.rank(groups, "bn_scale+l1")
    assert np.all(np.isfinite(out[0])) and np.all(out[0] == 0) and np.all(np.isfinite(out[1]))


def test_cp_and_cplr_default_to_the_hybrid_and_the_papers_ranking_stays_selectable():
    assert SlimConfig().resolve().importance == "bn_scale+l1"
    assert SlimConfig(method="cp").resolve().importance == "bn_scale+l1"
    assert SlimConfig(importance="bn_scale").resolve().importance == "bn_scale"
    assert SlimConfig(method="lth-if").resolve().importance == "l1"
