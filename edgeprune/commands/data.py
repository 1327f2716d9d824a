"""`edgeprune data synth --out DIR`: write the built-in synth corpus as wav + npy in the folder layout."""

from __future__ import annotations

import argparse

HELP = "write the built-in synth wake-word corpus as wav + lips npy files (folder layout)"
DESCRIPTION = (
    "Generate (or take from the cache) the seeded synth TV wake-word corpus and write it as "
    "DIR/{train,dev,test}/{positive,negative}/*.wav, DIR/<split>/snr.csv and DIR/corpus.json (with --lips also "
    "DIR/<split>/lips/*.npy), so it can be listened to, looked at, and read back with --data folder:DIR. "
    "The default sizes write about 120 MB of audio; lip frames add about 720 MB (88x88), so they are written "
    "only with --lips (the audio-visual models need them). The size is printed before and after writing."
)


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="WHAT")
    sub.required = True
    p = sub.add_parser("synth", help="write the synth corpus", description=DESCRIPTION)
    p.add_argument("--out", required=True, help="output folder (created; must be empty unless --force)")
    p.add_argument("--seed", type=int, default=0, help="generation seed (same seed, same corpus)")
    # Same numbers as edgeprune.data.folder_writer.WRITE_SIZES (not imported here: it pulls in torch, --help stays
    # fast); `--data synth` itself trains on 6000 clips (edgeprune.data.synth.DEFAULT_SIZES).
    p.add_argument("--train", type=int, default=2000, help="training clips")
    p.add_argument("--dev", type=int, default=300, help="development clips")
    p.add_argument("--test", type=int, default=200, help="test clips per SNR (-5, 0 and 5 dB)")
    p.add_argument("--clip-s", type=float, default=1.3, help="clip length in seconds")
    p.add_argument("--lip-size", type=int, default=88, choices=(88, 96), help="lip crop size in pixels")
    p.add_argument("--lips", action=argparse.BooleanOptionalAction, default=False,
                   help="also write the lip frames as npy (about 6x the audio's size; tv-video/tv-av need them)")
    p.add_argument("--cache-dir", default=None, help="corpus cache (default $EDGEPRUNE_CACHE or ~/.cache/edgeprune)")
    p.add_argument("--force", action="store_true", help="replace a non-empty output folder")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def run(args) -> int:
    from edgeprune.data.folder_writer import estimate_size, write_synth_folder

    sizes = dict(train=args.train, dev=args.dev, test=args.test, clip_s=args.clip_s, lip_size=args.lip_size)

    def announce(est: dict) -> None:  # after the arguments are checked, before anything is generated
        if args.lips:
            parts = f"wav {_mb(est['wav_bytes'])} + lips {_mb(est['lips_bytes'])}"
        else:
            parts = f"wav; --lips would add {_mb(estimate_size(**sizes, lips=True)['lips_bytes'])}"
        print(f"writing {est['clips']:,} clips to {args.out}: about {_mb(est['total_bytes'])} ({parts})", flush=True)

    summary = write_synth_folder(args.out, seed=args.seed, **sizes, lips=args.lips, cache_dir=args.cache_dir,
                                 force=args.force, on_start=announce)
    print(f"wrote {args.out}: {_mb(summary['bytes'])} (seed {args.seed}, read it back with --data folder:{args.out})")
    print(f"{'split':<6} {'clips':>6} {'positive':>9} {'negative':>9}")
    for split, s in summary["splits"].items():
        print(f"{split:<6} {s['clips']:>6} {s['positive']:>9} {s['negative']:>9}")
    return 0
