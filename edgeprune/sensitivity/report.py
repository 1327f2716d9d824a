"""A sensitivity result as files: JSON, a Markdown table (groups x removed fraction) and a PNG, one curve per group."""

from __future__ import annotations

from pathlib import Path


def markdown(result: dict) -> str:
    fractions = sorted({p["removed"] for g in result["groups"].values() for p in g["points"]})
    head = "| group | width | " + " | ".join(f"-{f:.0%}" for f in fractions) + " |"
    rule = "|---|---:|" + "---:|" * len(fractions)
    lines = [f"{result['metric']} of the dense model (BatchNorm re-estimated): {result['dense_score']:.4f}; each "
             f"cell: the same after removing that share of one group alone, no retraining.", "", head, rule]
    for root, g in result["groups"].items():
        by = {p["removed"]: p["score"] for p in g["points"]}
        cells = " | ".join(f"{by[f]:.4f}" if f in by else "" for f in fractions)
        lines.append(f"| {root} | {g['width']} | {cells} |")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for root, g in result["groups"].items():
        pts = sorted((p["removed"], p["score"]) for p in g["points"])
        ax.plot([0.0] + [x for x, _ in pts], [result["dense_score"]] + [y for _, y in pts], marker="o", label=root)
    ax.set_xlabel("share of the group's channels removed (that group alone)")
    ax.set_ylabel(result["metric"] + " (lower is better)")
    ax.set_title("Per-group sensitivity, no retraining")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(result: dict, folder) -> dict[str, Path]:
    """sensitivity.json, sensitivity.md and sensitivity.png in `folder`, each written through a rename."""
    from edgeprune import atomic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "sensitivity.json", "md": folder / "sensitivity.md", "png": folder / "sensitivity.png"}
    atomic.write_json(paths["json"], result)
    with atomic.atomic_path(paths["md"]) as tmp:
        tmp.write_text(markdown(result), encoding="utf-8")
    with atomic.atomic_path(paths["png"], suffix=".png") as tmp:
        plot(result, tmp)
    return paths
