"""ignored_layers keeps a layer's own outputs (torch-pruning's meaning); frozen_layers holds every group touching it."""

import copy
import os
import sys

import pytest
import torch

from edgeprune.errors import EdgepruneError
from edgeprune.pruning import ChannelPruner
from pruning_nets import spread_gammas

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples"))
from own_models import CRNN, example_inputs  # noqa: E402


def _crnn():
    torch.manual_seed(0)
    return spread_gammas(CRNN(channels=8, hidden=12)).eval(), example_inputs("CRNN", frames=6)


def test_ignoring_the_lstm_keeps_its_hidden_units_and_lets_its_input_shrink():
    model, x = _crnn()
    dense = copy.deepcopy(model)
    report = ChannelPruner(model, x, importance="l1", ignored_layers=[model.lstm]).prune(0.4, unit="channels")
    assert model.lstm.hidden_size == 12 and model.fc.in_features == 12
    assert model.c2[0][0].out_channels < 8 and model.lstm.input_size == model.c2[0][0].out_channels * 10
    held = {u["name"]: u for u in report.untouched}
    assert held["lstm"]["rule"] == "ignored" and "'lstm' keeps its output channels" in held["lstm"]["reason"]
    assert report.max_diff <= 1e-5 and report.params_after < report.params_before
    assert not torch.equal(model.lstm.weight_ih_l0, dense.lstm.weight_ih_l0[:, :model.lstm.input_size])


def test_ignoring_the_classifier_prunes_the_layer_feeding_it():
    model, x = _crnn()
    report = ChannelPruner(model, x, importance="l1", ignored_layers=["fc"]).prune(0.4, unit="channels")
    assert model.lstm.hidden_size < 12 and model.fc.in_features == model.lstm.hidden_size
    assert model.fc.out_features == 2
    assert {u["name"]: u["rule"] for u in report.untouched} == {"fc": "ignored"}


def test_frozen_layers_hold_every_group_that_reaches_them():
    model, x = _crnn()
    report = ChannelPruner(model, x, importance="l1", frozen_layers=[model.lstm]).prune(0.4, unit="channels")
    held = {u["name"]: u for u in report.untouched}
    assert held["c2.0.0"]["rule"] == "frozen" and "touches frozen layer 'lstm'" in held["c2.0.0"]["reason"]
    assert held["lstm"]["rule"] == "frozen"
    assert model.c2[0][0].out_channels == 8 and model.lstm.input_size == 80 and model.lstm.hidden_size == 12
    assert model.c1[0].out_channels < 8  # a group away from the frozen layer is still cut


def test_every_held_group_names_its_rule():
    model, x = _crnn()
    pruner = ChannelPruner(model, x, importance="bn_scale", ignored_layers=[model.fc])
    rules = {g["root"]: (g["rule"], g["reason"]) for g in pruner.groups()}
    assert rules["fc"][0] == "ignored"
    assert rules["lstm"][0] == "importance" and "no BatchNorm" in rules["lstm"][1]
    assert rules["c1.0"] == (None, None) and rules["c2.0.0"] == (None, None)


def test_bad_frozen_layer_is_one_line():
    model, x = _crnn()
    with pytest.raises(EdgepruneError, match="frozen_layers: layer 'nope' is not a module"):
        ChannelPruner(model, x, frozen_layers=["nope"])
