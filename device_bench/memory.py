"""Resident memory of this process: the current RSS and the peak RSS (high-water mark), in MiB."""

from __future__ import annotations

import sys


def _status_kib(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_mib() -> float | None:
    """Resident set size now (Linux /proc; None where it cannot be read)."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024.0


def peak_rss_mib() -> float | None:
    """Peak resident set size of this process so far (VmHWM on Linux, getrusage elsewhere)."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib / 1024.0
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in bytes on macOS, in KiB on Linux and the BSDs.
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
