"""The parity gate: an exported file must agree with PyTorch on the same inputs, or it is not written.

float: max |runtime - torch| <= 1e-4 on the output. int8: >= 99 % identical decisions (sigmoid >= the
model's threshold for binary models, argmax for multiclass) and the max probability difference reported;
an embedding model (no decisions) needs a cosine similarity >= 0.98 between every pair of output vectors.
Every comparison also says whether the PyTorch outputs vary over the samples (`outputs_vary`); when they do
not, agreement figures compare constants and a `note` says that they mean nothing.
"""

from __future__ import annotations

import numpy as np
import torch

from edgeprune.errors import EdgepruneError

FLOAT_TOL = 1e-4
INT8_AGREEMENT = 0.99
INT8_EMBEDDING_COSINE = 0.98
CONSTANT_SPREAD = 1e-3  # outputs whose std over the samples is below this fraction of their scale are constant


def torch_outputs(model, samples, names, batch: int = 16) -> np.ndarray:
    """The PyTorch model's outputs on `samples` (export.samples.Samples), in batches."""
    tensors = samples.tensors(names)
    outs = []
    with torch.no_grad():
        for start in range(0, len(samples), batch):
            outs.append(model(*(t[start : start + batch] for t in tensors)).float().numpy())
    return np.concatenate(outs)


def _probabilities(logits: np.ndarray, task: str) -> np.ndarray:
    if task == "multiclass":
        shifted = logits - logits.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=-1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def _decisions(probs: np.ndarray, task: str, threshold: float) -> np.ndarray:
    return probs.argmax(axis=-1) if task == "multiclass" else probs >= threshold


def compare(expected: np.ndarray, got: np.ndarray, task: str, threshold: float) -> dict:
    """Differences between torch outputs and runtime outputs (same shape)."""
    if expected.shape != got.shape:
        raise EdgepruneError(f"parity: the runtime returned shape {list(got.shape)}, PyTorch {list(expected.shape)}")
    if not np.all(np.isfinite(got)):
        raise EdgepruneError("parity: the runtime returned NaN or inf")
    result = {"samples": int(len(expected)), "max_abs_diff": float(np.max(np.abs(expected - got)))}
    spread = _spread(expected)
    result["outputs_vary"] = bool(spread > CONSTANT_SPREAD)
    if not result["outputs_vary"]:
        result["note"] = (f"the PyTorch outputs are constant over the {len(expected)} samples (std {spread:.1e} of "
                          f"their scale): the agreement figures compare constants and this check says nothing "
                          f"about the exported model (untrained weights, or layers cut to width 1?)")
    if task in ("binary", "multiclass"):
        p_ref, p_got = _probabilities(expected, task), _probabilities(got, task)
        result["max_prob_diff"] = float(np.max(np.abs(p_ref - p_got)))
        same = _decisions(p_ref, task, threshold) == _decisions(p_got, task, threshold)
        result["decision_agreement"] = float(same.mean())
        result["threshold"] = threshold
    else:
        a, b = expected.reshape(len(expected), -1), got.reshape(len(got), -1)
        cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
        result["min_cosine"] = float(cos.min())
    return result


def _spread(outputs: np.ndarray) -> float:
    """Largest std over the samples of any output element, relative to the largest |output| (0 for < 2 samples)."""
    flat = outputs.reshape(len(outputs), -1).astype(np.float64)
    if len(flat) < 2:
        return 0.0
    scale = float(np.max(np.abs(flat)))
    return float(np.max(np.std(flat, axis=0))) / scale if scale > 0 else 0.0


def gate(result: dict, int8: bool, label: str, strict: bool = True) -> dict:
    """Set result["passed"]; when `strict`, raise EdgepruneError if `result` (from compare) fails the gate.

    Constant outputs do not fail the gate (the export may be right), but result["note"] says the figures are void.
    """
    if not int8:
        result["passed"] = result["max_abs_diff"] <= FLOAT_TOL
        if strict and not result["passed"]:
            raise EdgepruneError(
                f"parity gate failed for {label}: max |runtime - torch| = {result['max_abs_diff']:.3g} > {FLOAT_TOL:g}"
            )
        return result
    if "min_cosine" in result:
        result["passed"] = result["min_cosine"] >= INT8_EMBEDDING_COSINE
        if strict and not result["passed"]:
            raise EdgepruneError(f"parity gate failed for {label}: cosine similarity {result['min_cosine']:.4f} "
                                 f"< {INT8_EMBEDDING_COSINE:g} between int8 and PyTorch embeddings")
        return result
    result["passed"] = result["decision_agreement"] >= INT8_AGREEMENT
    if strict and not result["passed"]:
        raise EdgepruneError(
            f"parity gate failed for {label}: {100 * result['decision_agreement']:.1f} % identical decisions "
            f"(< {100 * INT8_AGREEMENT:g} %), max prob difference {result['max_prob_diff']:.3g}"
        )
    return result
