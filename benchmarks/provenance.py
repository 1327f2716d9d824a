"""Where a benchmark figure came from: the git commit (marked -dirty with uncommitted changes), date, machine, load."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path


def git_sha() -> str:
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def stamp() -> str:
    """'git SHA · date · machine · cores · Python · load' for the line under a benchmark's command."""
    return (f"git {git_sha()} · {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {platform.machine()} "
            f"{os.cpu_count()} cores · Python {platform.python_version()} · load {os.getloadavg()[0]:.1f} at start")


def command() -> str:
    """The command line that ran this script, quoted so that it can be pasted back into a shell."""
    return "python " + shlex.join(sys.argv)
