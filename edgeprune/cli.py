"""The `edgeprune` command line: one sub-command per module in edgeprune.commands."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> module under edgeprune.commands; each module has HELP, add_arguments(parser), run(args) -> int.
# Modules import their heavy dependencies inside run(), so `--help` stays fast.
COMMANDS = ("slim", "export", "bench", "report", "data", "eval", "profile", "sensitivity")


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block before it), exit status 2.

    argparse prints the whole usage (14-22 lines for slim) before the error, burying it; the usage stays
    one `--help` away, which the line names.
    """

    def error(self, message: str):
        message = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    from edgeprune import __version__

    parser = OneLineErrorParser(
        prog="edgeprune",
        description="Prune networks physically, export them to ONNX/TFLite and measure them on the device.",
    )
    parser.add_argument("--version", action="version", version=f"edgeprune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"edgeprune.commands.{name}")
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from edgeprune.errors import EdgepruneError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except EdgepruneError as exc:
        message = " ".join(str(exc).split())
        print(f"edgeprune {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"edgeprune {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
