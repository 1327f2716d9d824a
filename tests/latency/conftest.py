"""Fixtures of the latency tests: the tiny model and fake target of tiny_latency.py, and the loopback sshd and
board venv of the bench tests (loaded from tests/device_bench/conftest.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tiny_latency import FakeTarget, tiny_source

_spec = importlib.util.spec_from_file_location("_bench_fixtures", Path(__file__).parents[1] / "device_bench" / "conftest.py")
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)
sshd = _bench.sshd  # noqa: F401  (pytest finds fixtures by name in this module)
board_python = _bench.board_python  # noqa: F401


@pytest.fixture()
def source():
    return tiny_source()


@pytest.fixture()
def fake_target():
    return FakeTarget()
