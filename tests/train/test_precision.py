"""bf16 mixed precision: training forwards run in bf16, weights/optimizer/evaluation stay fp32, runs repeat."""

import contextlib

import pytest
import torch
from torch import nn

from edgeprune.errors import EdgepruneError
from edgeprune.train import TrainConfig, Trainer
from edgeprune.train.precision import autocast, native_bf16
from tiny_train_data import tiny_data, tiny_model


def _trainer(precision, model=None):
    cfg = TrainConfig(epochs=3, lr=1e-2, batch_size=16, patience=0, seed=0, progress=False, precision=precision)
    return Trainer(model or tiny_model(), tiny_data(), ("fbank",), "binary", cfg)


def _first_linear(model):
    return next(m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)))


@pytest.mark.parametrize("precision,train_dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_training_forwards_run_in_the_chosen_precision_and_evaluation_in_fp32(precision, train_dtype):
    model = tiny_model()
    seen = []
    _first_linear(model).register_forward_hook(lambda m, i, o: seen.append((m.training, o.dtype)))
    tr = _trainer(precision, model)
    fit = tr.fit()
    train_dtypes = {d for training, d in seen if training}
    eval_dtypes = {d for training, d in seen if not training}
    assert train_dtypes == {train_dtype}
    assert eval_dtypes == {torch.float32}  # dev selection every epoch is fp32
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert fit.history[-1]["train_loss"] < fit.history[0]["train_loss"]
    scores, _, _ = tr.predict("test")
    assert scores.dtype.kind == "f" and float(scores.std()) > 1e-3  # outputs vary over inputs


def test_bf16_training_learns_and_repeats_exactly():
    a, b = _trainer("bf16"), _trainer("bf16")
    fa, fb = a.fit(), b.fit()
    assert [h["train_loss"] for h in fa.history] == [h["train_loss"] for h in fb.history]
    sa, _, _ = a.predict("test")
    sb, _, _ = b.predict("test")
    assert (sa == sb).all()
    assert a.evaluate("test")["score"] < 0.5  # a working detector on the tiny task, as fp32 gives


def test_bf16_and_fp32_train_different_but_close_models():
    f32, b16 = _trainer("fp32"), _trainer("bf16")
    l32 = [h["train_loss"] for h in f32.fit().history]
    l16 = [h["train_loss"] for h in b16.fit().history]
    assert l32 != l16  # the precision is really applied
    assert abs(l32[-1] - l16[-1]) < 0.25 * max(l32[0], 1e-6)


def test_unknown_precision_is_refused_by_name():
    with pytest.raises(EdgepruneError, match="precision must be one of fp32, bf16, got 'fp16'"):
        TrainConfig(precision="fp16")


def test_autocast_context_sets_the_arithmetic_and_warns_without_native_bf16(monkeypatch):
    from edgeprune.train import precision

    monkeypatch.setattr(precision, "_warned", False)  # warn-once state of earlier tests in this process
    x, w = torch.randn(4, 8), torch.randn(8, 3)
    with autocast(torch.device("cpu"), "fp32"):
        assert (x @ w).dtype == torch.float32
    expect = contextlib.nullcontext() if native_bf16(torch.device("cpu")) else pytest.warns(RuntimeWarning, match="slower")
    with expect, autocast(torch.device("cpu"), "bf16"):
        assert (x @ w).dtype == torch.bfloat16
