"""`edgeprune slim`: prune a zoo model with CPLR, CP, LTH or LTH-IF into a resumable run directory."""

from __future__ import annotations

import argparse
import dataclasses
import json

HELP = "prune a model (cplr, cp, lth, lth-if) in resumable rounds; writes a run directory and a report"
DESCRIPTION = (HELP + ". Re-running the same command resumes after the last finished round; a finished run "
               "returns at once; a different command on an existing --out is refused.")

_TYPES = {"str": str, "int": int, "float": float}

# The zoo's names, spelled out so that `--model` is checked by argparse at once instead of after importing
# torch and every model family (seconds); tests/cli/test_slim_args.py keeps it equal to models.names().
ZOO_MODELS = ("av-decision", "lenet-300-100", "lenet5", "misp-audio", "misp-video", "tv-audio", "tv-av",
              "tv-lip-mbv2", "tv-video")
# A --model-cfg whose model would hold more parameters than this is refused before it is allocated.
MAX_PARAMS = 500_000_000


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _train_flags(parser: argparse.ArgumentParser) -> None:
    """--epochs, --lr, ...: TrainConfig fields under their own flag, the same path as --train (one place sets
    them: edgeprune/methods/resolve.py)."""
    from edgeprune.methods.config import TRAIN_FLAGS
    from edgeprune.train.config import TrainConfig

    types = {f.name: _TYPES[f.type] for f in dataclasses.fields(TrainConfig) if f.name in TRAIN_FLAGS}
    for name in TRAIN_FLAGS:
        help_text = (f"training: {TrainConfig.help()[name]} (--train's {name}); default: the data source's "
                     f"recommendation, else the model's, else TrainConfig's (config.json's resolved_from says which)")
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=types[name], default=argparse.SUPPRESS,
                            help=help_text.replace("%", "%%"))


def _method_help() -> tuple[tuple[str, ...], str]:
    from edgeprune.methods import registry

    found = registry.methods()
    return tuple(found), "pruning method: " + "; ".join(f"{n}: {m.help}" for n, m in found.items())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edgeprune.methods.config import SlimConfig

    for f in dataclasses.fields(SlimConfig):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"].replace("%", "%%")
        choices = f.metadata.get("choices")
        if not f.metadata["cli"]:
            continue
        if f.name == "method":
            names, text = _method_help()
            parser.add_argument(flag, dest=f.name, default=f.default, choices=names, help=text.replace("%", "%%"))
        elif f.name == "progress":
            # SUPPRESS: the help formatter would print the dest's default, "(default: True)", under a flag
            # that hides bars; config_from_args falls back to the field's default (bars shown)
            parser.add_argument("--no-progress", dest="progress", action="store_false", default=argparse.SUPPRESS,
                                help="hide progress bars (also hidden when EDGEPRUNE_NO_PROGRESS=1)")
        elif f.name == "model":
            parser.add_argument(flag, dest=f.name, default=argparse.SUPPRESS, choices=ZOO_MODELS, metavar="NAME",
                                help=f"{help_text}; one of {', '.join(ZOO_MODELS)}")
        elif f.type == "bool":
            parser.add_argument(flag, dest=f.name, action="store_true", help=help_text)
        elif f.type == "dict":
            parser.add_argument(flag, dest=f.name, type=_json_object, default=argparse.SUPPRESS, metavar="JSON",
                                help=help_text)
            if f.name == "train":
                _train_flags(parser)
        else:
            # a None default is resolved later (its help says from what): no "(default: None)" line
            default = argparse.SUPPRESS if f.default is None else f.default
            parser.add_argument(flag, dest=f.name, type=_TYPES[f.type], default=default, choices=choices,
                                help=help_text)
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the final metrics to FILE")


def config_from_args(args):
    """The SlimConfig of the command line, validated (every number finite and in range), before any import
    of torch."""
    from edgeprune.methods.config import TRAIN_FLAGS, SlimConfig

    values = {f.name: getattr(args, f.name, f.default) for f in dataclasses.fields(SlimConfig) if f.metadata["cli"]}
    values.update({name: getattr(args, name, None) for name in TRAIN_FLAGS})
    return SlimConfig(**values).validate()


def check_outputs(cfg, json_path) -> None:
    """--out (the run folder, default or given) and --json must be writable before a run starts."""
    from edgeprune.commands.outpaths import check_out_dir, check_out_file

    check_out_dir(cfg.out if cfg.out is not None else cfg.default_out())
    if json_path:
        check_out_file(json_path, "--json")


def check_data_path(spec: str) -> None:
    """folder:PATH and misp2021:PATH must name an existing folder (checked here, before torch is imported;
    the source itself checks the rest)."""
    from pathlib import Path

    from edgeprune.errors import EdgepruneError

    kind, sep, path = str(spec).partition(":")
    if sep and kind in ("folder", "misp2021"):
        folder = Path(path).expanduser()
        if not path:
            raise EdgepruneError(f"--data {spec}: {kind} needs a path: {kind}:PATH")
        if not folder.exists():
            raise EdgepruneError(f"--data {spec}: no such folder {folder}")
        if not folder.is_dir():
            raise EdgepruneError(f"--data {spec}: {folder} is not a folder")


def check_model_cfg(cfg) -> None:
    """Build the model with --model-cfg on the meta device (nothing allocated): a value the model cannot
    take (a negative width, a string) or a model far too large is one line here, not a traceback later."""
    if not cfg.model_cfg:
        return
    import warnings

    import torch

    from edgeprune import models
    from edgeprune.errors import EdgepruneError
    from edgeprune.methods.config import DEFAULT_MODEL

    name = cfg.model or DEFAULT_MODEL
    shown = json.dumps(cfg.model_cfg)
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = models.build(name, **cfg.model_cfg)
    except EdgepruneError as exc:
        raise EdgepruneError(f"--model-cfg {shown}: {exc}") from None
    except Exception as exc:  # the model's constructor rejects the values (ValueError, TypeError, ...)
        reason = (str(exc).splitlines() or [""])[0][:200]
        raise EdgepruneError(f"--model-cfg {shown}: model {name!r} cannot be built with it "
                             f"({type(exc).__name__}: {reason})") from None
    params = sum(p.numel() for p in model.parameters())
    if params > MAX_PARAMS:
        raise EdgepruneError(f"--model-cfg {shown}: model {name!r} would have {params:,} parameters "
                             f"({params * 4 / 1e9:.1f} GB as float32), more than the {MAX_PARAMS:,} allowed")


def run(args) -> int:
    cfg = config_from_args(args)
    check_outputs(cfg, args.json)
    check_data_path(cfg.data)
    check_model_cfg(cfg)

    from edgeprune.methods import run as run_slim
    from edgeprune.rundir import write_json
    from edgeprune.report import build_report, load_run, round_table

    result = run_slim(cfg)
    out = result["out"]
    rep = build_report(load_run(out))
    rows = rep["rounds"] + ([rep["final"]] if rep["final"] else [])
    print(round_table(rows))
    if result["status"] == "already finished":
        print(f"already finished; nothing to do. Results: {out}/final")
    else:
        print(f"{rep['stop_reason']}. Results: {out}/final (model.safetensors, metrics.json, report.md, curves.png)")
        _say_if_over_budget(result["final"])
    if args.json:
        write_json(args.json, {"out": out, "status": result["status"], "final": result["final"]})
    return 0


def _say_if_over_budget(final: dict | None) -> None:
    """A --latency-budget run stops at a round measured within the budget; its fine-tuned copy is measured
    again, and that figure can land over the budget (same widths, measurement spread): say so, never hide it."""
    latency = (final or {}).get("latency")
    if not latency or latency.get("within", True):
        return
    print(f"note: the final model's p90 {latency['p90']:.4g} ms, measured again after the fine-tune, is over the "
          f"{latency['budget_ms']:g} ms budget (same widths as round {final.get('from_round')}; the difference is "
          f"measurement spread on {latency.get('target', 'the target')}): check it with `edgeprune bench`")
