"""The readable table of a device_bench result (one row per model)."""

from __future__ import annotations

import os

COLUMNS = ("model", "runtime", "thr", "load ms", "p50 ms", "p90 ms", "p99 ms", "mean±std ms", "inf/s", "runs")


def _row(entry: dict) -> tuple[str, ...]:
    lat = entry["latency_ms"]
    return (
        os.path.basename(entry["path"]),
        f"{entry['runtime']} {entry['runtime_version']}",
        str(entry["threads"]),
        f"{entry['load_ms']:.1f}",
        f"{lat['p50']:.3f}",
        f"{lat['p90']:.3f}",
        f"{lat['p99']:.3f}",
        f"{lat['mean']:.3f}±{lat['std']:.3f}",
        f"{lat['inferences_per_s']:.1f}",
        str(lat["count"]),
    )


def format_rows(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Left-align the first column, right-align the others."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def format_table(result: dict) -> str:
    """The model rows, then one line about the machine and the peak resident memory."""
    m = result["machine"]
    peak = result.get("peak_rss_mib")
    footer = (f"{m['cpu_model']} ({m['usable_cores']}/{m['logical_cores']} cores), {m['os']}, "
              f"numpy {m['numpy']}; peak RSS {peak:.1f} MiB" if peak is not None else "")
    if (result.get("settings") or {}).get("clock") == "thread-cpu":
        footer += "; times are the measuring thread's CPU time (--clock thread-cpu)"
    return format_rows(COLUMNS, [_row(e) for e in result["models"]]) + "\n" + footer
