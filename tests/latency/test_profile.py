"""edgeprune.latency.profile with a fake target of known latency: the table, the cache, the budget, resuming."""

import json

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.latency.profile import grid_widths, profile
from edgeprune.latency.table import LatencyTable

from tiny_latency import FakeTarget, tiny_source

GRID = (0.75, 0.5, 0.25)


def test_grid_widths_with_alignment():
    assert grid_widths(24, GRID) == [18, 12, 6]
    assert grid_widths(24, GRID, align=8) == [18, 16, 12, 8, 6]
    assert grid_widths(3, (0.1,)) == [1]  # at least one channel
    assert grid_widths(1, GRID) == []


def test_table_holds_the_measured_latency_of_each_single_group_cut(source, fake_target, tmp_path):
    table = profile(source, fake_target, GRID, cache_folder=tmp_path)
    assert set(table.groups) == {"conv1", "conv2"}  # fc's output is the model output: not a group
    assert [p["width"] for p in table.points("conv1")] == [18, 12, 6]
    assert table.dense["p50"] == pytest.approx(FakeTarget.latency_of(24, 16))
    for w in (18, 12, 6):
        assert table.latency("conv1", w) == pytest.approx(FakeTarget.latency_of(w, 16))
    for w in (12, 8, 4):
        assert table.latency("conv2", w) == pytest.approx(FakeTarget.latency_of(24, w))
    assert table.groups["conv1"]["in_layers"] == ["conv2"] and table.groups["conv2"]["in_layers"] == ["fc"]
    assert table.complete and table.meta["measured_now"] == 6
    again = LatencyTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert again.latency("conv2", 8) == table.latency("conv2", 8)


def test_second_run_measures_nothing(source, fake_target, tmp_path):
    profile(source, fake_target, GRID, cache_folder=tmp_path)
    first = len(fake_target.measured)
    table = profile(tiny_source(), fake_target, GRID, cache_folder=tmp_path)
    assert len(fake_target.measured) == first and table.meta["measured_now"] == 0
    assert table.latency("conv1", 6) == pytest.approx(FakeTarget.latency_of(6, 16))


@pytest.mark.parametrize("change", ["runtime_version", "threads", "architecture"])
def test_cache_is_invalidated(change, source, fake_target, tmp_path):
    profile(source, fake_target, GRID, cache_folder=tmp_path)
    target, src = FakeTarget(), source
    if change == "runtime_version":
        target = FakeTarget(version="2.0")
    elif change == "threads":
        target = FakeTarget(threads=2)
    else:
        src = tiny_source(c1=20)
    table = profile(src, target, GRID, cache_folder=tmp_path)
    assert table.meta["measured_now"] == 6 and len(target.measured) == 6 + 2  # two groups, each with its dense
    assert table.meta["runtime_version"] == target.version and table.meta["threads"] == target.threads


def test_budget_stops_between_groups_and_a_rerun_resumes(source, fake_target, tmp_path):
    ticks = iter(range(0, 10_000, 100))
    table = profile(source, fake_target, GRID, max_seconds=150, cache_folder=tmp_path, clock=lambda: next(ticks))
    assert not table.complete and table.meta["measured_now"] == 3
    done = [r for r in table.groups if table.points(r)]
    missing = [r for r in table.groups if not table.points(r)]
    assert len(done) == 1 and len(missing) == 1 and missing[0] in table.notes[0]
    table = profile(tiny_source(), fake_target, GRID, cache_folder=tmp_path)
    assert table.complete and table.meta["measured_now"] == 3 and len(table.points(missing[0])) == 3


def test_unknown_group_is_one_error(source, fake_target, tmp_path):
    table = profile(source, fake_target, GRID, cache_folder=tmp_path)
    with pytest.raises(EdgepruneError, match="group 'fc' is not in the latency table"):
        table.latency("fc", 1)
