"""The --latency-budget settings of a slim config: checked before any work (no torch), and turned into the
measuring Target (edgeprune.latency.target) with its defaults filled (local, ort, 1 thread)."""

from __future__ import annotations

import math
from pathlib import Path

from edgeprune.errors import EdgepruneError

#: SlimConfig fields that only mean something with a budget
FIELDS = ("target", "runtime", "threads", "latency_table", "latency_options")
#: --latency-options keys -> (accepted types, what they must be)
OPTIONS = {
    "clock": ((str,), "wall or thread-cpu"),
    "grid": ((list,), "a list of kept fractions in (0, 1)"),
    "align": ((int,), "an integer >= 0"),
    "warmup": ((int,), "an integer >= 0"),
    "min_runs": ((int,), "an integer >= 1"),
    "min_seconds": ((int, float), "a number >= 0"),
    "max_seconds": ((int, float), "a number >= 1"),
    "cache_dir": ((str,), "a folder"),
    "ssh_key": ((str,), "a key file"),
    "known_hosts": ((str,), "a known_hosts file"),
    "connect_timeout": ((int,), "an integer >= 1"),
    "strict_host_key_checking": ((str,), "accept-new, yes or no"),
    "remote_python": ((str,), "a python on the board"),
    "remote_tmp": ((str,), "a folder on the board"),
}
BENCH = {"warmup": 5, "min_runs": 20, "min_seconds": 0.5, "max_seconds": 60.0}


def _fail(msg: str) -> None:
    raise EdgepruneError(msg)


def check(c) -> None:
    """One EdgepruneError line for the first bad latency setting of SlimConfig `c` (cheap: no probe, no torch)."""
    from edgeprune.remote import parse_target

    if c.latency_budget is None:
        for name in FIELDS:
            if getattr(c, name) is not None:
                _fail(f"--{name.replace('_', '-')} is for --latency-budget")
        return
    budget = c.latency_budget
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not (math.isfinite(budget) and budget > 0):
        _fail(f"--latency-budget must be a positive number of ms, got {budget!r}")
    if c.granularity != "channel":
        _fail("--latency-budget needs --granularity channel (masked weights leave a dense export as slow as before)")
    if c.staged == "on":
        _fail("--latency-budget prunes the whole model in one stage: leave out --staged on")
    parse_target(c.target or "local")
    if c.threads is not None and (isinstance(c.threads, bool) or not isinstance(c.threads, int) or c.threads < 1):
        _fail(f"--threads must be a positive integer, got {c.threads!r}")
    if c.latency_table is not None and not Path(c.latency_table).expanduser().is_file():
        _fail(f"--latency-table {c.latency_table}: no such file")
    _check_options(c.latency_options or {})


def _check_options(opts: dict) -> None:
    if not isinstance(opts, dict):
        _fail(f"--latency-options must be a JSON object, got {opts!r}")
    for key, value in opts.items():
        if key not in OPTIONS:
            _fail(f"--latency-options has no key {key!r}; known: {', '.join(OPTIONS)}")
        types, what = OPTIONS[key]
        if isinstance(value, bool) or not isinstance(value, types):
            _fail(f"--latency-options {key} must be {what}, got {value!r}")
    if opts.get("clock", "wall") not in ("wall", "thread-cpu"):
        _fail(f"--latency-options clock must be wall or thread-cpu, got {opts['clock']!r}")
    grid = opts.get("grid")
    if grid is not None and (not grid or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                 and 0 < v < 1 for v in grid)):
        _fail(f"--latency-options grid must be a non-empty list of kept fractions in (0, 1), got {grid!r}")
    lows = {"align": 0, "warmup": 0, "min_runs": 1, "min_seconds": 0, "max_seconds": 1, "connect_timeout": 1}
    for key, low in lows.items():
        if key in opts and not (math.isfinite(opts[key]) and opts[key] >= low):
            _fail(f"--latency-options {key} must be {OPTIONS[key][1]}, got {opts[key]!r}")
    if opts.get("strict_host_key_checking", "accept-new") not in ("accept-new", "yes", "no"):
        _fail(f"--latency-options strict_host_key_checking must be accept-new, yes or no, "
              f"got {opts['strict_host_key_checking']!r}")


def make_target(c):
    """The Target of a config with a budget: --target/--runtime/--threads and --latency-options (SSH key and
    options checked here, before any connection)."""
    from edgeprune.latency.target import Target
    from edgeprune.remote import SshOptions

    opts = dict(c.latency_options or {})
    ssh = SshOptions(key=opts.get("ssh_key"), connect_timeout=int(opts.get("connect_timeout", 10)),
                     known_hosts=opts.get("known_hosts"),
                     strict_host_key_checking=opts.get("strict_host_key_checking", "accept-new"))
    bench = {k: opts.get(k, v) for k, v in BENCH.items()}
    bench["block"] = 5
    target = Target(c.target or "local", c.runtime or "ort", c.threads or 1, ssh, opts.get("remote_python", "python3"),
                    opts.get("remote_tmp"), bench, opts.get("clock", "wall"))
    if target.ssh is not None:
        ssh.common()
    return target
