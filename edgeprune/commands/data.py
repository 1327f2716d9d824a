"""`edgeprune data synth --out DIR`: write the built-in synth corpus as wav + npy in the folder layout."""

from __future__ import annotations

HELP = "write the built-in synth wake-word corpus as wav + lips npy files (folder layout)"
DESCRIPTION = (
    "Generate (or take from the cache) the seeded synth TV wake-word corpus and write it as "
    "DIR/{train,dev,test}/{positive,negative}/*.wav, DIR/<split>/lips/*.npy, DIR/<split>/snr.csv and "
    "DIR/corpus.json, so it can be listened to, looked at, and read back with --data folder:DIR."
)


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="WHAT")
    sub.required = True
    p = sub.add_parser("synth", help="write the synth corpus", description=DESCRIPTION)
    p.add_argument("--out", required=True, help="output folder (created; must be empty unless --force)")
    p.add_argument("--seed", type=int, default=0, help="generation seed (same seed, same corpus)")
    # Same numbers as edgeprune.data.synth.DEFAULT_SIZES (not imported here: it pulls in torch, --help stays fast).
    p.add_argument("--train", type=int, default=2000, help="training clips")
    p.add_argument("--dev", type=int, default=300, help="development clips")
    p.add_argument("--test", type=int, default=200, help="test clips per SNR (-5, 0 and 5 dB)")
    p.add_argument("--clip-s", type=float, default=1.3, help="clip length in seconds")
    p.add_argument("--lip-size", type=int, default=88, choices=(88, 96), help="lip crop size in pixels")
    p.add_argument("--no-lips", action="store_true", help="write audio only")
    p.add_argument("--cache-dir", default=None, help="corpus cache (default $EDGEPRUNE_CACHE or ~/.cache/edgeprune)")
    p.add_argument("--force", action="store_true", help="replace a non-empty output folder")


def run(args) -> int:
    from edgeprune.data.folder_writer import write_synth_folder

    summary = write_synth_folder(
        args.out, seed=args.seed, train=args.train, dev=args.dev, test=args.test, clip_s=args.clip_s,
        lip_size=args.lip_size, lips=not args.no_lips, cache_dir=args.cache_dir, force=args.force,
    )
    print(f"wrote {args.out} (seed {args.seed}, read it back with --data folder:{args.out})")
    print(f"{'split':<6} {'clips':>6} {'positive':>9} {'negative':>9}")
    for split, s in summary["splits"].items():
        print(f"{split:<6} {s['clips']:>6} {s['positive']:>9} {s['negative']:>9}")
    return 0
