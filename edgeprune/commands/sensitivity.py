"""`edgeprune sensitivity`: dev Score after removing 10 %, 20 %, ... of each prunable group alone (no retraining)."""

from __future__ import annotations

import math
import os

from edgeprune.errors import EdgepruneError

HELP = "per-group sensitivity: dev Score after cutting each group alone, as JSON, a Markdown table and a PNG"
DESCRIPTION = (
    "For every prunable group of the checkpoint, remove 10 %, 20 %, ... of its channels alone (ChannelPruner's "
    "ranking of that group, on a copy), re-estimate the BatchNorm statistics on training batches, and measure the "
    "dev Score without retraining. Writes sensitivity.json, sensitivity.md and sensitivity.png in --out; "
    "edgeprune.sensitivity.select turns the curves into per-layer ratios for a global target (AIMET's greedy "
    "selection)."
)


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", metavar="CKPT", help="edgeprune checkpoint (.safetensors)")
    parser.add_argument("--data", metavar="SPEC", default=None,
                        help="data spec (synth, folder:PATH, misp2021:PATH, digits); default: the checkpoint's")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for sensitivity.json/.md/.png")
    parser.add_argument("--fractions", default="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9",
                        help="shares of each group's channels to remove")
    parser.add_argument("--importance", default="l1", choices=("l1", "l2", "bn_scale", "bn_scale+l1"),
                        help="ranking of the channels within a group (ChannelPruner's)")
    parser.add_argument("--bn-batches", type=int, default=10, help="training batches to re-estimate BatchNorm on")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size for BatchNorm and evaluation")
    parser.add_argument("--groups", default=None, help="comma-separated group roots (default: all)")
    parser.add_argument("--data-size", type=int, default=None,
                        help="synth clips: training clips, dev and test a third each (as `slim --data-size`)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the forward passes")
    parser.add_argument("--seed", type=int, default=0, help="data seed (as the run that trained the model)")
    parser.add_argument("--trust-factory", action="store_true", help="import a non-zoo checkpoint's factory")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (also EDGEPRUNE_NO_PROGRESS=1)")


def _fractions(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise EdgepruneError(f"bad --fractions {text!r}: expected comma-separated shares such as 0.1,0.5") from None
    if not values or not all(math.isfinite(v) and 0 < v < 1 for v in values):
        raise EdgepruneError(f"bad --fractions {text!r}: every share must lie strictly between 0 and 1")
    return values


def _check(args) -> tuple[float, ...]:
    if not os.path.isfile(args.checkpoint):
        raise EdgepruneError(f"{args.checkpoint}: no such file")
    if args.bn_batches < 0 or args.batch_size < 1 or args.threads < 1:
        raise EdgepruneError("--bn-batches must be >= 0, --batch-size and --threads >= 1")
    if args.data_size is not None and args.data_size < 10:
        raise EdgepruneError(f"--data-size must be at least 10, got {args.data_size}")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise EdgepruneError(f"--out {args.out} is a file, not a folder")
    return _fractions(args.fractions)


def run(args) -> int:
    fractions = _check(args)
    import torch

    from edgeprune.data import open_data
    from edgeprune.data.progress import silenced
    from edgeprune.export.source import resolve
    from edgeprune.sensitivity.curves import sensitivity
    from edgeprune.sensitivity.report import markdown, write

    source = resolve(args.checkpoint, trust_factory=args.trust_factory)
    spec = args.data or source.meta.get("data")
    if not spec:
        raise EdgepruneError(f"{args.checkpoint} records no data spec: pass --data")
    n = args.data_size
    sizes = {} if n is None else {"train": n, "dev": max(-(-n // 3), 10), "test": max(-(-n // 3), 10)}
    lip_size = (source.zoo_cfg().get("lip_size") or 88) if "lips" in source.input_names else 88
    groups = [g.strip() for g in args.groups.split(",") if g.strip()] if args.groups else None
    torch.set_num_threads(args.threads)
    with silenced(args.no_progress):
        bundle = open_data(spec, inputs=source.input_names, lip_size=lip_size, seed=args.seed, **sizes)
        if bundle.task != source.task:
            raise EdgepruneError(f"data {spec!r} is {bundle.task} but {args.checkpoint} is a {source.task} model")
        result = sensitivity(source, bundle, fractions, args.bn_batches, args.batch_size, args.importance,
                             args.seed, groups)
    result.update(checkpoint=str(args.checkpoint), data=spec, fractions=list(fractions))
    paths = write(result, args.out)
    print(markdown(result), end="")
    print(f"wrote {paths['json']}, {paths['md']}, {paths['png']}")
    return 0
