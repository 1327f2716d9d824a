"""Evaluate a ModelSource: on the test clips of a DataBundle (Score at the stored dev threshold, per SNR), or
streaming over a long recording (FBank windows at a hop, detections, misses and false accepts per hour)."""

from __future__ import annotations

import math

import numpy as np
import torch

from edgeprune import metrics
from edgeprune.errors import EdgepruneError
from edgeprune.features.fbank import fbank, get_config
from edgeprune.features.stats import apply_stats
from edgeprune.streaming.counting import count_events, detections

BATCH = 128


def _renormalise(x: torch.Tensor, have: dict | None, want: dict) -> torch.Tensor:
    """Features normalised with the data's train stats `have` -> normalised with the model's `want`."""
    if have is not None:
        mean = torch.tensor(have["mean"], dtype=torch.float32)
        std = torch.tensor(have["std"], dtype=torch.float32)
        x = x * (std if std.numel() > 1 else std.reshape(())) + (mean if mean.numel() > 1 else mean.reshape(()))
    return apply_stats(x, want)


def clip_scores(source, split, data_stats: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probabilities, labels, snrs) of every clip of a bundle split whose features were normalised with
    `data_stats` (the bundle's train stats), fed to the model in its own training normalisation."""
    from torch.utils.data import DataLoader

    missing = [k for k in source.inputs if k not in split[0]]
    if missing:
        raise EdgepruneError(f"{source.name} needs input(s) {', '.join(missing)} that the data does not provide")
    probs, labels, snrs = [], [], []
    for batch in DataLoader(split, batch_size=BATCH):
        feeds = {k: _renormalise(batch[k].float(), data_stats.get(k), source.need_stats(k)).numpy()
                 for k in source.inputs}
        probs.append(source.predict(feeds))
        labels.append(np.asarray(batch["label"]).reshape(-1))
        snrs.append(np.asarray(batch["snr"], dtype=np.float64).reshape(-1))
    return np.concatenate(probs), np.concatenate(labels).astype(np.int64), np.concatenate(snrs)


def evaluate_clips(source, bundle, threshold: float | None = None, frr_target: float = metrics.PAPER_FRR) -> dict:
    """Test-split metrics at the model's stored dev threshold (or `threshold`)."""
    t = source.need_threshold() if threshold is None else float(threshold)
    s, y, snr = clip_scores(source, bundle.test, bundle.stats or {})
    frr, far = metrics.frr_far(s, y, t)
    return {
        "mode": "clips", "split": "test", "n": int(len(y)), "n_wake": int(y.sum()), "threshold": t,
        "score": frr + far, "frr": frr, "far": far, "frr_target": frr_target,
        "far_at_frr": metrics.far_at_frr(s, y, frr_target) if y.any() else math.nan,
        "per_snr": metrics.per_snr(s, y, snr, t, frr=frr_target),
    }


def hop_frames(hop_s: float, preset="default") -> int:
    cfg = get_config(preset)
    step = cfg.hop_length / cfg.sample_rate
    n = round(float(hop_s) / step) if math.isfinite(float(hop_s)) else 0
    if n < 1 or abs(n * step - float(hop_s)) > 1e-6:
        raise EdgepruneError(f"--hop must be a positive multiple of the {step:g} s FBank frame hop, got {hop_s}")
    return int(n)


def stream_scores(source, wave, hop_s: float, preset="default") -> tuple[np.ndarray, np.ndarray]:
    """(window end times in s, wake probabilities) of windows of the model's clip length every `hop_s` s."""
    if tuple(source.inputs) != ("fbank",):
        raise EdgepruneError(f"streaming needs an audio-only model (input fbank); {source.name} takes "
                             f"{', '.join(source.inputs)}")
    cfg = get_config(preset)
    hop = hop_frames(hop_s, cfg)
    if not source.frames:
        raise EdgepruneError(f"{source.name} does not record its clip length (FBank frames per input)")
    w = np.asarray(wave)
    x = torch.from_numpy(w.astype(np.float32) * (1.0 / 32768.0 if w.dtype == np.int16 else 1.0))
    feats = apply_stats(fbank(x, cfg), source.need_stats("fbank"))
    n = feats.shape[0]
    if n < source.frames:
        raise EdgepruneError(f"the recording ({len(w) / cfg.sample_rate:.2f} s) is shorter than one model window")
    windows = feats.unfold(0, source.frames, hop).permute(0, 2, 1)  # (N, frames, 40), a view
    probs = [source.predict({"fbank": windows[i : i + BATCH].contiguous().numpy()})
             for i in range(0, len(windows), BATCH)]
    starts = np.arange(len(windows)) * hop
    ends = (starts * cfg.hop_length + (source.frames - 1) * cfg.hop_length + cfg.win_length) / cfg.sample_rate
    return ends, np.concatenate(probs)


def evaluate_stream(source, stream: dict, hop_s: float, refractory_s: float, tolerance_s: float | None = None,
                    threshold: float | None = None, preset="default") -> dict:
    """Misses and false accepts per hour of `stream` (synth_stream's dict) at the stored dev threshold."""
    t = source.need_threshold() if threshold is None else float(threshold)
    if not refractory_s >= 0:
        raise EdgepruneError(f"--refractory must be >= 0 s, got {refractory_s}")
    cfg = get_config(preset)
    window_s = ((source.frames or 0) - 1) * cfg.hop_length / cfg.sample_rate + cfg.win_length / cfg.sample_rate
    tol = window_s if tolerance_s is None else float(tolerance_s)
    times, probs = stream_scores(source, stream["wave"], hop_s, cfg)
    found = detections(times, probs, t, refractory_s)
    duration = len(stream["wave"]) / stream["sample_rate"]
    counts = count_events(found, stream["events"], duration, tol)
    per_snr = {}
    for snr in sorted(set(np.asarray(stream["event_snr"]).tolist())):
        idx = [i for i, v in enumerate(stream["event_snr"]) if v == snr]
        hits = sum(counts["hit_times"][i] is not None for i in idx)
        per_snr[snr] = {"events": len(idx), "hits": hits, "misses": len(idx) - hits,
                        "miss_rate": (len(idx) - hits) / len(idx)}
    return {
        "mode": "stream", "threshold": t, "hop_s": hop_frames(hop_s, cfg) * cfg.hop_length / cfg.sample_rate,
        "refractory_s": float(refractory_s), "tolerance_s": tol, "window_s": window_s,
        "windows": int(len(times)), "duration_s": duration, "max_score": float(probs.max()),
        **counts, "per_snr": per_snr, "stream": stream.get("info", {}),
    }
