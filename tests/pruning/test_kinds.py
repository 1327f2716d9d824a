"""Each layer kind: pruned exactly (the zeroed-channel check passes and catches a shifted map) or refused by
name, and counted as a hand count says."""

import copy

import pytest
import torch
import torch.nn as nn

from edgeprune import count
from edgeprune.kinds import kind_of
from edgeprune.pruning import ChannelPruner, layers
from edgeprune.pruning.verify import LIMIT
from kind_nets import AttentionNet, ConvNet, EmbeddingNet, RecurrentNet, inputs_for
from pruning_nets import narrowed, spread_gammas
from test_verify_mutation import _measure, _shift

PRUNED = {
    "gru-2-layers": lambda: RecurrentNet("GRU", 2),
    "lstm-2-layers": lambda: RecurrentNet("LSTM", 2),
    "rnn": lambda: RecurrentNet("RNN", 1),
    "gru-bidirectional": lambda: RecurrentNet("GRU", 1, bidirectional=True),
    "conv1d-depthwise": lambda: ConvNet(1),
    "conv3d": lambda: ConvNet(3, "plain"),
    "groupnorm-per-channel": lambda: ConvNet(2, norm="gn"),
    "prelu-per-channel": lambda: ConvNet(2, act="prelu"),
    "prelu-shared": lambda: ConvNet(2, act="prelu1"),
    "embedding": lambda: EmbeddingNet(),
}


def _build(make):
    torch.manual_seed(0)
    model = spread_gammas(make()).eval()
    x = inputs_for(model)
    with torch.no_grad():
        out = model(*x)
    assert float(out.max() - out.min()) > 1e-4  # outputs vary over inputs: the checks below can see a change
    return model, x


@pytest.mark.parametrize("name", PRUNED)
def test_kind_is_pruned_and_the_check_catches_a_shifted_map(name):
    model, x = _build(PRUNED[name])
    ops = ChannelPruner(copy.deepcopy(model), x, importance="l2").prune(0.4).history[0]["ops"]
    right, _ = _measure(model, ops, x)
    assert right <= LIMIT
    consumers = sorted({op["layer"] for op in ops if op["axis"] == "in"})
    assert consumers
    for layer in consumers:
        mutated, moved = _shift(model, ops, only=layer)
        if moved:  # a consumer that reads every kept channel once: a shifted index reads a neighbour
            assert _measure(model, mutated, x)[0] > LIMIT, f"{name}: an off-by-one at {layer} passes"
    report = ChannelPruner(model, x, importance="l2").prune(0.4)
    assert report.max_diff <= LIMIT and report.params_after < report.params_before
    assert count(model, x).params == report.params_after


def test_gru_units_pruned_by_gate_block_match_units_silenced_by_hand():
    torch.manual_seed(1)
    gru, head = nn.GRU(5, 8, num_layers=2, batch_first=True), nn.Linear(8, 3)
    x = torch.randn(2, 7, 5)
    ref = copy.deepcopy(gru)
    with torch.no_grad():
        for p in ref.parameters():  # every GRU weight and bias has 3H rows: reset, update, new; new rows silenced
            p[[2 * 8 + u for u in (1, 6)]] = 0.0
    pruned = copy.deepcopy(gru)
    kind_of(pruned).prune_out(pruned, [1, 6])
    small = narrowed(head, [0, 2, 3, 4, 5, 7])
    with torch.no_grad():
        assert torch.allclose(small(pruned(x)[0]), head(ref(x)[0]), atol=1e-6)
    assert pruned.hidden_size == 6 and pruned.weight_hh_l1.shape == (18, 6) and pruned.weight_ih_l1.shape == (18, 6)


@pytest.mark.parametrize("make, layer, words", [
    (lambda: ConvNet(2, "grouped"), "conv2", "grouped convolution"),
    (lambda: ConvNet(2, norm="gn2"), "norm1", "GroupNorm normalises groups of 4"),
    (lambda: EmbeddingNet(layer_norm=True), "norm", "LayerNorm normalises across channels"),
    (AttentionNet, "attn", "head pruning is not implemented"),
    (lambda: RecurrentNet("GRU", 1, bidirectional=True), "rnn", "bidirectional GRU 'rnn'"),
])
def test_hard_kinds_are_refused_naming_the_layer(make, layer, words):
    model, x = _build(make)
    report = ChannelPruner(model, x, importance="l2").prune(0.3)
    held = [u for u in report.untouched if u["rule"] == "unsupported"]
    assert any(f"'{layer}'" in u["reason"] and words in u["reason"] for u in held), report.untouched
    assert report.max_diff <= LIMIT


@pytest.mark.parametrize("layer, inputs, params, macs, cut, params_cut", [
    # GRU 5 -> 8, two layers: 3 gates x 8 x (5 + 8) + 3 x 8 x (8 + 8) weights, 2 x 24 biases per layer;
    # MACs per (sample, step) the same weights' products, 2 samples x 7 steps.
    (nn.GRU(5, 8, num_layers=2, batch_first=True), torch.randn(2, 7, 5), 312 + 48 + 384 + 48, 14 * (312 + 384),
     (2, 1), 3 * 6 * (4 + 6) + 36 + 3 * 6 * 12 + 36),
    # bidirectional GRU 5 -> 4: two directions of 3 x 4 x (5 + 4) + 24
    (nn.GRU(5, 4, bidirectional=True, batch_first=True), torch.randn(1, 3, 5), 2 * (108 + 24), 3 * 2 * 108,
     (0, 2), 2 * (3 * 4 * 7 + 24)),
    # Conv3d 2 -> 4, 3x3x3, bias: 4 x 2 x 27 + 4; each of 4 x 125 outputs takes 2 x 27 MACs
    (nn.Conv3d(2, 4, 3, padding=1), torch.randn(1, 2, 5, 5, 5), 220, 4 * 125 * 54, (1, 1), 3 * 1 * 27 + 3),
    # depthwise Conv1d over 6 channels, kernel 3, bias: 6 x 3 + 6; 60 outputs x 3 MACs; in and out cut together
    (nn.Conv1d(6, 6, 3, padding=1, groups=6), torch.randn(1, 6, 10), 24, 180, (2, 0), 16),
    (nn.GroupNorm(8, 8), torch.randn(1, 8, 3), 16, 0, (2, 0), 12),
    (nn.PReLU(8), torch.randn(1, 8, 3), 8, 0, (3, 0), 5),
    (nn.Embedding(20, 8), torch.randint(0, 20, (2, 5)), 160, 0, (3, 0), 100),
])
def test_params_and_macs_match_a_hand_count(layer, inputs, params, macs, cut, params_cut):
    got = count(layer, (inputs,))
    assert (got.params, got.macs) == (params, macs)
    kind = kind_of(layer)
    assert kind.params_at(layer, 0, 0) == params
    assert kind.params_at(layer, *cut) == params_cut
    out = kind.widths(layer)[0]
    cutter = layers.pruner_of(layer)  # torch-pruning's function for builtin kinds, the kind itself otherwise
    with torch.no_grad():
        if cut[0]:
            cutter.prune_out_channels(layer, list(range(cut[0])))
        if cut[1]:
            cutter.prune_in_channels(layer, list(range(cut[1])))
    assert sum(p.numel() for p in layer.parameters()) == params_cut
    assert kind.widths(layer)[0] == out - cut[0]
