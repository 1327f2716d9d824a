"""`edgeprune report`: report.json, report.md and curves.png (Score vs WSR) of one or more slim runs."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write report.json, report.md and curves.png for slim run directories (several: side by side)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="slim run directories")
    parser.add_argument("--out", default=None,
                        help="output folder (default: DIR/report for one run, ./report for several)")


def run(args) -> int:
    from edgeprune.report import comparison_table, round_table, write_report

    out = Path(args.out) if args.out else (Path(args.dirs[0]) / "report" if len(args.dirs) == 1 else Path("report"))
    content = write_report(args.dirs, out)
    for rep in content.get("runs", [content]):
        print(f"{rep['method']} on {rep['model']}: {rep['run']}")
        print(round_table(rep["rounds"] + ([rep["final"]] if rep["final"] else [])))
        print()
    if "comparison" in content:
        print(comparison_table(content["comparison"]))
        print()
    print(f"wrote {out}/report.json, {out}/report.md, {out}/curves.png")
    return 0
