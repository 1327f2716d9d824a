"""Trainer: AdamW/Adam + a fresh LR schedule per fit() (so a second fit *is* learning-rate rewinding), on-the-fly
augmentation of training batches, model selection and early stopping on dev Score (or loss) keeping the best
weights, sparse training, frozen parts, weight masks, and DDP under torchrun.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, default_collate
from tqdm.auto import tqdm

from edgeprune import metrics
from edgeprune.errors import EdgepruneError
from edgeprune.train import distributed
from edgeprune.train.augment import AudioAugment, LipAugment, example_rng
from edgeprune.train.batches import eval_shard, train_plan
from edgeprune.train.config import TrainConfig
from edgeprune.train.frozen import freeze, train_mode
from edgeprune.train.masks import apply_masks, check_masks
from edgeprune.train.result import FitResult
from edgeprune.train.schedule import LRSchedule
from edgeprune.train.seeding import seed_all
from edgeprune.train.sparsity import add_bn_l1_grad
from edgeprune.train.syncbn import synced_batchnorm

TASKS = ("binary", "multiclass")
SPLITS = ("train", "dev", "test")


def progress_enabled(cfg: TrainConfig) -> bool:
    """Progress bars show unless the config turns them off, EDGEPRUNE_NO_PROGRESS=1, or this is not rank 0."""
    return bool(cfg.progress) and os.environ.get("EDGEPRUNE_NO_PROGRESS", "") != "1" and distributed.current().is_main


class AugmentCollate:
    """Collates a training batch and augments each example with its own (seed, epoch, index) draw; runs in the
    DataLoader's worker processes when cfg.num_workers > 0, so augmentation overlaps training."""

    def __init__(self, augmenters: dict, seed: int, epoch: int, crop=None):
        self.augmenters, self.seed, self.epoch, self.crop = augmenters, seed, epoch, crop

    def __call__(self, items):
        batch = default_collate(items)
        if "index" not in batch:
            return batch
        rngs = [example_rng(self.seed, self.epoch, int(i)) for i in batch["index"]]
        if "fbank" in self.augmenters:
            waves = batch["wave"].numpy()
            if self.crop is not None:  # a random window of each whole recording (longer clips than the model's)
                waves = np.stack([np.asarray(self.crop(int(i), rng)) for i, rng in zip(batch["index"], rngs)])
            batch["fbank"] = self.augmenters["fbank"](waves, rngs)
        if "lips" in self.augmenters:
            batch["lips"] = self.augmenters["lips"](batch["lips"], rngs)
        return batch


def selection_key(dev: dict, select: str) -> tuple:
    """Sort key of an epoch's dev summary (lower is better): (Score, loss), or (loss,) for select='loss'.
    A NaN Score (a dev split with one class) falls back to the loss."""
    loss = float(dev["dev_loss"])
    if select == "loss":
        return (loss,)
    score = dev.get("dev_score", dev.get("dev_accuracy"))
    if score is None or math.isnan(score):
        return (math.inf, loss)
    if "dev_accuracy" in dev and "dev_score" not in dev:
        score = -score
    return (float(score), loss)


class Trainer:
    """Trains and evaluates one model on one DataBundle (`.train .dev .test` datasets of dict items)."""

    def __init__(self, model: nn.Module, data, inputs, task: str, cfg: TrainConfig | None = None):
        self.cfg = cfg if cfg is not None else TrainConfig()
        if not isinstance(self.cfg, TrainConfig):
            raise EdgepruneError(f"cfg must be a TrainConfig, got {type(self.cfg).__name__}")
        if task not in TASKS:
            raise EdgepruneError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
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
        self.augmenters = self._augmenters()

    def _augmenters(self) -> dict:
        """{input name: augmenter} for the inputs this data lets us augment (empty when cfg.augment is off)."""
        if not self.cfg.augment:
            return {}
        train, out = self._split("train"), {}
        pool = getattr(self.data, "noise_pool", None)
        fb_stats = (getattr(self.data, "stats", None) or {}).get("fbank")
        if "fbank" in self.inputs and getattr(train, "waves", None) is not None and pool is not None and fb_stats:
            preset = (getattr(self.data, "info", None) or {}).get("preset", "default")
            out["fbank"] = AudioAugment(self.cfg.augment_config(), pool, fb_stats, preset)
        lip_stats = getattr(train, "lip_stats", None)
        if "lips" in self.inputs and getattr(train, "lips", None) is not None:
            std = float(lip_stats["std"][0]) if lip_stats else 1.0
            out["lips"] = LipAugment(self.cfg.augment_config(), std)
        return out

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
        out = net(*x)
        n = x[0].shape[0]
        if self.task == "binary":
            if out.dim() == 2 and out.shape[1] == 1:
                out = out[:, 0]
            if tuple(out.shape) != (n,):
                raise EdgepruneError(f"a binary model must return (B,) logits; got shape {tuple(out.shape)}")
        elif out.dim() != 2 or out.shape[0] != n:
            raise EdgepruneError(f"a multiclass model must return (B, classes) logits; got shape {tuple(out.shape)}")
        return out

    def _losses(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = labels.to(self.device)
        if self.task == "binary":
            return F.binary_cross_entropy_with_logits(logits, labels.float().reshape(-1), reduction="none")
        return F.cross_entropy(logits, labels.long().reshape(-1), reduction="none")

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
            history, best_key, best_loss, best_epoch, best_state, stopped = [], None, math.inf, 0, None, False
            bar = tqdm(range(epochs), desc=desc or "train", disable=not progress_enabled(cfg))
            for epoch in bar:
                cur_lr = self.schedule.lr_at(epoch)
                train_mode(model, frozen_mods)
                train_loss = self._train_epoch(net, model, opt, trainable, run_seed, epoch, l1, mask_t)
                distributed.broadcast_state(model)
                dev = self._summary("dev")
                history.append({"epoch": epoch + 1, "lr": cur_lr, "train_loss": train_loss, **dev})
                bar.set_postfix({"loss": f"{train_loss:.4f}", **{k: f"{v:.4f}" for k, v in dev.items()}})
                key = selection_key(dev, cfg.select)
                if best_key is None or key < best_key:
                    best_key, best_loss, best_epoch = key, dev["dev_loss"], epoch + 1
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                elif cfg.patience and epoch + 1 - best_epoch >= cfg.patience:
                    stopped = True
                    break
            bar.close()
            if stopped and progress_enabled(cfg):
                tqdm.write(f"{desc or 'train'}: early stop at epoch {len(history)} (best epoch {best_epoch})")
        if cfg.restore_best and best_state is not None:
            model.load_state_dict(best_state)
        return FitResult(
            epochs_run=len(history),
            best_epoch=best_epoch,
            best_dev_loss=best_loss,
            best_dev_score=history[best_epoch - 1].get("dev_score", math.nan) if best_epoch else math.nan,
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
            losses = self._losses(self._forward(net, batch), batch["label"])
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
                probs = torch.sigmoid(logits) if self.task == "binary" else torch.softmax(logits, dim=1)
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
        out = self._outputs(split)
        res = {f"{split}_loss": float(out["loss"].mean())}
        if self.task == "binary":
            y = out["label"].astype(bool)
            if y.any() and not y.all():
                t = metrics.best_threshold(out["score"], out["label"], self.cfg.threshold_step)
                res[f"{split}_score"] = metrics.score(out["score"], out["label"], t)
            else:
                res[f"{split}_score"] = math.nan
        else:
            res[f"{split}_accuracy"] = float(np.mean(out["score"].argmax(1) == out["label"]))
        return res

    def evaluate(self, split: str = "test", threshold: float | None = None) -> dict:
        """Metrics on `split`. Binary: loss, score, frr, far at the threshold chosen on dev (or given),
        far_at_frr at cfg.frr_target, per_snr. Multiclass: loss, accuracy."""
        out = self._outputs(split)
        res = {"split": split, "n": int(out["loss"].size), "loss": float(out["loss"].mean())}
        if self.task == "multiclass":
            res["accuracy"] = float(np.mean(out["score"].argmax(1) == out["label"]))
            return res
        s, y, snr = out["score"], out["label"], out["snr"]
        if threshold is None:
            dev = out if split == "dev" else self._outputs("dev")
            threshold = metrics.best_threshold(dev["score"], dev["label"], self.cfg.threshold_step)
        frr, far = metrics.frr_far(s, y, threshold)
        target = self.cfg.frr_target
        has_wake = bool(y.astype(bool).any())
        res.update(
            threshold=float(threshold),
            score=frr + far,
            frr=frr,
            far=far,
            frr_target=target,
            far_at_frr=metrics.far_at_frr(s, y, target) if has_wake else math.nan,
            per_snr=metrics.per_snr(s, y, snr, threshold, frr=target),
        )
        return res
