"""Trainer: fit() (AdamW/Adam, a fresh LR schedule per call, so a second fit *is* learning-rate rewinding; sparse
training, frozen parts, weight masks, DDP under torchrun), predict() and evaluate() on one DataBundle."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from edgeprune import metrics
from edgeprune.errors import EdgepruneError
from edgeprune.train import distributed, evaluation
from edgeprune.train.batches import eval_shard, train_plan
from edgeprune.train.collate import AugmentCollate, augmenters_for
from edgeprune.train.config import TrainConfig
from edgeprune.train.frozen import freeze, train_mode
from edgeprune.train.masks import apply_masks, check_masks
from edgeprune.train.precision import autocast
from edgeprune.train.result import FitResult
from edgeprune.train.schedule import LRSchedule
from edgeprune.train.seeding import seed_all
from edgeprune.train.selection import BestEpoch, selection_key
from edgeprune.train.sparsity import add_bn_l1_grad
from edgeprune.train.syncbn import synced_batchnorm
from edgeprune.train.task import TASKS, check_task, per_sample_loss, probabilities, task_logits

__all__ = ["SPLITS", "TASKS", "AugmentCollate", "Trainer", "progress_enabled", "selection_key"]  # as before the split

SPLITS = ("train", "dev", "test")


def progress_enabled(cfg: TrainConfig) -> bool:
    """Progress bars show unless the config turns them off, EDGEPRUNE_NO_PROGRESS=1, or this is not rank 0."""
    return bool(cfg.progress) and os.environ.get("EDGEPRUNE_NO_PROGRESS", "") != "1" and distributed.current().is_main


class Trainer:
    """Trains and evaluates one model on one DataBundle (`.train .dev .test` datasets of dict items)."""

    def __init__(self, model: nn.Module, data, inputs, task: str, cfg: TrainConfig | None = None):
        self.cfg = cfg if cfg is not None else TrainConfig()
        if not isinstance(self.cfg, TrainConfig):
            raise EdgepruneError(f"cfg must be a TrainConfig, got {type(self.cfg).__name__}")
        check_task(task)
        if isinstance(inputs, str):
            inputs = (inputs,)
        self.inputs = tuple(inputs)
        if not self.inputs:
            raise EdgepruneError("the model needs at least one input name (e.g. fbank)")
        self.model = model
        self.data = data
        self.task = task
        for split in SPLITS:
            self._split(split)
        sample = self._split("train")[0]
        missing = [k for k in (*self.inputs, "label") if k not in sample]
        if missing:
            raise EdgepruneError(f"data items lack {', '.join(missing)} (the model needs {', '.join(self.inputs)})")
        self.dist = distributed.init_from_env(self.cfg.device)
        self.device = distributed.device_for(self.cfg.device, self.dist)
        self.schedule: LRSchedule | None = None
        self._fits = 0
        self.augmenters = augmenters_for(self.data, self._split("train"), self.inputs, self.cfg)

    def _loader(self, split: str, batches: list[list[int]], collate=None) -> DataLoader:
        return DataLoader(self._split(split), batch_sampler=batches, num_workers=self.cfg.num_workers,
                          collate_fn=collate)

    # ---------------------------------------------------------------- data
    def _split(self, split: str):
        if split not in SPLITS:
            raise EdgepruneError(f"unknown split {split!r} (train, dev or test)")
        ds = getattr(self.data, split, None)
        if ds is None or len(ds) == 0:
            raise EdgepruneError(f"the {split} split is empty")
        return ds

    def _forward(self, net: nn.Module, batch: dict) -> torch.Tensor:
        x = [batch[k].to(self.device, non_blocking=True) for k in self.inputs]
        return task_logits(net(*x), self.task, x[0].shape[0])

    def _losses(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return per_sample_loss(logits, labels.to(self.device), self.task)

    # ---------------------------------------------------------------- training
    def fit(self, epochs=None, lr=None, l1_bn=None, frozen=(), masks=None, desc: str = "") -> FitResult:
        """Train with a fresh optimizer and a fresh schedule; select and stop early on dev Score (or loss, per
        cfg.select); keep the best weights."""
        cfg = self.cfg
        epochs = cfg.epochs if epochs is None else int(epochs)
        lr = cfg.lr if lr is None else float(lr)
        l1 = cfg.l1_bn if l1_bn is None else float(l1_bn)
        if epochs < 1:
            raise EdgepruneError(f"fit needs at least one epoch, got {epochs}")
        if l1 < 0:
            raise EdgepruneError(f"l1_bn must be >= 0, got {l1}")
        if isinstance(frozen, str):
            frozen = (frozen,)
        self._fits += 1
        run_seed = cfg.seed + 1009 * self._fits
        seed_all(run_seed + 7919 * self.dist.rank)  # dropout noise differs per rank, shuffling does not
        self.schedule = LRSchedule.from_config(cfg, lr, epochs)
        model = self.model.to(self.device)
        start = time.perf_counter()
        sync = self.dist.active and cfg.sync_bn
        with freeze(model, frozen) as frozen_mods, synced_batchnorm(model, enabled=sync):
            trainable = [p for p in model.parameters() if p.requires_grad]
            if not trainable:
                raise EdgepruneError("nothing to train: every parameter is frozen")
            mask_t = check_masks(model, masks or {})
            apply_masks(model, mask_t)
            net = self._wrap(model)
            optim = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
            opt = optim(trainable, lr=lr, weight_decay=cfg.weight_decay)
            history, best, stopped = [], BestEpoch(cfg.select, cfg.patience), False
            bar = tqdm(range(epochs), desc=desc or "train", disable=not progress_enabled(cfg))
            for epoch in bar:
                cur_lr = self.schedule.lr_at(epoch)
                train_mode(model, frozen_mods)
                train_loss = self._train_epoch(net, model, opt, trainable, run_seed, epoch, l1, mask_t)
                distributed.broadcast_state(model)
                dev = self._summary("dev")
                history.append({"epoch": epoch + 1, "lr": cur_lr, "train_loss": train_loss, **dev})
                bar.set_postfix({"loss": f"{train_loss:.4f}", **{k: f"{v:.4f}" for k, v in dev.items()}})
                if best.update(epoch + 1, dev, model):
                    stopped = True
                    break
            bar.close()
            if stopped and progress_enabled(cfg):
                tqdm.write(f"{desc or 'train'}: early stop at epoch {len(history)} (best epoch {best.epoch})")
        if cfg.restore_best and best.state is not None:
            model.load_state_dict(best.state)
        return FitResult(
            epochs_run=len(history),
            best_epoch=best.epoch,
            best_dev_loss=best.loss,
            best_dev_score=history[best.epoch - 1].get("dev_score", math.nan) if best.epoch else math.nan,
            stopped_early=stopped,
            lr=lr,
            l1_bn=l1,
            seconds=time.perf_counter() - start,
            history=history,
        )

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.dist.active:
            return model
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(model, device_ids=ids)

    def _train_epoch(self, net, model, opt, trainable, run_seed, epoch, l1, mask_t) -> float:
        cfg, info = self.cfg, self.dist
        plan = train_plan(len(self._split("train")), cfg.batch_size, run_seed, epoch, info.rank, info.world_size)
        crop = getattr(self._split("train"), "crop", None)
        collate = AugmentCollate(self.augmenters, run_seed, epoch, crop) if self.augmenters else None
        loader = self._loader("train", [idx for idx, _ in plan], collate)
        total, count = 0.0, 0
        for step, (batch, (_, global_n)) in enumerate(zip(loader, plan)):
            self.schedule.apply(opt, epoch + step / len(plan))
            with autocast(self.device, cfg.precision):
                logits = self._forward(net, batch)
            losses = self._losses(logits.float(), batch["label"])
            # sum / global batch, times world: DDP's averaging over ranks then gives the global-batch mean
            loss = losses.sum() * (info.world_size / global_n)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            add_bn_l1_grad(model, l1)
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
            opt.step()
            apply_masks(model, mask_t)
            total += float(losses.detach().sum())
            count += losses.numel()
        total, count = distributed.all_sum([total, count])
        return total / max(count, 1)

    # ---------------------------------------------------------------- evaluation
    @torch.no_grad()
    def _outputs(self, split: str) -> dict[str, np.ndarray]:
        """Per-sample loss, score (binary: probability; multiclass: class probabilities), label, snr over all ranks."""
        ds = self._split(split)
        info = self.dist
        shard = eval_shard(len(ds), info.rank, info.world_size)
        bs = self.cfg.eval_batch_size
        model = self.model.to(self.device)
        was_training = model.training
        model.eval()
        parts = {"index": [], "loss": [], "score": [], "label": [], "snr": []}
        try:
            batches = [shard[i : i + bs] for i in range(0, len(shard), bs)]
            for idx, batch in zip(batches, self._loader(split, batches)):
                logits = self._forward(model, batch)
                probs = probabilities(logits, self.task)
                parts["index"].append(np.asarray(idx, dtype=np.int64))
                parts["loss"].append(self._losses(logits, batch["label"]).double().cpu().numpy())
                parts["score"].append(probs.double().cpu().numpy())
                parts["label"].append(batch["label"].cpu().numpy().reshape(-1))
                snr = batch.get("snr")
                snr = np.full(len(idx), np.nan) if snr is None else np.asarray(snr, dtype=np.float64).reshape(-1)
                parts["snr"].append(snr)
        finally:
            model.train(was_training)
        width = () if self.task == "binary" else (self._num_classes(parts),)
        local = {
            k: (np.concatenate(v) if v else np.zeros((0, *width) if k == "score" else (0,)))
            for k, v in parts.items()
        }
        out = distributed.gather_arrays(local)
        order = np.argsort(out["index"], kind="stable")
        return {k: v[order] for k, v in out.items()}

    @staticmethod
    def _num_classes(parts) -> int:
        return parts["score"][0].shape[1] if parts["score"] else 0

    def predict(self, split: str = "test"):
        """(scores, labels, snrs) as numpy arrays in dataset order; binary scores are sigmoid probabilities."""
        out = self._outputs(split)
        return out["score"], out["label"], out["snr"]

    def _summary(self, split: str) -> dict[str, float]:
        """Loss and Score (binary, at the split's own best threshold) or accuracy, prefixed by the split name."""
        return evaluation.summary(self._outputs(split), split, self.task, self.cfg.threshold_step)

    def evaluate(self, split: str = "test", threshold: float | None = None) -> dict:
        """Metrics on `split`. Binary: loss, score, frr, far at the threshold chosen on dev (or given),
        far_at_frr at cfg.frr_target, per_snr. Multiclass: loss, accuracy."""
        out = self._outputs(split)
        if self.task == "binary" and threshold is None:
            dev = out if split == "dev" else self._outputs("dev")
            threshold = metrics.best_threshold(dev["score"], dev["label"], self.cfg.threshold_step)
        return evaluation.report(out, split, self.task, threshold, self.cfg.frr_target)
