"""Shared test settings: deterministic torch, small thread count; a read-only folder for path checks."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("EDGEPRUNE_NO_PROGRESS", "1")


@pytest.fixture(autouse=True)
def _seed():
    import torch

    torch.manual_seed(0)
    yield


def _writable(folder: Path) -> bool:
    try:
        (folder / ".edgeprune-test").touch()
    except OSError:
        return False
    (folder / ".edgeprune-test").unlink()
    return True


@pytest.fixture()
def read_only_folder(tmp_path) -> Path:
    """A folder this process cannot create files in: chmod 555 for a normal user; root ignores mode bits, so
    sysfs then (skipped only where neither exists)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        folder = Path("/sys")
        if not folder.is_dir() or os.access(folder, os.W_OK) and _writable(folder):
            pytest.skip("no read-only folder available to this user")
    return folder
