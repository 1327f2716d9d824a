"""Two CPU processes (gloo, DDP) train like one: identical weights on both ranks, same weights and metrics as 1 rank."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from edgeprune.train import TrainConfig, Trainer
from edgeprune.train import distributed
from tiny_train_data import tiny_data, tiny_model

EPOCHS = 4


def _cfg():
    # global batch 16 -> 8 per rank; 60 training samples leave a last global batch of 12 (6 per rank)
    return TrainConfig(epochs=EPOCHS, lr=5e-3, batch_size=16, patience=0, seed=3, progress=False, warmup_epochs=0)


def _train(bn):
    data = tiny_data(n_train=60, n_dev=30, n_test=45)
    trainer = Trainer(tiny_model(seed=1, bn=bn), data, ("fbank",), "binary", _cfg())
    first = trainer.fit(epochs=2)
    fit = trainer.fit(epochs=EPOCHS - 2, lr=1e-2)  # a second fit (rewinding) builds a fresh DDP wrapper
    assert first.epochs_run == 2 and fit.history[0]["lr"] == 1e-2
    metrics = trainer.evaluate("test")
    state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
    return state, metrics, first.history + fit.history


def _worker(rank, world, port, bn, out_dir):
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    try:
        info = distributed.init_from_env("cpu")
        assert info.world_size == world and info.rank == rank and info.backend == "gloo"
        state, metrics, history = _train(bn)
        torch.save({"state": state, "metrics": metrics, "history": history}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        distributed.shutdown()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_two_ranks(bn, tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), bn, str(tmp_path)), nprocs=2, join=True)
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]


def _max_diff(a, b):
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


@pytest.mark.slow
def test_two_ranks_equal_one_rank_without_bn(tmp_path):
    r0, r1 = _run_two_ranks(False, tmp_path)
    assert _max_diff(r0["state"], r1["state"]) == 0.0
    assert r0["metrics"] == r1["metrics"]
    state, metrics, history = _train(False)
    # same samples per global step, gradients averaged to the global-batch mean: equal up to float rounding
    assert _max_diff(r0["state"], state) < 1e-5
    assert r0["metrics"]["n"] == metrics["n"] == 45
    for key in ("loss", "threshold", "score", "frr", "far", "far_at_frr"):
        assert r0["metrics"][key] == pytest.approx(metrics[key], abs=1e-4), key
    for a, b in zip(r0["history"], history):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
        assert a["dev_loss"] == pytest.approx(b["dev_loss"], abs=1e-5)


@pytest.mark.slow
def test_two_ranks_with_batchnorm_equal_one_rank(tmp_path):
    r0, r1 = _run_two_ranks(True, tmp_path)
    assert _max_diff(r0["state"], r1["state"]) == 0.0
    assert r0["metrics"] == r1["metrics"]
    state, metrics, _ = _train(True)
    # BN normalises with the statistics of the whole global batch (gathered over ranks), running stats included
    assert _max_diff(r0["state"], state) < 1e-4
    for key in ("loss", "score", "far_at_frr"):
        assert r0["metrics"][key] == pytest.approx(metrics[key], abs=1e-4), key
