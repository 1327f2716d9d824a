"""TrainConfig (help text, per-model defaults, validation) and LRSchedule (shapes, rewinding)."""

import dataclasses
import math
from types import SimpleNamespace

import pytest
import torch

from edgeprune.errors import EdgepruneError
from edgeprune.train import LRSchedule, TrainConfig


def test_every_field_has_help_text():
    helps = TrainConfig.help()
    assert set(helps) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert all(isinstance(h, str) and len(h) > 10 for h in helps.values())
    assert {"epochs", "lr", "batch_size", "patience", "l1_bn", "schedule", "seed", "device", "progress"} <= set(helps)


def test_for_model_takes_the_spec_defaults_then_overrides():
    audio = SimpleNamespace(defaults={"batch_size": 64, "lr": 1e-4, "epochs": 30})
    av = SimpleNamespace(defaults={"batch_size": 16, "lr": 2e-4, "epochs": 20})
    a = TrainConfig.for_model(audio)
    assert (a.batch_size, a.lr, a.epochs) == (64, 1e-4, 30)
    v = TrainConfig.for_model(av, epochs=3, seed=7, lr=None)
    assert (v.batch_size, v.lr, v.epochs, v.seed) == (16, 2e-4, 3, 7)
    with pytest.raises(EdgepruneError, match="no field bogus"):
        TrainConfig.for_model(audio, bogus=1)


@pytest.mark.parametrize(
    "kw", [{"epochs": 0}, {"lr": 0}, {"batch_size": 0}, {"schedule": "linear"}, {"device": "tpu"}, {"patience": -1}]
)
def test_bad_values_are_refused(kw):
    with pytest.raises(EdgepruneError, match="TrainConfig"):
        TrainConfig(**kw)


def test_constant_schedule_with_warmup_rises_step_by_step():
    s = LRSchedule(1e-3, 5, "constant", warmup_epochs=1)
    assert s.rates() == pytest.approx([1e-5, 1e-3, 1e-3, 1e-3, 1e-3])
    assert [s.lr_at(t) for t in (0.25, 0.5, 0.999)] == pytest.approx([2.5e-4, 5e-4, 0.999e-3])


def test_warmup_is_at_most_a_quarter_of_the_fit():
    one = LRSchedule(1e-3, 1, "cosine", warmup_epochs=1, min_lr_ratio=0.1)  # an LTH-IF iteration
    assert one.warmup == 0.25
    assert one.lr_at(0.125) == pytest.approx(5e-4) and one.lr_at(0.25) == pytest.approx(1e-3)
    assert one.lr_at(0.9) == pytest.approx(1e-4 + 0.9e-3 * 0.5 * (1 + math.cos(math.pi * 0.65)))


def test_cosine_after_warmup_starts_at_the_base_and_ends_at_the_floor():
    s = LRSchedule(1.0, 6, "cosine", warmup_epochs=1, min_lr_ratio=0.02)
    assert s.lr_at(1.0) == pytest.approx(1.0)
    assert s.lr_at(5.0) == pytest.approx(0.02) and s.lr_at(5.9) == pytest.approx(0.02)
    rates = [s.lr_at(t / 10) for t in range(10, 50)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_cosine_and_step_schedules():
    c = LRSchedule(1.0, 5, "cosine", min_lr_ratio=0.1)
    assert c.rates() == pytest.approx([1.0, 0.1 + 0.9 * (1 + math.cos(math.pi / 4)) / 2, 0.55, 0.1 + 0.9 * (1 - math.cos(math.pi / 4)) / 2, 0.1])
    st = LRSchedule(1.0, 6, "step", step_epochs=2, step_gamma=0.5)
    assert st.rates() == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])


def test_rewind_restarts_from_the_beginning_with_a_new_base():
    s = LRSchedule(2e-4, 4, "cosine")
    r = s.rewind(factor=2)  # CPLR eq. 7, k = 2
    assert r.rates()[0] == pytest.approx(4e-4)
    assert r.rates() == pytest.approx([2 * x for x in s.rates()])
    assert s.rewind(base_lr=1e-3).lr_at(0) == 1e-3


def test_apply_sets_every_param_group():
    opt = torch.optim.Adam([{"params": [torch.zeros(1, requires_grad=True)]}, {"params": [torch.zeros(1, requires_grad=True)]}])
    lr = LRSchedule(1.0, 4, "step", step_epochs=1, step_gamma=0.5).apply(opt, 2)
    assert lr == 0.25 and all(g["lr"] == 0.25 for g in opt.param_groups)
    with pytest.raises(EdgepruneError, match="schedule"):
        LRSchedule(1.0, 3, "exp")
