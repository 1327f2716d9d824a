"""CPLR's CR(n) and k amplification, the per-round cut towards a target, LTH-IF's iteration plan."""

import math

import pytest

from edgeprune.methods import schedule


def test_cr_and_wsr_follow_eq_1_2():
    assert schedule.cr(0, 0.3) == 1.0
    assert schedule.cr(2, 0.3) == pytest.approx(0.49)
    assert schedule.wsr(2, 0.3) == pytest.approx(0.51)
    assert schedule.wsr(5, 0.3) == pytest.approx(1 - 0.7 ** 5)


def test_rounds_to_target():
    assert schedule.rounds_to_target(0.5, 0.3) == 2  # 0.3, 0.51
    assert schedule.rounds_to_target(0.51, 0.3) == 2  # exactly reached, no extra round from rounding
    assert schedule.rounds_to_target(0.8, 0.3) == 5  # 0.76 after 4, 0.83 after 5
    assert schedule.rounds_to_target(0.65, 0.05) == math.ceil(math.log(0.35) / math.log(0.95))
    assert schedule.rounds_to_target(0.0, 0.3) == 0
    with pytest.raises(ValueError):
        schedule.rounds_to_target(0.5, 1.0)


def test_k_amplification_switches_below_cr_0_2():
    assert schedule.amplification(0.2, k=4) == 1.0  # CR >= 0.2: k = 1
    assert schedule.amplification(0.19, k=4) == 4.0
    assert schedule.next_lr(1e-3, 0.5, k=2) == 1e-3
    assert schedule.next_lr(1e-3, 0.1, k=2) == pytest.approx(2e-3)
    # eq. 6 compounds: each round below the threshold multiplies again
    lr = 1e-3
    for cr in (0.7, 0.49, 0.343, 0.24, 0.168, 0.118):
        lr = schedule.next_lr(lr, cr, k=2)
    assert lr == pytest.approx(4e-3)
    assert schedule.amplification(0.3, k=3, below=0.5) == 3.0


def test_round_cut_clips_last_round_to_land_on_target():
    assert schedule.round_cut(0.0, 0.5, 0.3) == 0.3
    cut = schedule.round_cut(0.3, 0.5, 0.3)
    assert 1 - (1 - 0.3) * (1 - cut) == pytest.approx(0.5)
    assert schedule.round_cut(0.3, 0.5, 0.3, last_cut="full") == 0.3
    assert schedule.round_cut(0.5, 0.5, 0.3) == 0.0
    assert schedule.round_cut(0.0, 0.5, 0.5) == pytest.approx(0.5)  # cp: one shot to the target
    with pytest.raises(ValueError):
        schedule.round_cut(0.0, 0.5, 0.3, last_cut="half")


def test_lthif_plan_is_E_then_one_epoch_per_iteration():
    plan = schedule.lthif_plan(0.65, 0.05, first_epochs=5, iter_epochs=1)
    assert plan[0] == 5 and set(plan[1:]) == {1}
    prunes = len(plan) - 1
    assert 1 - 0.95 ** prunes >= 0.65 > 1 - 0.95 ** (prunes - 1)
    assert schedule.lthif_plan(0.9, 0.05, max_rounds=3) == [5, 1, 1, 1]
