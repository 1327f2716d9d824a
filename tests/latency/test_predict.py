"""The latency models on synthetic tables whose latency is a known per-layer function of the widths: what each
model recovers exactly, where the older ones miss, and the calibration on joint cuts."""

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.latency import joint, product
from edgeprune.latency.predict import by_macs, calibrated, layered, predict
from edgeprune.latency.table import LatencyTable

# a chain: A (16 -> g1) -> B (g1 -> g2) -> C (g2 -> 4); group g1 sets A's output and B's input, g2 B's output and C's
FULL = {"g1": 24, "g2": 16}
GROUPS = {"g1": {"width": 24, "out_layers": ["A"], "in_layers": ["B"], "coupled": False},
          "g2": {"width": 16, "out_layers": ["B"], "in_layers": ["C"], "coupled": False}}


def macs(w: dict) -> dict:
    return {"A": 16 * w["g1"] * 10, "B": w["g1"] * w["g2"] * 10, "C": w["g2"] * 4 * 10}


class Truth:
    """Latency = t0 + sum over layers of per_mac[layer] * MACs * slow(g1) * slow(g2) for the groups cutting it, where
    slow(w) = 1 + narrow * (full / w - 1) (1 at the full width: narrow kernels run slower per MAC)."""

    def __init__(self, t0=0.5, per_mac=None, narrow=0.0):
        self.t0, self.per_mac, self.narrow = t0, per_mac or {"A": 1e-3, "B": 1e-3, "C": 1e-3}, narrow

    def slow(self, root, w):
        return 1.0 + self.narrow * (FULL[root] / w - 1.0)

    def __call__(self, w: dict) -> float:
        m = macs(w)
        cut_by = {"A": ["g1"], "B": ["g1", "g2"], "C": ["g2"]}
        total = self.t0
        for layer, n in m.items():
            f = self.per_mac[layer] * n
            for root in cut_by[layer]:
                f *= self.slow(root, w[root])
            total += f
        return total


def make_table(truth, grid=(20, 16, 12, 8, 4), keeps=(), drift=1.0) -> LatencyTable:
    """The table a profile would measure of `truth`: every group alone at `grid` widths (those below its width),
    and joint cuts at `keeps`; `drift` scales each run (point) by a different factor, as a loaded machine does."""
    dense = truth(FULL)
    groups = {}
    for k, (root, g) in enumerate(GROUPS.items()):
        points = []
        for i, w in enumerate(x for x in grid if x < g["width"]):
            run = drift ** ((i + k) % 3)  # this run's machine speed
            widths = {**FULL, root: w}
            layers = g["out_layers"] + g["in_layers"]
            points.append({"width": w, "layer_macs": {n: v for n, v in macs(widths).items() if n in layers},
                           **{s: truth(widths) * run for s in ("p50", "p90")},
                           **{f"dense_{s}": dense * run for s in ("p50", "p90")}})
        groups[root] = {**g, "points": points}
    joints = []
    for keep in keeps:
        w = joint.widths(GROUPS, keep)
        joints.append({"keep": keep, "widths": w, "layer_macs": macs(w), "p50": truth(w) * drift, "p90": truth(w) * drift,
                       "dense_p50": dense * drift, "dense_p90": dense * drift})
    return LatencyTable("chain", {}, {"p50": dense, "p90": dense}, macs(FULL), groups, joints=joints)


def test_product_recovers_joint_cuts_where_time_follows_macs_and_narrow_kernels_are_slower():
    # exact when the MAC split of the dense time is each layer's time (the same ms per MAC, no time outside them)
    truth = Truth(t0=0.0, narrow=0.3)
    table = make_table(truth)
    for w in ({"g1": 12, "g2": 8}, {"g1": 4, "g2": 4}, {"g1": 20, "g2": 12}, {"g1": 8, "g2": 16}):
        assert product.product(table, w, macs(w)) == pytest.approx(truth(w), rel=1e-9)
    # the older layer model charges a layer cut on both sides the single cuts' efficiency on its saved MACs: it misses
    w = {"g1": 4, "g2": 4}
    assert abs(layered(table, w, macs(w)) / truth(w) - 1) > 0.1


def test_product_is_exact_on_single_group_points_even_when_per_layer_times_differ():
    truth = Truth(t0=0.2, per_mac={"A": 1e-3, "B": 4e-3, "C": 0.5e-3}, narrow=0.2)
    table = make_table(truth, drift=1.3)
    for root, ws in (("g1", (20, 12, 4, 14)), ("g2", (12, 8, 4, 10))):  # 14, 10: between measured widths
        for w in ws:
            widths = {**FULL, root: w}
            expect = table.dense["p50"] - product.saving(table, root, w)
            assert product.product(table, widths, macs(widths)) == pytest.approx(expect, rel=1e-9)
            if w % 4 == 0:
                assert expect == pytest.approx(truth(widths), rel=1e-9)  # the drift of each run cancels


def test_layer_times_take_what_a_group_saves_beyond_its_mac_share():
    # B takes 8x its MAC share of time: cutting g2 alone saves more than the MAC split gives B and C together
    truth = Truth(t0=0.1, per_mac={"A": 1e-3, "B": 8e-3, "C": 1e-3})
    table = make_table(truth)
    times = product.layer_times(table)
    dense = truth(FULL)
    by_macs = {n: dense * m / sum(macs(FULL).values()) for n, m in macs(FULL).items()}
    true_b = 8e-3 * macs(FULL)["B"]
    assert times["B"] > 1.3 * by_macs["B"] and abs(times["B"] - true_b) < 0.6 * abs(by_macs["B"] - true_b)
    assert sum(times.values()) <= dense + 1e-12
    for root in FULL:  # every measured single-group saving fits within the time given to the group's layers
        layers = GROUPS[root]["out_layers"] + GROUPS[root]["in_layers"]
        assert max(product.saving(table, root, w) for w in (20, 16, 12, 8, 4) if w < FULL[root]) \
            <= sum(times[n] for n in layers) + 1e-12


def test_calibration_hits_the_joint_points_and_keeps_single_cuts():
    truth = Truth(t0=0.1, per_mac={"A": 1e-3, "B": 8e-3, "C": 1e-3}, narrow=0.1)
    table = make_table(truth, keeps=(0.75, 0.5, 0.3), drift=1.2)
    for j in table.joints:
        w = j["widths"]
        assert calibrated(table, w, macs(w)) == pytest.approx(truth(w), rel=1e-9)
    uncal = [abs(product.product(table, j["widths"], macs(j["widths"])) / truth(j["widths"]) - 1) for j in table.joints]
    assert max(uncal) > 0.02  # there was something to calibrate
    # between the joint points: closer to the truth than the uncalibrated model
    w = {"g1": 15, "g2": 10}
    assert abs(calibrated(table, w, macs(w)) / truth(w) - 1) < abs(product.product(table, w, macs(w)) / truth(w) - 1)
    assert calibrated(table, w, macs(w)) == pytest.approx(truth(w), rel=0.02)


def test_where_joint_points_agree_with_product_single_cuts_keep_their_measured_figures():
    truth = Truth(t0=0.0, narrow=0.3)  # product is exact here (first test): the blend weight is 1
    table = make_table(truth, keeps=(0.75, 0.3), drift=1.2)
    for root in FULL:
        for w in (12, 4):
            widths = {**FULL, root: w}
            assert calibrated(table, widths, macs(widths)) == pytest.approx(truth(widths), rel=1e-9)
    w = {"g1": 10, "g2": 6}
    assert calibrated(table, w, macs(w)) == pytest.approx(truth(w), rel=1e-9)


def test_joint_points_that_follow_macs_pull_the_prediction_to_mac_proportion():
    # single cuts say B takes 8x its MAC share; cut together the model's time follows its MACs (tv-audio's case)
    truth = Truth(t0=0.0, per_mac={"A": 1e-3, "B": 8e-3, "C": 1e-3})
    table = make_table(truth, keeps=(0.75, 0.5, 0.3))
    dense = table.dense["p50"]
    for j in table.joints:
        j["p50"] = dense * sum(j["layer_macs"].values()) / sum(macs(FULL).values())
    assert joint.blend_weight(table, "p50", lambda w, m: product.product(table, w, m),
                              lambda m: by_macs(table, m)) == pytest.approx(0.0, abs=1e-9)
    w = {"g1": 10, "g2": 10}
    assert calibrated(table, w, macs(w)) == pytest.approx(by_macs(table, macs(w)), rel=0.01)
    assert abs(product.product(table, w, macs(w)) / by_macs(table, macs(w)) - 1) > 0.1


def test_without_joint_points_calibrated_is_product():
    truth = Truth(t0=0.1, per_mac={"A": 1e-3, "B": 8e-3, "C": 1e-3}, narrow=0.1)
    table = make_table(truth)
    w = {"g1": 12, "g2": 4}
    assert calibrated(table, w, macs(w)) == product.product(table, w, macs(w))


def test_joints_round_trip_and_old_tables_read_without_them():
    table = make_table(Truth(), keeps=(0.5,))
    again = LatencyTable.from_dict(table.to_dict())
    assert again.joints == table.joints and again.joints[0]["widths"] == {"g1": 12, "g2": 7}
    old = table.to_dict()
    del old["joints"]
    assert LatencyTable.from_dict(old).joints == []


def test_joint_widths_round_and_align():
    assert joint.widths(GROUPS, 0.3) == {"g1": 7, "g2": 5}
    assert joint.widths(GROUPS, 0.5) == {"g1": 12, "g2": 7}  # not a multiple of 8 without align: 8 -> 7
    assert joint.widths(GROUPS, 0.3, align=8) == {"g1": 8, "g2": 8}
    assert joint.widths(GROUPS, 0.01, align=8) == {"g1": 8, "g2": 8}
    assert joint.widths(GROUPS, 0.01) == {"g1": 1, "g2": 1}


def test_unknown_model_is_refused(source):
    table = make_table(Truth())
    with pytest.raises(EdgepruneError, match="unknown latency model 'flops'; choose one of calibrated, product"):
        predict(table, source.model, source.example, how="flops")
