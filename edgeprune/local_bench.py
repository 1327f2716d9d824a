"""Run device_bench in a fresh local Python process and read its JSON (edgeprune bench, edgeprune.latency)."""

from __future__ import annotations

import json
import os
import sys
import tempfile

from edgeprune.errors import EdgepruneError


def bench_local(models: list[str], device_args: list[str]) -> dict:
    """Run device_bench in a fresh Python process (so its memory figures are its own) and read its JSON."""
    from edgeprune.remote import failure_reason
    from edgeprune.tied import run_tied

    with tempfile.TemporaryDirectory(prefix="edgeprune-bench.") as tmp:
        out = os.path.join(tmp, "result.json")
        names = [os.path.abspath(m) for m in models]
        argv = [sys.executable, "-m", "edgeprune.device_bench", "--watch-stdin", *device_args, "--json", out, "--",
                *names]
        proc = run_tied(argv)  # stopped with us (SIGTERM forwarded), and it exits if we are killed
        if proc.returncode != 0:
            raise EdgepruneError(failure_reason(proc, names, models))
        with open(out, encoding="utf-8") as f:
            result = json.load(f)
    for entry, given in zip(result["models"], models):
        entry["path"] = given
    return result
