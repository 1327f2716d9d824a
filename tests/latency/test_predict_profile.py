"""Joint cuts measured by profile (joints=...) against the fake target, cached like the single-group points, and
the default prediction calibrated on them."""

import json

import pytest

from edgeprune.latency.groups import Analysis
from edgeprune.latency.predict import predict
from edgeprune.latency.profile import profile

from tiny_latency import FakeTarget

GRID = (0.75, 0.5, 0.25)


def test_joint_cuts_are_measured_cached_and_predicted(source, fake_target, tmp_path):
    table = profile(source, fake_target, GRID, align=8, cache_folder=tmp_path, joints=(0.5, 0.3))
    assert table.meta["measured_now"] == 8 + 2  # conv1: 18 16 12 8 6, conv2: 12 8 4, two joint cuts
    assert [j["widths"] for j in table.joints] == [{"conv1": 8, "conv2": 8}, {"conv1": 16, "conv2": 8}]
    for j in table.joints:
        truth = FakeTarget.latency_of(j["widths"]["conv1"], j["widths"]["conv2"])
        # the fake's latency comes from the exported file's widths: the cut measured is the one recorded
        assert j["p50"] == pytest.approx(truth) and j["dense_p50"] == pytest.approx(FakeTarget.latency_of(24, 16))
        w = j["widths"]
        assert j["layer_macs"]["conv2"] * 24 * 16 == table.layer_macs["conv2"] * w["conv1"] * w["conv2"]
    analysis = Analysis(source.model, source.example)
    for widths in ({"conv1": 16, "conv2": 8}, {"conv1": 8, "conv2": 8}):
        slim = analysis.cut(widths)
        assert predict(table, slim, source.example) == pytest.approx(FakeTarget.latency_of(widths["conv1"], widths["conv2"]), rel=1e-9)
    # a second run measures nothing, and a run that asks for no joints still has the cached ones
    first = len(fake_target.measured)
    again = profile(source, fake_target, GRID, align=8, cache_folder=tmp_path, joints=(0.5, 0.3))
    plain = profile(source, fake_target, GRID, align=8, cache_folder=tmp_path)
    assert len(fake_target.measured) == first and again.meta["measured_now"] == 0
    assert plain.joints == table.joints
    # the table written and read back keeps them
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table.to_dict()))
    from edgeprune.latency.table import LatencyTable

    assert LatencyTable.read(path).joints == table.joints


def test_joint_points_of_another_rule_are_measured_again(source, fake_target, tmp_path):
    table = profile(source, fake_target, GRID, cache_folder=tmp_path, joints=(0.5,))
    assert table.joints[0]["widths"] == {"conv1": 12, "conv2": 7}  # unaligned: 8 -> 7
    cache = json.loads(next(tmp_path.glob("*.json")).read_text())
    label = "*joint@0.5/0"
    cache["points"][label]["widths"] = {"conv1": 12, "conv2": 8}  # as an older rule would have cut
    next(tmp_path.glob("*.json")).write_text(json.dumps(cache))
    before = len(fake_target.measured)
    again = profile(source, fake_target, GRID, cache_folder=tmp_path, joints=(0.5,))
    assert len(fake_target.measured) == before + 2 and again.meta["measured_now"] == 1
    assert again.joints[0]["widths"] == {"conv1": 12, "conv2": 7}
    assert again.joints[0]["p50"] == pytest.approx(FakeTarget.latency_of(12, 7))


def test_profile_command_refuses_bad_joint_fractions_before_any_work(tmp_path, capsys):
    from edgeprune.cli import main

    out = tmp_path / "t.json"
    rc = main(["profile", "lenet5", "--out", str(out), "--joints", "0.5,1.5"])
    assert rc != 0 and not out.exists()
    assert "bad --joints '0.5,1.5': expected kept fractions strictly between 0 and 1" in capsys.readouterr().err
