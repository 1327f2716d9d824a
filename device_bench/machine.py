"""What the numbers were measured on: CPU model, cores, OS, Python, numpy, load and CPU frequency governor."""

from __future__ import annotations

import os
import platform

from .errors import BenchError


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (x86 "model name", ARM "Model"/"Hardware"), else platform's."""
    keys = ("model name", "Model", "Hardware", "cpu model", "Processor")
    found: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                key = key.strip()
                if sep and key in keys and key not in found and value.strip():
                    found[key] = value.strip()
    except OSError:  # no /proc (macOS, some containers): fall back to platform below
        found.clear()
    for key in keys:
        if key in found:
            return found[key]
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


THREADS_PER_CORE = 4  # a ceiling on --threads: beyond this a runtime only allocates and thrashes


def max_threads() -> int:
    """The most intra-op threads worth asking for here: THREADS_PER_CORE per logical core."""
    return THREADS_PER_CORE * (os.cpu_count() or 1)


def resolve_threads(value) -> int:
    """`all` -> the usable core count; otherwise a positive integer up to max_threads()."""
    if str(value).strip().lower() == "all":
        return usable_cores()
    try:
        threads = int(value)
    except (TypeError, ValueError):
        threads = -1
    if threads < 1:
        raise BenchError(f"bad thread count {value!r}: expected a positive integer or 'all'")
    if threads > max_threads():
        raise BenchError(f"bad thread count {value!r}: at most {max_threads()} on this machine "
                         f"({THREADS_PER_CORE} per logical core)")
    return threads


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def describe() -> dict:
    """A JSON-ready description of this machine."""
    import numpy as np

    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return {
        "cpu_model": cpu_model(),
        "arch": platform.machine(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "load_average": load,
        "cpu_governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
    }
