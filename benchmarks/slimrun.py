"""Run one `edgeprune slim` command in its own process (one torch thread), waiting while the same run is held."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def run_slim_process(cmd: list[str]) -> None:
    """Run `cmd`; if its run directory is in use by another process, wait and retry; exit with its error line."""
    env = dict(os.environ, OMP_NUM_THREADS="1", EDGEPRUNE_NO_PROGRESS="1")
    if cmd[0] == "edgeprune":  # this interpreter's edgeprune, also when its venv's bin/ is not on PATH
        cmd = [sys.executable, "-m", "edgeprune", *cmd[1:]]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    while proc.returncode != 0 and "is in use by pid" in proc.stderr:  # the same run, started elsewhere: wait
        time.sleep(20)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
