"""`edgeprune slim`: prune a zoo model with CPLR, CP, LTH or LTH-IF into a resumable run directory."""

from __future__ import annotations

import argparse
import dataclasses
import json

HELP = "prune a model (cplr, cp, lth, lth-if) in resumable rounds; writes a run directory and a report"
DESCRIPTION = (HELP + ". Re-running the same command resumes after the last finished round; a finished run "
               "returns at once; a different command on an existing --out is refused.")

_TYPES = {"str": str, "int": int, "float": float}


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edgeprune.methods.config import SlimConfig

    for f in dataclasses.fields(SlimConfig):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"].replace("%", "%%")
        choices = f.metadata.get("choices")
        if f.name == "progress":
            parser.add_argument("--no-progress", dest="progress", action="store_false",
                                help="hide progress bars (also hidden when EDGEPRUNE_NO_PROGRESS=1)")
        elif f.type == "bool":
            parser.add_argument(flag, dest=f.name, action="store_true", help=help_text)
        elif f.type == "dict":
            parser.add_argument(flag, dest=f.name, type=_json_object, default=argparse.SUPPRESS, metavar="JSON",
                                help=help_text)
        else:
            # a None default is resolved later (its help says from what): no "(default: None)" line
            default = argparse.SUPPRESS if f.default is None else f.default
            parser.add_argument(flag, dest=f.name, type=_TYPES[f.type], default=default, choices=choices,
                                help=help_text)
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the final metrics to FILE")


def config_from_args(args):
    from edgeprune.methods.config import SlimConfig

    values = {f.name: getattr(args, f.name, f.default) for f in dataclasses.fields(SlimConfig)}
    return SlimConfig(**values)


def run(args) -> int:
    from edgeprune.methods import run as run_slim
    from edgeprune.methods.rundir import write_json
    from edgeprune.report import build_report, load_run, round_table

    result = run_slim(config_from_args(args))
    out = result["out"]
    rep = build_report(load_run(out))
    rows = rep["rounds"] + ([rep["final"]] if rep["final"] else [])
    print(round_table(rows))
    if result["status"] == "already finished":
        print(f"already finished; nothing to do. Results: {out}/final")
    else:
        print(f"{rep['stop_reason']}. Results: {out}/final (model.safetensors, metrics.json, report.md, curves.png)")
    if args.json:
        write_json(args.json, {"out": out, "status": result["status"], "final": result["final"]})
    return 0
