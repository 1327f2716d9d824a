"""Reports of slim run directories: report.json, report.md (per run: round table, widths, pruned share per
layer type, FAR per SNR; several runs: a side-by-side table first), curves.png (dev and test Score vs WSR) and,
for --latency-budget runs, latency.png (Score vs p90 measured on the target).

Reads run directories through edgeprune.rundir only: it never imports edgeprune.methods (which calls it)."""

from __future__ import annotations

from pathlib import Path

from edgeprune import atomic
from edgeprune.errors import EdgepruneError
from edgeprune.report.content import build_report, comparison, has_latency, load_run, pruned_share, run_label
from edgeprune.report.plot import curves_figure, latency_figure, plot_curves, plot_latency
from edgeprune.report.text import (COMPARISON_HEAD, comparison_table, render_comparison_md, render_md,
                                   round_table)
from edgeprune.rundir import write_json

__all__ = ["COMPARISON_HEAD", "build_report", "comparison", "comparison_table", "curves_figure", "has_latency",
           "latency_figure", "load_run", "plot_curves", "plot_latency", "pruned_share", "render_comparison_md", "render_md", "round_table", "run_label",
           "write_report"]


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
    if any(has_latency(r) for r in reports):
        plot_latency(reports, out_dir / "latency.png")
    return content
