"""How the tests call `edgeprune bench`: the real CLI once every sub-command module exists, else the same
parser and error handling for the bench module alone (the CLI imports all sub-commands to build its parser)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

_ALONE = """
import argparse, sys
from edgeprune.commands import bench
from edgeprune.errors import EdgepruneError
parser = argparse.ArgumentParser(prog="edgeprune bench")
bench.add_arguments(parser)
args = parser.parse_args(sys.argv[1:])
try:
    sys.exit(bench.run(args))
except EdgepruneError as exc:
    print(f"edgeprune bench: error: {exc}", file=sys.stderr)
    sys.exit(2)
"""


def _cli_complete() -> bool:
    from edgeprune.cli import COMMANDS

    return all(importlib.util.find_spec(f"edgeprune.commands.{name}") is not None for name in COMMANDS)


def edgeprune_bench(*argv: str, cwd=None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `edgeprune bench ARGV...` in a subprocess; returns the completed process (text stdout/stderr)."""
    head = [sys.executable, "-m", "edgeprune", "bench"] if _cli_complete() else [sys.executable, "-c", _ALONE]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([*head, *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
