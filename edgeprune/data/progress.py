"""tqdm progress bars for long data work, silenced by EDGEPRUNE_NO_PROGRESS=1."""

from __future__ import annotations

import os

from tqdm import tqdm


def progress_enabled() -> bool:
    return os.environ.get("EDGEPRUNE_NO_PROGRESS", "") not in ("1", "true", "yes")


def progress(iterable, desc: str = "", total: int | None = None, leave: bool = False):
    """Wrap `iterable` in a tqdm bar on stderr unless progress is disabled."""
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=not progress_enabled(), dynamic_ncols=True)
