"""curves.png: dev and test Score against WSR, one colour per run."""

from __future__ import annotations

import math
from pathlib import Path

from edgeprune import atomic
from edgeprune.report.content import unique_labels

def plot_curves(reports: list[dict], path) -> Path:
    """Write curves_figure(reports) as a PNG at `path`."""
    return _save_png(curves_figure(reports), path)  # the figure selects the Agg backend before pyplot is imported


def _save_png(fig, path) -> Path:
    """Write `fig` as a PNG at `path` in one step (an earlier file stays if it fails), then close it."""
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
    for i, (label, rep) in enumerate(zip(unique_labels(reports), reports)):
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


def latency_figure(reports: list[dict]):
    """Dev and test Score against the p90 latency measured on the target (--latency-budget runs): rounds as dots
    joined in order, the final model as a star, each run's budget as a dashed vertical line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgeprune.report.content import has_latency

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, rep) in enumerate(zip(unique_labels(reports), reports)):
        if not has_latency(rep):
            continue
        colour = colours[i % len(colours)]
        for ax, key in zip(axes, ("dev_score", "test_score")):
            pts = [(r["latency_p90"], r[key]) for r in rep["rounds"] if _known(r.get("latency_p90")) and _known(r[key])]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=colour, label=label)
            final = rep["final"]
            if final and _known(final.get("latency_p90")) and _known(final[key]):
                ax.plot([final["latency_p90"]], [final[key]], marker="*", markersize=14, color=colour,
                        linestyle="none", markeredgecolor="black", markeredgewidth=0.6)
            if _known(rep.get("latency_budget")):
                ax.axvline(rep["latency_budget"], color=colour, linestyle="--", linewidth=1)
    for ax, title in zip(axes, ("dev", "test")):
        ax.set_xlabel("p90 latency measured on the target (ms)")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Score, lower is better")
    axes[0].legend(fontsize=8, frameon=False)
    fig.suptitle("Score vs measured latency (dashed: the budget; star: final model)")
    fig.tight_layout()
    return fig


def plot_latency(reports: list[dict], path) -> Path:
    """Write latency_figure(reports) as a PNG at `path`."""
    return _save_png(latency_figure(reports), path)
