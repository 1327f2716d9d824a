"""The loop's stop rules as a pure function of saved round metrics."""

import pytest

from edgeprune.methods.stopping import Stage, decide, score_of


def rnd(n, wsr, score, stage=0, removed=100, parts=None):
    return {"round": n, "wsr": wsr, "stage": stage, "removed": removed, "dev": {"score": score},
            "part_wsr": parts or {"model": wsr}}


ONE = [Stage("model", 0.5)]


def test_cuts_until_target_then_stops():
    d = decide([rnd(0, 0.0, 0.2)], ONE, 0.3)
    assert d.stop is None and d.amount == pytest.approx(0.3)
    d = decide([rnd(0, 0.0, 0.2), rnd(1, 0.3, 0.2)], ONE, 0.3)
    assert d.amount == pytest.approx(1 - 0.5 / 0.7)  # the clipped last cut
    d = decide([rnd(0, 0.0, 0.2), rnd(1, 0.3, 0.2), rnd(2, 0.499, 0.2)], ONE, 0.3)
    assert d.stop == "target WSR reached" and d.base_round == 2


def test_max_rounds_and_stall():
    d = decide([rnd(0, 0.0, 0.2), rnd(1, 0.1, 0.2)], ONE, 0.1, max_rounds=1)
    assert d.stop.startswith("max rounds") and d.base_round == 1
    d = decide([rnd(0, 0.0, 0.2), rnd(1, 0.1, 0.2), rnd(2, 0.1, 0.2, removed=0)], ONE, 0.1)
    assert d.stop == "a round removed nothing more"


def test_tolerance_keeps_the_last_good_round():
    rounds = [rnd(0, 0.0, 0.20), rnd(1, 0.3, 0.22), rnd(2, 0.5, 0.31)]
    d = decide(rounds, [Stage("model", 0.9)], 0.3, tolerance=0.05)
    assert d.stop.startswith("dev Score 0.3100 is worse") and d.base_round == 1
    assert decide(rounds, [Stage("model", 0.9)], 0.3, tolerance=0.2).stop is None


def test_stages_advance_on_their_own_wsr():
    stages = [Stage("lip_encoder", 0.8, part="lip_encoder"), Stage("model", 0.5, ignored=("lip_encoder",))]
    r0 = rnd(0, 0.0, 0.2, parts={"lip_encoder": 0.0, "model": 0.0})
    d = decide([r0], stages, 0.05)
    assert (d.stage, d.amount) == (0, 0.05)
    r1 = rnd(1, 0.2, 0.2, parts={"lip_encoder": 0.8, "model": 0.2})
    d = decide([r0, r1], stages, 0.05)
    assert (d.stop, d.stage, d.amount) == (None, 1, 0.05)
    r2 = rnd(2, 0.5, 0.2, stage=1, parts={"lip_encoder": 0.8, "model": 0.5})
    assert decide([r0, r1, r2], stages, 0.05).stop == "target WSR reached"


def test_score_of_multiclass_is_error_rate():
    assert score_of({"dev": {"accuracy": 0.9}}) == pytest.approx(0.1)
