"""The round loop every method shares: claim the run directory, skip what is done, resume after the last
complete round, cut and retrain round by round until a stop rule fires, fine-tune, write final/."""

from __future__ import annotations

import os
import time

from edgeprune.methods.config import SlimConfig
from edgeprune.methods.context import Context, resolve
from edgeprune.methods.evaluation import measure
from edgeprune.rundir import RunDir, read_json
from edgeprune.methods.seeding import seed_step
from edgeprune.methods.state import read_state, write_state
from edgeprune.methods.stopping import decide, decide_latency, nothing_left


def config_identity(config: dict) -> dict:
    """What makes a config.json the same run: its settings, flat (train.lr), resolved. A config.json from
    before TrainConfig was nested holds every value the old resolution chose; resolving it again yields the
    same values (and a clear refusal if it no longer reads)."""
    return resolve(SlimConfig.from_dict(config)).identity()


def progress_on(cfg: SlimConfig) -> bool:
    return bool(cfg.progress) and os.environ.get("EDGEPRUNE_NO_PROGRESS", "") != "1"


def run(cfg: SlimConfig, methods: dict, stop_after: int | None = None) -> dict:
    """Run (or resume, or return) the slim run of `cfg` -> {"out", "status", "final": metrics or None}.

    `stop_after`: return after writing that round (what an interrupted run leaves behind; for tests).
    """
    cfg = resolve(cfg)
    rd = RunDir(cfg.out)
    latency = None
    if cfg.latency_budget is not None and not rd.finished():
        from edgeprune.methods.latency_budget import LatencyBudget

        latency = LatencyBudget.open(cfg)  # a bad target or budget fails here, before the folder or any training
    rd.claim(cfg.to_dict(), identity=config_identity)  # locks the folder for this process
    try:
        return _run_locked(cfg, rd, methods, stop_after, latency)
    finally:
        rd.release()


def _run_locked(cfg: SlimConfig, rd: RunDir, methods: dict, stop_after: int | None, latency=None) -> dict:
    if rd.finished():
        return {"out": str(rd.path), "status": "already finished", "final": read_json(rd.final_path / "metrics.json")}
    ctx = Context(cfg)
    method = methods[cfg.method](ctx)
    stages = method.stages
    device = cfg.device
    if latency is not None:
        latency.save_table(rd.path)

    if rd.last_round() is None:
        t0 = time.perf_counter()
        seed_step(cfg.seed, 0)
        state, theta0 = method.start()
        state.model.to(device)
        metrics = measure(ctx, state, step=0, stages=stages,
                          extra={"round": 0, "removed": 0, "stage_name": stages[0].name, "wall_s": time.perf_counter() - t0,
                                 "fit": state.extra.pop("fit", None), "ticket": state.extra.get("ticket")})
        if latency is not None:
            metrics["latency"] = latency.measure(state.model)
        with rd.writing("round_000") as tmp:
            write_state(tmp, state, metrics, theta0=theta0, method=cfg.method, round=0, **ctx.checkpoint_meta(metrics))
    rounds = rd.round_metrics()
    resumed_at = len(rounds)
    if stop_after is not None and rounds[-1]["round"] >= stop_after:
        return {"out": str(rd.path), "status": f"stopped after round {rounds[-1]['round']}", "final": None}

    from tqdm.auto import tqdm

    planned = method.planned_rounds()
    bar = tqdm(total=max(planned, len(rounds) - 1), initial=len(rounds) - 1, desc=f"{cfg.method} rounds",
               disable=not progress_on(cfg), unit="round")
    while True:
        if latency is None:
            d = decide(rounds, stages, method.per_round(), last_cut=cfg.last_cut, max_rounds=method.max_rounds(),
                       tolerance=cfg.tolerance)
        else:
            d = decide_latency(rounds, latency.budget_ms, method.per_round(), max_rounds=method.max_rounds(),
                               tolerance=cfg.tolerance)
        if d.stop is not None:
            break
        n = int(rounds[-1]["round"]) + 1
        state = read_state(rd.round_path(n - 1), device)  # the disk is the truth: resuming equals not stopping
        t0 = time.perf_counter()
        seed_step(cfg.seed, n)
        if latency is not None:
            method.next_cut = latency.plan(ctx, method, state, stages[d.stage], rounds[-1], n)
            if method.next_cut is None:
                d = nothing_left(rounds, latency.budget_ms)
                break
        state, info = method.round(state, n, d.amount, stages[d.stage], d.stage)
        state.model.to(device)
        metrics = measure(ctx, state, step=n, stages=stages,
                          extra={"round": n, "removed": rounds[-1]["params"] - _live(ctx, state),
                                 "wall_s": time.perf_counter() - t0, "stage_name": stages[d.stage].name, **info})
        if latency is not None:
            metrics["latency"] = latency.measure(state.model)
        with rd.writing(f"round_{n:03d}") as tmp:
            write_state(tmp, state, metrics, method=cfg.method, round=n, **ctx.checkpoint_meta(metrics))
        rounds.append(metrics)
        bar.update(1)
        bar.set_postfix(wsr=f"{metrics['wsr']:.3f}", score=f"{metrics['dev'].get('score', float('nan')):.4f}")
        if stop_after is not None and n >= stop_after:
            bar.close()
            return {"out": str(rd.path), "status": f"stopped after round {n}", "final": None}
    bar.close()

    base = d.base_round if d.base_round is not None else int(rounds[-1]["round"])
    state = read_state(rd.round_path(base), device)
    t0 = time.perf_counter()
    seed_step(cfg.seed, "final")
    state, fit = method.finish(state)
    state.model.to(device)
    metrics = measure(ctx, state, step="final", stages=stages,
                      extra={"round": "final", "from_round": base, "stage_name": stages[state.stage].name, "stop_reason": d.stop, "fit": fit,
                             "wall_s": time.perf_counter() - t0,
                             "total_wall_s": sum(r.get("wall_s", 0.0) for r in rounds) + time.perf_counter() - t0,
                             "resumed_at_round": resumed_at,
                             **({"auto_ratios": state.extra["auto_ratios"]} if "auto_ratios" in state.extra else {})})
    if latency is not None:
        metrics["latency"] = latency.measure(state.model)
    from edgeprune.report import write_report

    with rd.writing("final") as tmp:
        write_state(tmp, state, metrics, method=cfg.method, round="final", wsr=metrics["wsr"],
                    **ctx.checkpoint_meta(metrics))
        write_report([rd.path], tmp, final_dir=tmp)
    return {"out": str(rd.path), "status": "finished", "final": metrics}


def _live(ctx, state) -> int:
    from edgeprune.methods.evaluation import live_params

    return live_params(state.model, state.masks)
