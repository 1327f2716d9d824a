"""Widths the runtime likes, and predictions from the table, against a fake target with a known step."""

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.latency.groups import Analysis
from edgeprune.latency.predict import layer_macs, predict
from edgeprune.latency.profile import profile
from edgeprune.latency.widths import nearest_no_slower, steps

from tiny_latency import FakeTarget


@pytest.fixture()
def table(source, fake_target, tmp_path):
    return profile(source, fake_target, (0.75, 0.5, 0.25), align=8, cache_folder=tmp_path)


def test_the_step_is_where_the_fake_puts_it(table):
    assert table.widths("conv1") == [24, 18, 16, 12, 8, 6]
    # conv1's latency is flat within each block of 8 channels and steps at 9 and 17
    assert nearest_no_slower(table, "conv1", 6) == 8
    assert nearest_no_slower(table, "conv1", 8) == 8
    assert nearest_no_slower(table, "conv1", 12) == 16
    assert nearest_no_slower(table, "conv1", 10) == 16  # unmeasured: charged 12's latency, 16 is as fast
    assert nearest_no_slower(table, "conv1", 17) == 24
    found = steps(table, "conv1")
    assert {(s["from"], s["to"]) for s in found} == {(8, 12), (16, 18)}
    assert all(s["ms"] == pytest.approx(0.25) for s in found)
    # conv2 is linear: no wider width is as fast
    assert nearest_no_slower(table, "conv2", 8) == 8


def test_bad_wanted_width(table):
    with pytest.raises(EdgepruneError, match="wanted width for 'conv1' must be an integer from 1 to 24"):
        nearest_no_slower(table, "conv1", 30)


def test_prediction_reproduces_single_group_points_and_adds_for_an_additive_target(table, source):
    analysis = Analysis(source.model, source.example)
    for root, w in (("conv1", 12), ("conv2", 8), ("conv1", 6)):
        slim = analysis.cut({root: w})
        truth = FakeTarget.latency_of(w, 16) if root == "conv1" else FakeTarget.latency_of(24, w)
        assert predict(table, slim, source.example) == pytest.approx(truth)
        assert predict(table, slim, source.example, how="additive") == pytest.approx(truth)
    both = analysis.cut({"conv1": 12, "conv2": 8})
    assert predict(table, both, source.example, how="additive") == pytest.approx(FakeTarget.latency_of(12, 8))
    # the layer model knows conv2's MACs fell to 12/24 * 8/16 of dense: it predicts less time than single cuts
    macs = layer_macs(both, source.example)
    assert macs["conv2"] * 4 == layer_macs(source.model, source.example)["conv2"]
    assert predict(table, both, source.example) < min(FakeTarget.latency_of(12, 16), FakeTarget.latency_of(24, 8))


def test_cut_keeps_outputs_of_the_kept_channels_varying(source):
    import torch

    analysis = Analysis(source.model, source.example)
    slim = analysis.cut({"conv1": 12})
    assert slim.conv1.out_channels == 12 and slim.conv2.in_channels == 12 and slim.bn1.num_features == 12
    x = torch.randn(4, 40, 32)
    with torch.no_grad():
        out = slim(x)
    assert out.shape == (4,) and out.std() > 0
    assert source.model.conv1.out_channels == 24  # the analysed model is left as it was
