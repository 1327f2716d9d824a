"""What a report says about slim runs, read from their run directories: one run's rounds, widths, pruned
share per layer type and FAR per SNR (build_report), and several runs side by side (comparison)."""

from __future__ import annotations

from pathlib import Path

from edgeprune.errors import EdgepruneError
from edgeprune.rundir import RunDir, read_json

_WIDTH_KEYS = ("out_channels", "out_features", "hidden_size", "num_features")

def load_run(path, final_dir=None) -> dict:
    """config, round metrics, arch.json of round 0 and of the last step, final metrics (or None)."""
    rd = RunDir(path)
    if not rd.exists():
        raise EdgepruneError(f"{path} is not a slim run directory (no config.json)")
    rounds = rd.rounds()
    if not rounds:
        raise EdgepruneError(f"{path} has no finished round yet")
    final_dir = Path(final_dir) if final_dir else (rd.final_path if rd.finished() else None)
    last_dir = final_dir or rd.round_path(rounds[-1])
    return {
        "path": str(rd.path),
        "config": rd.config(),
        "rounds": rd.round_metrics(),
        "final": read_json(final_dir / "metrics.json") if final_dir else None,
        "arch_before": read_json(rd.round_path(0) / "arch.json"),
        "arch_after": read_json(last_dir / "arch.json"),
    }



def _row(m: dict) -> dict:
    test, dev = m.get("test") or {}, m.get("dev") or {}
    latency = m.get("latency") or {}
    return {
        "round": m.get("round"),
        "stage": m.get("stage_name", m.get("stage")),
        "wsr": m.get("wsr"),
        "params": m.get("params"),
        "macs": m.get("macs"),
        "dev_score": dev.get("score", None if "accuracy" not in dev else 1 - dev["accuracy"]),
        "test_score": test.get("score", None if "accuracy" not in test else 1 - test["accuracy"]),
        "test_frr": test.get("frr"),
        "test_far": test.get("far"),
        "far_at_frr": test.get("far_at_frr"),
        "lr": m.get("lr"),
        "wall_s": m.get("wall_s"),
        # --latency-budget runs: measured on the target after the round, and the latency table's prediction
        "latency_p50": latency.get("p50"),
        "latency_p90": latency.get("p90"),
        "predicted_p90": latency.get("predicted_p90"),
    }


def _widths(arch_before: dict, arch_after: dict) -> list[dict]:
    rows = []
    after = arch_after.get("widths") or {}
    for name, entry in (arch_before.get("widths") or {}).items():
        key = next((k for k in _WIDTH_KEYS if k in entry), None)
        if key is None:
            continue
        new = (after.get(name) or {}).get(key)
        rows.append({"name": name, "type": entry.get("type"), "width": key, "before": entry[key], "after": new})
    return rows


def _width(arch: dict, name: str):
    entry = (arch.get("widths") or {}).get(name) or {}
    return next((entry[k] for k in _WIDTH_KEYS if k in entry), None)


def _auto_ratios(run: dict) -> dict | None:
    """A --ratios auto run's selection: per group its dense width, selected ratio and target width, and the width
    it has now; None for other runs. The final summary when finished, else the last round's targets."""
    final = (run["final"] or {}).get("auto_ratios")
    cut = next((m["auto_ratios"] for m in reversed(run["rounds"]) if m.get("auto_ratios")), None)
    if final is None and cut is None:
        return None
    groups = (final or cut)["groups"]
    rows = [{"group": root, "type": ((run["arch_before"].get("widths") or {}).get(root) or {}).get("type"),
             "dense": _width(run["arch_before"], root), "ratio": g.get("ratio"), "target": g.get("target"),
             "now": _width(run["arch_after"], root)} for root, g in groups.items()]
    curves = Path(run["path"]) / "sensitivity" / "sensitivity.png"
    return {"target_wsr": (final or {}).get("target_wsr", run["config"].get("target_wsr")),
            "bound": (final or {}).get("bound"), "metric": (final or {}).get("metric"),
            "reached": (final or {}).get("reached"), "groups": rows,
            "sensitivity_png": str(curves) if curves.exists() else None}


def _far_per_snr(run: dict) -> dict:
    """{"frr_target", "rows": [{label, pruned, far: {snr: far_at_frr}}]} for the dense round and the result."""
    steps = [("no pruning (round 0)", run["rounds"][0])]
    last = run["final"] or run["rounds"][-1]
    steps.append((f"{run['config'].get('method')} ({'final' if run['final'] else 'last round'})", last))
    rows, target = [], None
    for label, m in steps:
        test = m.get("test") or {}
        target = test.get("frr_target", target)
        far = {str(snr): e.get("far_at_frr") for snr, e in (test.get("per_snr") or {}).items()}
        rows.append({"label": label, "pruned": m.get("wsr"), "far": far, "far_at_frr": test.get("far_at_frr")})
    return {"frr_target": target, "rows": rows}


def run_label(config: dict) -> str:
    """"method · model · data" of a run (the data's size when it was not the default)."""
    data = str(config.get("data"))
    if config.get("data_size"):
        data += f" ({config['data_size']} train clips)"
    return f"{config.get('method')} · {config.get('model')} · {data}"


def unique_labels(reports: list[dict]) -> list[str]:
    """Each run's label, with the run folder's name added where two runs would read the same."""
    labels = [r["label"] for r in reports]
    return [lab if labels.count(lab) == 1 else f"{lab} [{Path(r['run']).name}]" for lab, r in zip(labels, reports)]


def build_report(run: dict) -> dict:
    """The content of report.json for one run."""
    before = run["arch_before"].get("params_by_type") or {}
    after = run["arch_after"].get("params_by_type") or {}
    share = {t: v for t, v in pruned_share(before, after).items() if t in ("conv", "lstm", "fc")}
    final = run["final"]
    test0 = run["rounds"][0].get("test") or {}
    return {
        "run": run["path"],
        "label": run_label(run["config"]),
        "metric": "error" if "accuracy" in test0 and "score" not in test0 else "score",
        "method": run["config"].get("method"),
        "model": run["config"].get("model"),
        "data": run["config"].get("data"),
        "target_wsr": run["config"].get("target_wsr"),
        "latency_budget": run["config"].get("latency_budget"),
        "latency_target": ((final or run["rounds"][-1]).get("latency") or {}).get("target"),
        "finished": final is not None,
        "stop_reason": final.get("stop_reason") if final else None,
        "rounds": [_row(m) for m in run["rounds"]],
        "final": _row(final) if final else None,
        "widths": _widths(run["arch_before"], run["arch_after"]),
        "pruned_share_by_type": share,
        "params_by_type": {"before": before, "after": after},
        "far_per_snr": _far_per_snr(run),
        "auto_ratios": _auto_ratios(run),
        "note": final.get("note") if final else None,
    }



def has_latency(rep: dict) -> bool:
    """Whether a run's rounds were measured on a target (slim --latency-budget)."""
    return any(r.get("latency_p90") is not None for r in rep["rounds"] + ([rep["final"]] if rep["final"] else []))


def pruned_share(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    """{layer type: share of its parameters removed} for the types present before."""
    return {t: 1.0 - after.get(t, 0) / n for t, n in before.items() if n}


def _result(rep: dict) -> dict:
    """The final model's row, or the last round's when the run has not finished."""
    return rep["final"] or rep["rounds"][-1]


def comparison(reports: list[dict]) -> list[dict]:
    """One row per run, side by side: the dense model (round 0) and the result, for report.json and report.md."""
    rows = []
    for label, rep in zip(unique_labels(reports), reports):
        dense, result = rep["rounds"][0], _result(rep)
        change = (None if result["test_score"] is None or dense["test_score"] is None
                  else result["test_score"] - dense["test_score"])
        rows.append({
            "label": label, "run": rep["run"], "method": rep["method"], "model": rep["model"], "data": rep["data"],
            "target_wsr": rep["target_wsr"], "wsr": result["wsr"], "rounds": len(rep["rounds"]) - 1,
            "params_dense": dense["params"], "params": result["params"], "macs_dense": dense["macs"],
            "macs": result["macs"], "dev_score_dense": dense["dev_score"], "dev_score": result["dev_score"],
            "test_score_dense": dense["test_score"], "test_score": result["test_score"], "test_score_change": change,
            "far_at_frr": result["far_at_frr"], "finished": rep["finished"], "stop_reason": rep["stop_reason"],
        })
    return rows

