"""tqdm progress bars for long data work, silenced by EDGEPRUNE_NO_PROGRESS=1 or inside `silenced()`."""

from __future__ import annotations

import os
from contextlib import contextmanager

from tqdm import tqdm

_SILENCED = [0]


def progress_enabled() -> bool:
    return not _SILENCED[0] and os.environ.get("EDGEPRUNE_NO_PROGRESS", "") not in ("1", "true", "yes")


@contextmanager
def silenced(on: bool = True):
    """No data progress bars inside this block when `on` (what `slim --no-progress` asks for)."""
    _SILENCED[0] += int(on)
    try:
        yield
    finally:
        _SILENCED[0] -= int(on)


def progress(iterable, desc: str = "", total: int | None = None, leave: bool = False):
    """Wrap `iterable` in a tqdm bar on stderr unless progress is disabled."""
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=not progress_enabled(), dynamic_ncols=True)
