"""Reports of slim run directories: report.json, report.md (per run: round table, widths, pruned share per
layer type, FAR per SNR; several runs: a side-by-side table first) and curves.png (dev and test Score vs WSR)."""

from __future__ import annotations

import math
from pathlib import Path

from edgeprune import atomic
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


def run_label(config: dict) -> str:
    """"method · model · data" of a run (the data's size when it was not the default)."""
    data = str(config.get("data"))
    if config.get("data_size"):
        data += f" ({config['data_size']} train clips)"
    return f"{config.get('method')} · {config.get('model')} · {data}"


def _unique_labels(reports: list[dict]) -> list[str]:
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


CURVES_MD = "![dev and test Score against WSR](curves.png)"
CURVES_LEGEND = ("curves.png: one colour per run; dots are rounds, the star is the final model (the one in "
                 "final/), the dashed line the dense model (round 0), the dotted line chance (Score 1.0, what a "
                 "detector that ignores its input gets). Dev Score is at dev's own best threshold, test Score at "
                 "the threshold chosen on dev.")


def comparison_table(rows: list[dict]) -> str:
    """Several runs on one screen: run, WSR, params and test Score dense -> final (rows of comparison())."""
    width = max(len("run"), *(len(r["label"]) for r in rows))
    head = f"{'run':<{width}} {'WSR':>6} {'params dense -> final':>22} {'test Score dense -> final':>26}"
    lines = [head, "-" * len(head)]
    for r in rows:
        params = f"{_fmt(r['params_dense'], ',d')} -> {_fmt(r['params'], ',d')}"
        score = f"{_fmt(r['test_score_dense'])} -> {_fmt(r['test_score'])}"
        lines.append(f"{r['label']:<{width}} {_fmt(r['wsr'], '.3f'):>6} {params:>22} {score:>26}")
    return "\n".join(lines)


def _md_table(head: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def render_md(rep: dict, level: int = 1, curves: bool = True) -> str:
    """One run's report.md; `level` is the heading level of its title (2 inside a comparison)."""
    h, hh = "#" * level, "#" * (level + 1)
    lines = [f"{h} {rep['method']} on {rep['model']} ({rep['data']})", "",
             f"Run: `{rep['run']}`; target WSR {rep['target_wsr']}; "
             + (f"finished: {rep['stop_reason']}." if rep["finished"] else "not finished yet."), ""]
    if rep.get("note"):
        lines += [f"Note: {rep['note']}.", ""]
    if curves:
        lines += [CURVES_MD, "", CURVES_LEGEND, ""]
    lines += [f"{hh} Rounds", ""]
    rows = rep["rounds"] + ([rep["final"]] if rep["final"] else [])
    lines += _md_table(["round", "stage", "WSR", "params", "MACs", "dev Score", "test Score", "test FRR", "test FAR",
                        "FAR@FRR", "lr", "wall s"],
                       [[r["round"], r["stage"], _fmt(r["wsr"], ".3f"), _fmt(r["params"], ",d"), _fmt(r["macs"], ",d"),
                         _fmt(r["dev_score"]), _fmt(r["test_score"]), _fmt(r["test_frr"]), _fmt(r["test_far"]),
                         _fmt(r["far_at_frr"]), _fmt(r["lr"], ".2e"), _fmt(r["wall_s"], ".1f")] for r in rows])
    lines += ["", f"{hh} Pruned share per layer type (seed 001 Table 4)", ""]
    share = rep["pruned_share_by_type"]
    lines += _md_table(["conv (%)", "LSTM (%)", "FC (%)"],
                       [[_fmt(100 * share[t], ".2f") if t in share else "-" for t in ("conv", "lstm", "fc")]])
    fs = rep["far_per_snr"]
    snrs = sorted({s for r in fs["rows"] for s in r["far"]}, key=_snr_order)
    frr = fs["frr_target"]
    lines += ["", f"{hh} FAR (%) per SNR at 1 - FRR = {_fmt(100 * (1 - frr), '.2f') if frr is not None else '-'} % "
              "(seed 001 Table 3)", ""]
    lines += _md_table(["model"] + [f"{s} dB" if s != "unknown" else "all (no SNR tag)" for s in snrs] + ["Pruned (%)"],
                       [[r["label"]] + [_fmt(100 * r["far"][s], ".2f") if r["far"].get(s) is not None else "-" for s in snrs]
                        + [_fmt(100 * r["pruned"], ".2f") if r["pruned"] is not None else "-"] for r in fs["rows"]])
    lines += ["", f"{hh} Layer widths before and after", ""]
    lines += _md_table(["layer", "type", "width", "before", "after"],
                       [[w["name"], w["type"], w["width"], w["before"], w["after"]] for w in rep["widths"]])
    return "\n".join(lines) + "\n"


def _snr_order(s: str):
    try:
        return (0, float(s))
    except ValueError:
        return (1, 0.0)


# ---------------------------------------------------------------- comparison
def _result(rep: dict) -> dict:
    """The final model's row, or the last round's when the run has not finished."""
    return rep["final"] or rep["rounds"][-1]


def comparison(reports: list[dict]) -> list[dict]:
    """One row per run, side by side: the dense model (round 0) and the result, for report.json and report.md."""
    rows = []
    for label, rep in zip(_unique_labels(reports), reports):
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


COMPARISON_HEAD = ["run", "WSR (target)", "pruning rounds", "params dense -> final", "MACs dense -> final",
                   "dev Score dense -> final", "test Score dense -> final", "test Score change", "FAR@FRR", "stopped"]


def render_comparison_md(reports: list[dict]) -> str:
    """report.md of several runs: the side-by-side table, the curves, then each run's report."""
    rows = comparison(reports)
    metric = "Score" if all(r["metric"] == "score" for r in reports) else "Score (error for classifiers)"
    lines = [f"# {len(reports)} runs compared", "",
             f"One row per run: the dense model (round 0) -> the final model (the last round's for an unfinished "
             f"run). {metric}: FRR + FAR, lower is better, 1.0 is chance.", ""]
    lines += _md_table(COMPARISON_HEAD, [[
        f"{r['label']}", f"{_fmt(r['wsr'], '.3f')} ({_fmt(r['target_wsr'], '.2f')})", r["rounds"],
        f"{_fmt(r['params_dense'], ',d')} -> {_fmt(r['params'], ',d')}",
        f"{_fmt(r['macs_dense'], ',d')} -> {_fmt(r['macs'], ',d')}",
        f"{_fmt(r['dev_score_dense'])} -> {_fmt(r['dev_score'])}",
        f"{_fmt(r['test_score_dense'])} -> {_fmt(r['test_score'])}",
        _fmt(r["test_score_change"], "+.4f"), _fmt(r["far_at_frr"]),
        r["stop_reason"] if r["finished"] else "not finished"] for r in rows])
    lines += ["", "Runs: " + "; ".join(f"{r['label']}: `{r['run']}`" for r in rows) + ".", "",
              CURVES_MD, "", CURVES_LEGEND, ""]
    return "\n".join(lines) + "\n" + "\n".join(render_md(r, level=2, curves=False) for r in reports)


# ---------------------------------------------------------------- plot
def plot_curves(reports: list[dict], path) -> Path:
    """Write curves_figure(reports) as a PNG at `path`."""
    fig = curves_figure(reports)  # selects the Agg backend before pyplot is imported here
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic.atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    finally:
        plt.close(fig)
    return path


def curves_figure(reports: list[dict]):
    """Dev and test Score against WSR side by side, one colour per run: rounds as dots, the final model as a
    star, the dense model as a dashed line, chance (Score 1.0) dotted. The y-axis starts at 0 and reaches at
    least 1.05, so that a difference of a few hundredths looks like one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    score = all(r["metric"] == "score" for r in reports)
    name = "Score (FRR + FAR)" if score else "error (1 - accuracy)"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    top = 1.0
    handles = []
    for i, (label, rep) in enumerate(zip(_unique_labels(reports), reports)):
        colour = colours[i % len(colours)]
        for ax, key in zip(axes, ("dev_score", "test_score")):
            pts = [(r["wsr"], r[key]) for r in rep["rounds"] if _known(r[key]) and _known(r["wsr"])]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=colour)
            dense = rep["rounds"][0][key]
            if _known(dense):
                ax.axhline(dense, color=colour, linestyle="--", linewidth=1, alpha=0.7)
            final = rep["final"]
            if final and _known(final[key]) and _known(final["wsr"]):
                ax.plot([final["wsr"]], [final[key]], marker="*", markersize=14, color=colour, linestyle="none",
                        markeredgecolor="black", markeredgewidth=0.6)
                pts.append((final["wsr"], final[key]))
            top = max([top, *(p[1] for p in pts)])
        handles.append(Line2D([], [], color=colour, marker="o", label=label))
    for ax, title in zip(axes, ("dev (each model at its own best threshold)", "test (at the threshold chosen on dev)")):
        if score:
            ax.axhline(1.0, color="grey", linestyle=":", linewidth=1.2)
        ax.set_ylim(0, 1.05 * top)
        ax.set_xlim(-0.02, 1.0)
        ax.set_xlabel("WSR (1 - params / dense params)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"{name}, lower is better")
    handles += [Line2D([], [], color="grey", marker="*", markersize=12, linestyle="none", markeredgecolor="black",
                       label="final model (final/)"),
                Line2D([], [], color="grey", linestyle="--", label="dense model (round 0)")]
    if score:
        handles.append(Line2D([], [], color="grey", linestyle=":", label="chance (Score 1.0)"))
    models = {r["model"] for r in reports}
    fig.suptitle(f"{name} vs WSR" + (f": {next(iter(models))}" if len(models) == 1 else ""))
    ncol = 1 if len(reports) > 2 else 2  # long run labels get a line each
    legend_in = 0.22 * math.ceil(len(handles) / ncol) + 0.15  # inches below the axes for the legend
    fig.set_size_inches(11, 4.2 + legend_in)
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, legend_in / (4.2 + legend_in), 1, 1))
    return fig


def _known(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


# ---------------------------------------------------------------- files
def write_report(run_dirs, out_dir, final_dir=None) -> dict:
    """Write report.json, report.md and curves.png of `run_dirs` into `out_dir` -> the report dict
    (one run's report, or {"runs": [...], "comparison": [one row per run]} for several).

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
    if len(reports) == 1:
        content, text = reports[0], render_md(reports[0])
    else:
        content, text = {"runs": reports, "comparison": comparison(reports)}, render_comparison_md(reports)
    write_json(out_dir / "report.json", content)
    atomic.write_bytes(out_dir / "report.md", text.encode("utf-8"))
    plot_curves(reports, out_dir / "curves.png")
    return content
