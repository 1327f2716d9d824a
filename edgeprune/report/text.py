"""The report as text: the one-screen round and comparison tables, and report.md of one run or several."""

from __future__ import annotations

import math

from edgeprune.report.content import comparison, has_latency


def _fmt(x, spec=".4f"):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec) if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def round_table(rows: list[dict]) -> str:
    """The one-screen table: round, WSR, params, MACs, dev and test Score (and the p50/p90 ms measured on the
    target, for a --latency-budget run)."""
    latency = any(r.get("latency_p90") is not None for r in rows)
    head = f"{'round':>6} {'WSR':>6} {'params':>10} {'MACs':>12} {'dev Score':>9} {'test Score':>10}"
    if latency:
        head += f" {'p50 ms':>9} {'p90 ms':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = (f"{str(r['round']):>6} {_fmt(r['wsr'], '.3f'):>6} {_fmt(r['params'], ',d'):>10} "
                f"{_fmt(r['macs'], ',d'):>12} {_fmt(r['dev_score']):>9} {_fmt(r['test_score']):>10}")
        if latency:
            line += f" {_fmt(r.get('latency_p50'), '.4g'):>9} {_fmt(r.get('latency_p90'), '.4g'):>9}"
        lines.append(line)
    return "\n".join(lines)


CURVES_MD = "![dev and test Score against WSR](curves.png)"
CURVES_LEGEND = ("curves.png: one colour per run; dots are rounds, the star is the final model (the one in "
                 "final/), the dashed line the dense model (round 0), the dotted line chance (Score 1.0, what a "
                 "detector that ignores its input gets). Dev Score is at dev's own best threshold, test Score at "
                 "the threshold chosen on dev.")


LATENCY_HEAD = ["p50 ms", "p90 ms", "predicted p90 ms"]
LATENCY_MD = "![dev and test Score against p90 latency measured on the target](latency.png)"
LATENCY_LEGEND = ("latency.png: dev and test Score against the p90 latency measured on the target after each round "
                  "(dots), the final model as a star; the dashed vertical line is the budget.")


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
    latency = has_latency(rep)
    if latency:
        lines += [f"Latency budget: p90 {_fmt(rep.get('latency_budget'), 'g')} ms on {rep.get('latency_target')}, "
                  "measured after every round (p50/p90 ms below; predicted: the latency table's figure).", ""]
    if curves:
        lines += [CURVES_MD, "", CURVES_LEGEND, ""]
        if latency:
            lines += [LATENCY_MD, "", LATENCY_LEGEND, ""]
    lines += [f"{hh} Rounds", ""]
    rows = rep["rounds"] + ([rep["final"]] if rep["final"] else [])
    head = ["round", "stage", "WSR", "params", "MACs", "dev Score", "test Score", "test FRR", "test FAR", "FAR@FRR",
            "lr", "wall s"]
    body = [[r["round"], r["stage"], _fmt(r["wsr"], ".3f"), _fmt(r["params"], ",d"), _fmt(r["macs"], ",d"),
             _fmt(r["dev_score"]), _fmt(r["test_score"]), _fmt(r["test_frr"]), _fmt(r["test_far"]),
             _fmt(r["far_at_frr"]), _fmt(r["lr"], ".2e"), _fmt(r["wall_s"], ".1f")] for r in rows]
    if latency:
        head[5:5] = LATENCY_HEAD
        for r, cells in zip(rows, body):
            cells[5:5] = [_fmt(r.get(k), ".4g") for k in ("latency_p50", "latency_p90", "predicted_p90")]
    lines += _md_table(head, body)
    lines += ["", f"{hh} Pruned share per layer type (seed 001 Table 4)", ""]
    share = rep["pruned_share_by_type"]
    lines += _md_table(["conv (%)", "LSTM (%)", "FC (%)"],
                       [[_fmt(100 * share[t], ".2f") if t in share else "-" for t in ("conv", "lstm", "fc")]])
    lines += _auto_ratios_md(rep.get("auto_ratios"), hh)
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


def _auto_ratios_md(sel: dict | None, hh: str) -> list[str]:
    """The per-group ratios a --ratios auto run selected from its sensitivity curves (nothing for other runs)."""
    if not sel:
        return []
    reached = {True: "reached", False: "not reached", None: "-"}[sel.get("reached")]
    lines = ["", f"{hh} Per-group ratios (--ratios auto)", "",
             f"Selected from the per-group sensitivity curves of round 0 for target WSR {_fmt(sel['target_wsr'], 'g')} "
             f"({reached}): per group the largest ratio whose change in {sel.get('metric') or 'dev Score'} stays at or "
             f"below {_fmt(sel.get('bound'), '.4g')} (that bound is searched so that the ratios meet the target)."
             + (f" Curves: `{sel['sensitivity_png']}`." if sel.get("sensitivity_png") else ""), ""]
    lines += _md_table(["group", "type", "dense width", "ratio", "target width", "width now"],
                       [[g["group"], g["type"] or "-", _fmt(g["dense"], "d"), _fmt(g["ratio"], ".2f"),
                         _fmt(g["target"], "d"), _fmt(g["now"], "d")] for g in sel["groups"]])
    return lines


def _snr_order(s: str):
    try:
        return (0, float(s))
    except ValueError:
        return (1, 0.0)


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
