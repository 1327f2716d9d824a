"""Per-group sensitivity: dev Score after removing 10 %, 20 %, ... of one group alone, no retraining.

Each cut is ChannelPruner's ranking of that group applied to a copy (edgeprune.latency.groups.Analysis); the
copy's BatchNorm statistics are then re-estimated on training batches (cumulative average, every other layer
in eval mode), because a cut shifts the statistics of every layer downstream.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from edgeprune.errors import EdgepruneError

FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def train_batches(bundle, inputs, batch_size: int, count: int, seed: int = 0) -> list[tuple[torch.Tensor, ...]]:
    """`count` batches of training inputs (seeded draw without replacement), for BatchNorm re-estimation."""
    train = bundle.train
    n = len(train)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    out = []
    for b in range(min(count, -(-n // batch_size))):
        items = [train[i] for i in order[b * batch_size:(b + 1) * batch_size]]
        out.append(tuple(torch.stack([it[k] for it in items]) for k in inputs))
    return out


@torch.no_grad()
def reestimate_bn(model: nn.Module, batches) -> int:
    """Reset every BatchNorm's running statistics and re-estimate them on `batches` (cumulative average);
    returns the number of BatchNorm layers. Nothing but BatchNorm runs in train mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns or not batches:
        return len(bns)
    model.eval()
    saved = [(m.momentum, m.track_running_stats) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the batches
        m.train()
    try:
        for batch in batches:
            model(*batch)
    finally:
        for m, (momentum, _) in zip(bns, saved):
            m.momentum = momentum
        model.eval()
    return len(bns)


def dev_score(model: nn.Module, bundle, inputs, task: str, batch_size: int) -> float:
    """Binary: dev Score (FRR + FAR at the threshold chosen on dev). Multiclass: dev error (1 - accuracy).
    Lower is better in both."""
    from edgeprune.train import TrainConfig, Trainer

    trainer = Trainer(model, bundle, inputs, task, TrainConfig(batch_size=batch_size, progress=False, device="cpu"))
    res = trainer.evaluate("dev")
    return float(res["score"]) if task == "binary" else 1.0 - float(res["accuracy"])


def sensitivity(source, bundle, fractions=FRACTIONS, bn_batches: int = 10, batch_size: int = 64,
                importance: str = "l1", seed: int = 0, groups=None) -> dict:
    """{"dense": score, "groups": {root: {"width", "points": [{"removed", "width", "score", "params"}]}}}.
    `source` is an export.source.ExportSource (model, input names, example, task); `groups` limits the roots."""
    from edgeprune.counting import count_params
    from edgeprune.data.progress import progress
    from edgeprune.latency.groups import Analysis

    if not all(0 < f < 1 for f in fractions):
        raise EdgepruneError(f"removed fractions must lie strictly between 0 and 1, got {list(fractions)}")
    inputs = source.input_names
    batches = train_batches(bundle, inputs, batch_size, bn_batches, seed)
    base = _copy(source.model)
    reestimate_bn(base, batches)  # the reference gets the same treatment as every cut
    dense = dev_score(base, bundle, inputs, source.task, batch_size)
    analysis = Analysis(source.model, source.example, importance=importance)
    roots = list(analysis.groups) if groups is None else [analysis.check(r).root for r in groups]
    params_dense = count_params(source.model)
    work = [(r, f) for r in roots for f in fractions]
    out = {r: {"width": analysis.groups[r].width, "points": []} for r in roots}
    seen: dict[tuple[str, int], dict] = {}
    for root, frac in progress(work, desc="sensitivity", total=len(work)):
        width = analysis.groups[root].width
        keep = max(1, width - int(round(frac * width)))
        if (root, keep) not in seen:
            slim = analysis.cut({root: keep})
            reestimate_bn(slim, batches)
            seen[(root, keep)] = {"width": keep, "score": dev_score(slim, bundle, inputs, source.task, batch_size),
                                  "params_removed": params_dense - count_params(slim)}
        out[root]["points"].append({"removed": frac, **seen[(root, keep)]})
    return {"dense_score": dense, "params": params_dense, "importance": importance, "bn_batches": len(batches),
            "metric": "dev Score (FRR+FAR)" if source.task == "binary" else "dev error (1 - accuracy)",
            "groups": out}


def _copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model).eval()


def losses(result: dict) -> dict[str, list[tuple[float, float]]]:
    """{root: [(removed fraction, Score loss against dense)]} from a sensitivity result."""
    dense = result["dense_score"]
    return {r: [(p["removed"], p["score"] - dense) for p in g["points"]] for r, g in result["groups"].items()}


def varies(values) -> bool:
    return bool(np.ptp(np.asarray(values, dtype=float)) > 0)
