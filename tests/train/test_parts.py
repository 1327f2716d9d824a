"""Trainer parts on their own: batch plans over ranks, L1 on BN scales, masks, freezing, global-batch BN."""

import pytest
import torch
from torch import nn

from edgeprune.errors import EdgepruneError
from edgeprune.train.batches import eval_shard, train_plan
from edgeprune.train.frozen import freeze, train_mode
from edgeprune.train.masks import apply_masks, check_masks
from edgeprune.train.sparsity import add_bn_l1_grad, bn_l1, bn_scales
from tiny_train_data import tiny_model


def test_rank_pieces_of_each_step_make_the_single_process_batch():
    one = train_plan(50, 16, seed=4, epoch=2)
    two = [train_plan(50, 16, seed=4, epoch=2, rank=r, world=2) for r in range(2)]
    assert [g for _, g in one] == [16, 16, 16, 2]
    for step, (idx, g) in enumerate(one):
        assert sorted(two[0][step][0] + two[1][step][0]) == sorted(idx)
        assert two[0][step][1] == g
    assert sorted(i for idx, _ in one for i in idx) == list(range(50))
    assert train_plan(50, 16, seed=4, epoch=3) != one  # reshuffled each epoch


def test_plan_drops_a_last_batch_too_small_for_the_ranks():
    plan = train_plan(33, 16, seed=0, epoch=0, rank=1, world=2)
    assert [g for _, g in plan] == [16, 16]
    with pytest.raises(EdgepruneError, match="smaller than the number of ranks"):
        train_plan(10, 2, seed=0, epoch=0, world=4)


def test_eval_shards_cover_every_sample_once():
    shards = [eval_shard(11, r, 3) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(11))


def test_l1_subgradient_on_bn_scales_only():
    model = tiny_model()
    with torch.no_grad():
        model.bn.weight.copy_(torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0, -1.0, 1.0, 1.0]))
    assert bn_l1(model) == pytest.approx(9.5)
    assert bn_scales(model) == [model.bn.weight]
    add_bn_l1_grad(model, 0.1)
    assert torch.allclose(model.bn.weight.grad, 0.1 * torch.tensor([1.0, -1, 1, 0, 1, -1, 1, 1]))
    assert model.bn.bias.grad is None and model.head.weight.grad is None


def test_masks_check_and_apply():
    model = tiny_model()
    mask = (torch.rand_like(model.head.weight) > 0.5).float()
    masks = check_masks(model, {"head.weight": mask})
    apply_masks(model, masks)
    assert torch.all(model.head.weight[mask == 0] == 0)
    with pytest.raises(EdgepruneError, match="only 0 and 1"):
        check_masks(model, {"head.weight": mask * 0.5})


def test_freeze_is_undone_and_train_mode_keeps_frozen_in_eval():
    model = tiny_model()
    with freeze(model, ["bn"]) as mods:
        assert not model.bn.weight.requires_grad and model.conv.weight.requires_grad
        train_mode(model, mods)
        assert model.training and not model.bn.training
    assert model.bn.weight.requires_grad


def test_global_batch_norm_equals_plain_bn_in_one_process():
    # with a world of one the all-reduce is the identity, so the patched forward must equal torch's BN
    import os

    import torch.distributed as dist

    from edgeprune.train.syncbn import synced_batchnorm

    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=0, world_size=1)
    try:
        a, b = nn.BatchNorm2d(3), nn.BatchNorm2d(3)
        x = torch.randn(4, 3, 5, 6) * 2 + 1
        xa = x.clone().requires_grad_(True)
        xb = x.clone().requires_grad_(True)
        ya = a(xa)
        with synced_batchnorm(b) as patched:
            assert patched == [b]
            yb = b(xb)
        assert "forward" not in b.__dict__
        assert torch.allclose(ya, yb, atol=1e-5)
        (ya * torch.arange(6.0)).sum().backward()
        (yb * torch.arange(6.0)).sum().backward()
        assert torch.allclose(xa.grad, xb.grad, atol=1e-5)
        assert torch.allclose(a.running_mean, b.running_mean) and torch.allclose(a.running_var, b.running_var)
        assert int(b.num_batches_tracked) == 1
    finally:
        dist.destroy_process_group()
