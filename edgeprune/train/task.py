"""The two tasks a Trainer knows (binary, multiclass): the logits each asks of a model, its per-sample loss and
its probabilities."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from edgeprune.errors import EdgepruneError

TASKS = ("binary", "multiclass")


def check_task(task: str) -> str:
    """`task`, or one EdgepruneError naming the tasks there are."""
    if task not in TASKS:
        raise EdgepruneError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    return task


def task_logits(out: torch.Tensor, task: str, n: int) -> torch.Tensor:
    """A model's output for a batch of `n` as the task's logits: (B,) for binary (a (B, 1) output is squeezed),
    (B, classes) for multiclass; any other shape raises."""
    if task == "binary":
        if out.dim() == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if tuple(out.shape) != (n,):
            raise EdgepruneError(f"a binary model must return (B,) logits; got shape {tuple(out.shape)}")
    elif out.dim() != 2 or out.shape[0] != n:
        raise EdgepruneError(f"a multiclass model must return (B, classes) logits; got shape {tuple(out.shape)}")
    return out


def per_sample_loss(logits: torch.Tensor, labels: torch.Tensor, task: str) -> torch.Tensor:
    """Binary cross-entropy on logits, or cross-entropy over classes, one value per sample."""
    if task == "binary":
        return F.binary_cross_entropy_with_logits(logits, labels.float().reshape(-1), reduction="none")
    return F.cross_entropy(logits, labels.long().reshape(-1), reduction="none")


def probabilities(logits: torch.Tensor, task: str) -> torch.Tensor:
    """Binary: the sigmoid of each logit; multiclass: the softmax over classes."""
    return torch.sigmoid(logits) if task == "binary" else torch.softmax(logits, dim=1)
