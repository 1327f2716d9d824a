"""The arithmetic of the pruning schedules: CPLR's CR(n) and learning-rate amplification (seed 002 eq. 1-2,
6-7), the cut of each round towards a target WSR, and LTH-IF's iteration plan (seed 001 Algorithm 1)."""

from __future__ import annotations

import math


def cr(n: int, alpha: float) -> float:
    """Compression ratio after n rounds that each remove alpha of the current params: (1 - alpha)^n (eq. 1)."""
    return (1.0 - alpha) ** n


def wsr(n: int, alpha: float) -> float:
    """Weight sparsity ratio after n rounds: 1 - CR(n) (eq. 2)."""
    return 1.0 - cr(n, alpha)


def rounds_to_target(target_wsr: float, alpha: float) -> int:
    """The smallest n with WSR(n) >= target_wsr."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if target_wsr <= 0.0:
        return 0
    n = math.log(1.0 - target_wsr) / math.log(1.0 - alpha)
    # Guard against n landing a hair above an integer through rounding (e.g. 0.51 with alpha 0.3).
    return max(0, math.ceil(n - 1e-9))


def amplification(cr_now: float, k: float, below: float = 0.2) -> float:
    """Eq. 7: k = 1 while CR(n) >= below (0.2 in the paper), else the given k (paper: 2 to 10)."""
    return 1.0 if cr_now >= below else float(k)


def next_lr(lr: float, cr_now: float, k: float, below: float = 0.2) -> float:
    """Eq. 6: alpha_{n+1} = alpha_n * k, with k from eq. 7 evaluated at the CR reached after round n."""
    return lr * amplification(cr_now, k, below)


def round_cut(wsr_now: float, target_wsr: float, per_round: float, last_cut: str = "clip") -> float:
    """Fraction of the *current* params to remove this round.

    `clip` shortens the last round so that the run lands on the target: removing f of the current params
    takes WSR from w to 1 - (1 - w)(1 - f), so f = 1 - (1 - target) / (1 - w). `full` always cuts per_round.
    Returns 0.0 when the target is already reached.
    """
    if wsr_now >= target_wsr - 1e-9:
        return 0.0
    if last_cut == "full":
        return per_round
    if last_cut != "clip":
        raise ValueError(f"last_cut must be clip or full, got {last_cut!r}")
    needed = 1.0 - (1.0 - target_wsr) / (1.0 - wsr_now)
    return min(per_round, needed)


def lthif_plan(target_wsr: float, rate: float, first_epochs: int = 5, iter_epochs: int = 1,
               max_rounds: int | None = None) -> list[int]:
    """Epochs of each LTH-IF iteration t = 1..T: E for t = 1, then iter_epochs; a prune after every t < T.

    T - 1 prunes of `rate` reach the target, so T = rounds_to_target + 1 (capped at max_rounds + 1).
    """
    prunes = rounds_to_target(target_wsr, rate)
    if max_rounds is not None:
        prunes = min(prunes, max_rounds)
    return [first_epochs] + [iter_epochs] * prunes
