"""Trainer on a tiny stand-in bundle: learning, determinism, early stopping with best weights, rewinding, bad input."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from edgeprune import metrics
from edgeprune.errors import EdgepruneError
from edgeprune.train import FitResult, TrainConfig, Trainer
from tiny_train_data import SNRS, tiny_data, tiny_model


def _cfg(**kw):
    # warm-up off: these tests read the rate of each epoch as the schedule's base
    base = dict(epochs=6, lr=1e-2, batch_size=16, patience=0, seed=0, progress=False, warmup_epochs=0)
    base.update(kw)
    return TrainConfig(**base)


def _trainer(model=None, data=None, **kw):
    return Trainer(model or tiny_model(), data or tiny_data(), ("fbank",), "binary", _cfg(**kw))


def test_fit_learns_and_evaluate_reports_all_metrics():
    tr = _trainer()
    before = tr.evaluate("dev")["loss"]
    fit = tr.fit()
    assert isinstance(fit, FitResult) and fit.epochs_run == 6
    assert [h["epoch"] for h in fit.history] == [1, 2, 3, 4, 5, 6]
    assert fit.history[-1]["train_loss"] < fit.history[0]["train_loss"]
    assert fit.best_dev_loss < before
    res = tr.evaluate("test")
    assert set(res) >= {"loss", "score", "frr", "far", "threshold", "far_at_frr", "per_snr", "n"}
    assert res["n"] == 48 and res["score"] < 0.5
    assert set(res["per_snr"]) == set(SNRS)
    assert sum(v["n"] for v in res["per_snr"].values()) == 48


def test_evaluate_uses_the_dev_threshold_on_test():
    tr = _trainer(epochs=3)
    tr.fit()
    dev_s, dev_y, _ = tr.predict("dev")
    s, y, snr = tr.predict("test")
    t = metrics.best_threshold(dev_s, dev_y)
    res = tr.evaluate("test")
    assert res["threshold"] == t
    assert (res["frr"], res["far"]) == metrics.frr_far(s, y, t)
    assert res["far_at_frr"] == metrics.far_at_frr(s, y, metrics.PAPER_FRR)
    assert res["per_snr"] == metrics.per_snr(s, y, snr, t, frr=metrics.PAPER_FRR)
    fixed = tr.evaluate("test", threshold=0.5)
    assert fixed["threshold"] == 0.5 and fixed["frr"] == metrics.frr_far(s, y, 0.5)[0]


def test_predict_order_and_labels_match_the_dataset():
    data = tiny_data()
    tr = _trainer(data=data, eval_batch_size=7)
    s, y, snr = tr.predict("test")
    assert s.shape == (48,) and np.all((s > 0) & (s < 1))
    assert np.array_equal(y, np.array([float(data.test[i]["label"]) for i in range(48)]))
    assert np.array_equal(snr, np.array([data.test[i]["snr"] for i in range(48)]))
    with torch.no_grad():
        tr.model.eval()
        direct = torch.sigmoid(tr.model(data.test[5]["fbank"][None]))[0]
    assert s[5] == pytest.approx(float(direct), abs=1e-6)


def test_same_seed_same_numbers_other_seed_differs():
    runs = []
    for seed in (0, 0, 1):
        tr = _trainer(model=tiny_model(dropout=0.3), epochs=3, seed=seed)
        fit = tr.fit()
        runs.append((fit.history, [p.detach().clone() for p in tr.model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    assert runs[0][0] != runs[2][0]


def test_early_stopping_keeps_the_best_weights():
    # a high rate over-fits the small set: dev loss turns up and patience ends the run
    tr = _trainer(epochs=30, lr=3e-2, patience=2, select="loss", schedule="constant")
    fit = tr.fit()
    losses = [h["dev_loss"] for h in fit.history]
    assert fit.stopped_early and fit.epochs_run < 30
    assert fit.best_epoch == int(np.argmin(losses)) + 1
    assert fit.epochs_run == fit.best_epoch + 2
    assert tr.evaluate("dev")["loss"] == pytest.approx(fit.best_dev_loss, abs=1e-6)


def test_restore_best_off_keeps_the_last_weights():
    tr = _trainer(epochs=30, lr=3e-2, patience=2, restore_best=False, select="loss", schedule="constant")
    fit = tr.fit()
    assert tr.evaluate("dev")["loss"] == pytest.approx(fit.history[-1]["dev_loss"], abs=1e-6)
    assert fit.history[-1]["dev_loss"] > fit.best_dev_loss


def test_each_fit_restarts_the_schedule_from_its_base_rate():
    tr = _trainer(epochs=4, schedule="cosine")
    first = tr.fit()
    assert [h["lr"] for h in first.history] == pytest.approx(tr.schedule.rates())
    assert first.history[0]["lr"] == 1e-2 and first.history[-1]["lr"] < 1e-3
    second = tr.fit(lr=2e-2, epochs=3)  # CPLR: rewind with alpha_{n+1} = k * alpha_n
    assert second.history[0]["lr"] == 2e-2 and second.lr == 2e-2
    assert tr.schedule.base_lr == 2e-2 and tr.schedule.epochs == 3


def _shrink(model, keep):
    """Mimic a channel pruner: keep `keep` conv channels, reshaping conv, BN and the LSTM input in place."""
    idx = torch.arange(keep)
    with torch.no_grad():
        conv = nn.Conv1d(40, keep, 3, padding=1, bias=False)
        conv.weight.copy_(model.conv.weight[idx])
        bn = nn.BatchNorm1d(keep)
        bn.weight.copy_(model.bn.weight[idx])
        bn.bias.copy_(model.bn.bias[idx])
        lstm = nn.LSTM(keep, 8, batch_first=True)
        for name, p in lstm.named_parameters():
            src = getattr(model.lstm, name)
            p.copy_(src[:, idx] if name.startswith("weight_ih") else src)
    model.conv, model.bn, model.lstm = conv, bn, lstm


def test_fit_after_the_model_changes_shape():
    tr = _trainer(epochs=2)
    tr.fit()
    _shrink(tr.model, 5)
    fit = tr.fit(epochs=2)  # a fresh optimizer: no stale state for the old shapes
    assert fit.epochs_run == 2 and math.isfinite(fit.best_dev_loss)
    assert tr.model.conv.weight.shape[0] == 5


def test_frozen_parts_do_not_change_and_stay_in_eval_mode():
    tr = _trainer(epochs=2)
    model = tr.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tr.fit(frozen=("conv", "bn"))
    after = model.state_dict()
    for k in ("conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):
        assert torch.equal(before[k], after[k]), k
    assert not torch.equal(before["head.weight"], after["head.weight"])
    assert all(p.requires_grad for p in model.parameters())  # restored after fit
    with pytest.raises(EdgepruneError, match="no sub-module"):
        tr.fit(frozen=("encoder",))
    with pytest.raises(EdgepruneError, match="every parameter is frozen"):
        tr.fit(frozen=("",) + tuple(n for n, _ in model.named_children()))


def test_masks_are_reapplied_after_every_step():
    tr = _trainer(epochs=2)
    w = tr.model.head.weight
    mask = torch.ones_like(w)
    mask[0, ::2] = 0
    tr.fit(masks={"head.weight": mask})
    assert torch.all(tr.model.head.weight[0, ::2] == 0)
    assert torch.all(tr.model.head.weight[0, 1::2] != 0)
    with pytest.raises(EdgepruneError, match="has shape"):
        tr.fit(masks={"head.weight": torch.ones(3)})
    with pytest.raises(EdgepruneError, match="unknown parameter"):
        tr.fit(masks={"head.nope": mask})


def test_l1_on_bn_scales_makes_them_sparser():
    gammas = []
    for l1 in (0.0, 3e-2):
        tr = _trainer(epochs=4)
        tr.fit(l1_bn=l1)
        gammas.append(float(tr.model.bn.weight.detach().abs().sum()))
    assert gammas[1] < gammas[0] - 0.5


def test_multiclass_reports_accuracy():
    data = tiny_data(multiclass=True)
    tr = Trainer(tiny_model(classes=3), data, ("fbank",), "multiclass", _cfg(epochs=6))
    tr.fit()
    res = tr.evaluate("test")
    assert set(res) == {"split", "n", "loss", "accuracy"}
    assert res["accuracy"] > 0.6  # chance is 1/3
    probs, labels, _ = tr.predict("test")
    assert probs.shape == (48, 3) and np.allclose(probs.sum(1), 1)
    assert res["accuracy"] == pytest.approx(float(np.mean(probs.argmax(1) == labels)))


def test_progress_bar_shows_loss_and_dev_score(monkeypatch, capsys):
    monkeypatch.setenv("EDGEPRUNE_NO_PROGRESS", "0")
    _trainer(epochs=2, progress=True).fit(desc="pretrain")
    err = capsys.readouterr().err
    assert "pretrain" in err and "loss=" in err and "dev_score=" in err


def test_progress_bar_off_by_env(monkeypatch, capsys):
    monkeypatch.setenv("EDGEPRUNE_NO_PROGRESS", "1")
    _trainer(epochs=1, progress=True).fit(desc="pretrain")
    assert "pretrain" not in capsys.readouterr().err


def test_bad_input_raises_clear_errors():
    data = tiny_data()
    with pytest.raises(EdgepruneError, match="task must be"):
        Trainer(tiny_model(), data, ("fbank",), "regression", _cfg())
    with pytest.raises(EdgepruneError, match="lack lips"):
        Trainer(tiny_model(), data, ("fbank", "lips"), "binary", _cfg())
    with pytest.raises(EdgepruneError, match="unknown split"):
        _trainer().evaluate("eval")
    with pytest.raises(EdgepruneError, match="multiclass model must return"):
        Trainer(tiny_model(), tiny_data(multiclass=True), ("fbank",), "multiclass", _cfg()).evaluate()
    data.dev = data.dev.__class__(data.dev.fbank[:0], data.dev.labels[:0], data.dev.snrs[:0], "dev")
    with pytest.raises(EdgepruneError, match="dev split is empty"):
        Trainer(tiny_model(), data, ("fbank",), "binary", _cfg())


def test_cuda_device_works_or_is_refused_clearly():
    if torch.cuda.is_available():
        tr = _trainer(epochs=1, device="cuda")
        tr.fit()
        assert next(tr.model.parameters()).is_cuda
    else:
        with pytest.raises(EdgepruneError, match="CUDA is not available"):
            _trainer(device="cuda")


def _scripted(tr, summaries):
    """Make dev evaluation return scripted (loss, Score) pairs, one per epoch, and record each epoch's weights."""
    seen = iter(summaries)
    weights = []

    def summary(split):
        assert split == "dev"
        weights.append([p.detach().clone() for p in tr.model.parameters()])
        loss, score = next(seen)
        return {"dev_loss": loss, "dev_score": score}

    tr._summary = summary
    return weights


def test_selection_is_by_dev_score_with_ties_broken_by_dev_loss():
    tr = _trainer(epochs=5, patience=0)
    # epoch 2 has the best loss, epochs 3 and 4 share the best Score and 4 has the lower loss of the two
    weights = _scripted(tr, [(0.6, 0.5), (0.2, 0.4), (0.5, 0.3), (0.4, 0.3), (0.3, 0.35)])
    fit = tr.fit()
    assert fit.best_epoch == 4 and fit.best_dev_score == 0.3 and fit.best_dev_loss == 0.4
    assert all(torch.equal(a, b) for a, b in zip(tr.model.parameters(), weights[3]))
    assert not all(torch.equal(a, b) for a, b in zip(weights[3], weights[4]))  # training did move on


def test_select_loss_is_the_papers_early_stop_point():
    tr = _trainer(epochs=5, patience=0, select="loss")
    _scripted(tr, [(0.6, 0.5), (0.2, 0.4), (0.5, 0.3), (0.4, 0.3), (0.3, 0.35)])
    assert tr.fit().best_epoch == 2


def test_early_stopping_counts_epochs_without_a_better_score():
    tr = _trainer(epochs=20, patience=3)
    # the loss keeps improving but Score stops improving after epoch 2
    _scripted(tr, [(0.9 - 0.05 * i, s) for i, s in enumerate([0.5, 0.3, 0.35, 0.32, 0.31, 0.2, 0.1])])
    fit = tr.fit()
    assert fit.stopped_early and fit.epochs_run == 5 and fit.best_epoch == 2
