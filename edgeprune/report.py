"""Reports of slim run directories: report.json and report.md (round table, per-layer widths before/after,
pruned share per layer type as seed 001 Table 4, FAR per SNR at a fixed FRR as seed 001 Table 3) and
curves.png (test Score against WSR, one curve per run, as seed 002 Figs. 3-5)."""

from __future__ import annotations

import math
from pathlib import Path

from edgeprune.errors import EdgepruneError
from edgeprune.methods.layers import pruned_share
from edgeprune.methods.rundir import RunDir, read_json, write_json

_WIDTH_KEYS = ("out_channels", "out_features", "hidden_size", "num_features")


# ---------------------------------------------------------------- data
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


def _num(x, default=math.nan) -> float:
    return default if x is None else float(x)


def _row(m: dict) -> dict:
    test, dev = m.get("test") or {}, m.get("dev") or {}
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


def build_report(run: dict) -> dict:
    """The content of report.json for one run."""
    before = run["arch_before"].get("params_by_type") or {}
    after = run["arch_after"].get("params_by_type") or {}
    share = {t: v for t, v in pruned_share(before, after).items() if t in ("conv", "lstm", "fc")}
    final = run["final"]
    return {
        "run": run["path"],
        "method": run["config"].get("method"),
        "model": run["config"].get("model"),
        "data": run["config"].get("data"),
        "target_wsr": run["config"].get("target_wsr"),
        "finished": final is not None,
        "stop_reason": final.get("stop_reason") if final else None,
        "rounds": [_row(m) for m in run["rounds"]],
        "final": _row(final) if final else None,
        "widths": _widths(run["arch_before"], run["arch_after"]),
        "pruned_share_by_type": share,
        "params_by_type": {"before": before, "after": after},
        "far_per_snr": _far_per_snr(run),
        "note": final.get("note") if final else None,
    }


# ---------------------------------------------------------------- text
def _fmt(x, spec=".4f"):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec) if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def round_table(rows: list[dict]) -> str:
    """The one-screen table: round, WSR, params, MACs, dev and test Score."""
    head = f"{'round':>6} {'WSR':>6} {'params':>10} {'MACs':>12} {'dev Score':>9} {'test Score':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{str(r['round']):>6} {_fmt(r['wsr'], '.3f'):>6} {_fmt(r['params'], ',d'):>10} "
                     f"{_fmt(r['macs'], ',d'):>12} {_fmt(r['dev_score']):>9} {_fmt(r['test_score']):>10}")
    return "\n".join(lines)


def _md_table(head: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def render_md(rep: dict) -> str:
    lines = [f"# {rep['method']} on {rep['model']} ({rep['data']})", "",
             f"Run: `{rep['run']}`; target WSR {rep['target_wsr']}; "
             + (f"finished: {rep['stop_reason']}." if rep["finished"] else "not finished yet."), ""]
    if rep.get("note"):
        lines += [f"Note: {rep['note']}.", ""]
    lines += ["## Rounds", ""]
    rows = rep["rounds"] + ([rep["final"]] if rep["final"] else [])
    lines += _md_table(["round", "stage", "WSR", "params", "MACs", "dev Score", "test Score", "test FRR", "test FAR",
                        "FAR@FRR", "lr", "wall s"],
                       [[r["round"], r["stage"], _fmt(r["wsr"], ".3f"), _fmt(r["params"], ",d"), _fmt(r["macs"], ",d"),
                         _fmt(r["dev_score"]), _fmt(r["test_score"]), _fmt(r["test_frr"]), _fmt(r["test_far"]),
                         _fmt(r["far_at_frr"]), _fmt(r["lr"], ".2e"), _fmt(r["wall_s"], ".1f")] for r in rows])
    lines += ["", "## Pruned share per layer type (seed 001 Table 4)", ""]
    share = rep["pruned_share_by_type"]
    lines += _md_table(["conv (%)", "LSTM (%)", "FC (%)"],
                       [[_fmt(100 * share[t], ".2f") if t in share else "-" for t in ("conv", "lstm", "fc")]])
    fs = rep["far_per_snr"]
    snrs = sorted({s for r in fs["rows"] for s in r["far"]}, key=_snr_order)
    frr = fs["frr_target"]
    lines += ["", f"## FAR (%) per SNR at 1 - FRR = {_fmt(100 * (1 - frr), '.2f') if frr is not None else '-'} % "
              "(seed 001 Table 3)", ""]
    lines += _md_table(["model"] + [f"{s} dB" if s != "unknown" else "all (no SNR tag)" for s in snrs] + ["Pruned (%)"],
                       [[r["label"]] + [_fmt(100 * r["far"][s], ".2f") if r["far"].get(s) is not None else "-" for s in snrs]
                        + [_fmt(100 * r["pruned"], ".2f") if r["pruned"] is not None else "-"] for r in fs["rows"]])
    lines += ["", "## Layer widths before and after", ""]
    lines += _md_table(["layer", "type", "width", "before", "after"],
                       [[w["name"], w["type"], w["width"], w["before"], w["after"]] for w in rep["widths"]])
    return "\n".join(lines) + "\n"


def _snr_order(s: str):
    try:
        return (0, float(s))
    except ValueError:
        return (1, 0.0)


# ---------------------------------------------------------------- plot
def plot_curves(reports: list[dict], path) -> Path:
    """Test Score against WSR, one curve per run (rounds, then the final model as a star)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    labels = [r["method"] for r in reports]
    for rep in reports:
        label = rep["method"] if labels.count(rep["method"]) == 1 else f"{rep['method']} ({Path(rep['run']).name})"
        pts = [(r["wsr"], r["test_score"]) for r in rep["rounds"] if r["test_score"] is not None]
        line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        if rep["final"] and rep["final"]["test_score"] is not None:
            ax.plot([rep["final"]["wsr"]], [rep["final"]["test_score"]], marker="*", markersize=12,
                    color=line.get_color(), linestyle="none")
    ax.set_xlabel("WSR (1 - params / params dense)")
    ax.set_ylabel("test Score (FRR + FAR)")
    ax.set_title("Score vs WSR" + (f": {reports[0]['model']}" if len({r['model'] for r in reports}) == 1 else ""))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- files
def write_report(run_dirs, out_dir, final_dir=None) -> dict:
    """Write report.json, report.md and curves.png of `run_dirs` into `out_dir` -> the report dict.

    `final_dir`: where the (single) run's final metrics are, when final/ is being written right now.
    """
    run_dirs = [Path(p) for p in run_dirs]
    if not run_dirs:
        raise EdgepruneError("report needs at least one run directory")
    if final_dir is not None and len(run_dirs) != 1:
        raise EdgepruneError("final_dir is for a single run")
    reports = [build_report(load_run(p, final_dir)) for p in run_dirs]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    content = reports[0] if len(reports) == 1 else {"runs": reports}
    write_json(out_dir / "report.json", content)
    (out_dir / "report.md").write_text("\n".join(render_md(r) for r in reports))
    plot_curves(reports, out_dir / "curves.png")
    return content
