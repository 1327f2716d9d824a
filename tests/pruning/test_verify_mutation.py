"""The self-check is not vacuous: an off-by-one at any one consumer of a 30 % cut, in every zoo model, is caught.

The models are untrained (tied BatchNorm statistics), the case where comparing only the final output let an
off-by-one in the misp-video back end pass with a difference of 1e-7. The check runs in float32 here.
"""

import copy

import pytest
import torch

import edgeprune.pruning.pruner as pruner_mod
from edgeprune import models
from edgeprune.errors import EdgepruneError
from edgeprune.pruning import ChannelPruner, layers
from edgeprune.pruning.replay import apply_ops
from edgeprune.pruning.verify import LIMIT, Reference

CFG = {"frames": 32, "lip_frames": 3}
SLOW = {"misp-video", "tv-video", "tv-av", "tv-lip-mbv2"}
ZOO = ["lenet-300-100", "lenet5", "tv-audio", "misp-audio", "misp-video", "tv-video", "tv-av", "tv-lip-mbv2"]


def _shift(model, ops, only=None):
    """`ops` with the input indices of consumer `only` (every consumer if None) moved up by one (mod width)."""
    out, moved = copy.deepcopy(ops), 0
    for op in out:
        if op["axis"] == "in" and only in (None, op["layer"]):
            width = layers.widths(model.get_submodule(op["layer"]))[1]
            shifted = sorted({(i + 1) % width for i in op["idxs"]})
            if shifted != op["idxs"]:
                op["idxs"], moved = shifted, moved + 1
    return out, moved


def _measure(model, ops, x):
    """The check's figure for cutting `ops` from `model`, which is left as it was."""
    ref = Reference(model, ops, x)
    undo = apply_ops(model, ops)
    try:
        return ref.compare(model)[0], ref
    finally:
        undo()


def _untrained(name):
    torch.manual_seed(0)
    return models.build(name, **CFG).eval(), models.example_inputs(name, batch=1, **CFG)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in ZOO])
def test_each_consumer_shifted_by_one_is_caught(name):
    model, x = _untrained(name)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ops = ChannelPruner(copy.deepcopy(model), x, importance="l2").prune(0.3).history[0]["ops"]
    consumers = sorted({op["layer"] for op in ops if op["axis"] == "in"})
    assert consumers
    right, ref = _measure(model, ops, x)
    assert right <= LIMIT
    for layer in consumers:  # the check must see varying activations where it looks
        for call in ref.layers[layer]:
            t = call[0]
            assert t.numel() < 2 or float(t.max() - t.min()) > 1e-3 * float(t.abs().max()), layer
    for layer in consumers:
        mutated, moved = _shift(model, ops, only=layer)
        assert moved == 1
        diff, _ = _measure(model, mutated, x)
        assert diff > LIMIT, f"{name}: an off-by-one at {layer} passes the check ({diff:.2e})"
    after = model.state_dict()
    assert after.keys() == state.keys() and all(torch.equal(after[k], v) for k, v in state.items())


@pytest.mark.parametrize("name", ["lenet5", "tv-audio", "misp-audio", pytest.param("misp-video", marks=pytest.mark.slow)])
def test_pruner_refuses_a_shifted_cut_and_restores_the_model(name, monkeypatch):
    model, x = _untrained(name)
    with torch.no_grad():
        before = model(*x)
    pruner = ChannelPruner(model, x, importance="l2")
    real = pruner_mod.compile_ops
    monkeypatch.setattr(pruner_mod, "compile_ops", lambda groups, chosen: _shift(model, real(groups, chosen))[0])
    with pytest.raises(EdgepruneError, match="verification failed at "):
        pruner.prune(0.3)
    monkeypatch.undo()
    with torch.no_grad():
        assert torch.equal(model(*x), before)
    report = pruner.prune(0.3)  # the pruner is still usable, and the true cut passes
    assert report.max_diff <= LIMIT and report.params_after < report.params_before


def test_a_float32_rounding_failure_is_re_measured_in_float64(monkeypatch):
    """Below float32 rounding (LIMIT 1e-9 here) a right cut fails in float32 and passes once re-measured in float64."""
    model, x = _untrained("tv-audio")
    pruner = ChannelPruner(model, x, importance="l2")
    monkeypatch.setattr(pruner_mod, "LIMIT", 1e-9)
    right, _ = _measure(model, ChannelPruner(copy.deepcopy(model), x, importance="l2").prune(0.3).history[0]["ops"], x)
    assert right > 1e-9  # float32 rounding alone exceeds this limit
    report = pruner.prune(0.3)
    assert report.max_diff <= 1e-9 and report.params_after < report.params_before
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the float64 copy was only for measuring
    assert any(r["after"] < r["before"] for r in report.layers)


def test_undo_puts_back_the_same_parameter_objects():
    model, x = _untrained("misp-audio")
    ops = ChannelPruner(copy.deepcopy(model), x, importance="l2").prune(0.3).history[0]["ops"]
    before = {n: p for n, p in model.named_parameters()}
    undo = apply_ops(model, ops)
    assert any(p is not before[n] for n, p in model.named_parameters())
    undo()
    assert {n: p for n, p in model.named_parameters()} == before
    assert all(p is before[n] for n, p in model.named_parameters())
    with torch.no_grad():
        model(*x)  # the LSTM's flat weight list is back in step with its parameters
