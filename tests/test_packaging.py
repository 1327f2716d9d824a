"""The package installs as DESIGN.md says: a wheel carries edgeprune.models/.export/.device_bench."""

import os
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"edgeprune": "edgeprune", "edgeprune.models": "models", "edgeprune.export": "export",
           "edgeprune.device_bench": "device_bench"}


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    assert _pyproject()["tool"]["setuptools"]["package-dir"] == MAPPING
    found = set()
    for package, folder in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]))
    assert found == listed, f"unlisted: {sorted(found - listed)}, listed but missing: {sorted(listed - found)}"


def test_torch_is_pinned_by_constraints():
    assert (ROOT / "constraints.txt").read_text().split() == ["torch==2.13.0"]
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text().splitlines()
    commands = [line for line in readme[:12] if line.startswith("python3 -m venv")]
    assert len(commands) == 2, "the README opens with exactly two set-up commands"
    assert all("-c constraints.txt" in c for c in commands)
    assert "-c constraints.txt" in ci and "pytest" in ci


@pytest.mark.slow
def test_wheel_installs_all_three_mapped_packages(tmp_path):
    wheel_dir = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheel_dir)], check=True, cwd=tmp_path)
    (wheel,) = wheel_dir.glob("edgeprune-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # Install the wheel alone; its dependencies come from this test's environment through a .pth file.
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)],
                   check=True)
    Path(site, "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = ("import sys, edgeprune.device_bench as d; assert 'torch' not in sys.modules, 'device_bench pulled torch';"
             "import edgeprune, edgeprune.models as m, edgeprune.export as e;"
             "print(edgeprune.__file__); print(m.__file__); print(e.__file__); print(d.__file__)")
    out = subprocess.run([str(py), "-c", probe], check=True, capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""}).stdout.split()
    assert len(out) == 4
    for path in out:
        assert path.startswith(site), f"{path} imported from outside the wheel's install"
    assert out[1].endswith("edgeprune/models/__init__.py")
    assert out[3].endswith("edgeprune/device_bench/__init__.py")


def test_test_modules_have_unique_basenames():
    # tests/ folders are not packages: two test files with one basename stop pytest at collection.
    names = [p.name for p in (ROOT / "tests").rglob("*.py") if p.name != "conftest.py"]
    assert sorted(set(n for n in names if names.count(n) > 1)) == []
