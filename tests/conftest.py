"""Shared test settings: deterministic torch, small thread count; a read-only folder for path checks."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("EDGEPRUNE_NO_PROGRESS", "1")


def _share_cores_between_workers() -> None:
    """Under pytest-xdist, each worker (and the processes its tests start) gets its share of the cores as torch
    threads: two workers with every core each would oversubscribe them. A user's OMP_NUM_THREADS wins."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        share = max(1, len(os.sched_getaffinity(0)) // workers)
        os.environ.setdefault("OMP_NUM_THREADS", str(share))


_share_cores_between_workers()  # before torch is imported: it reads OMP_NUM_THREADS once

# The longest tests start first, so that with several workers none is left running alone at the end.
LONGEST_FIRST = ("test_readme.py::test_every_readme_bash_command_runs_as_written",)


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: not item.nodeid.endswith(LONGEST_FIRST))


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
