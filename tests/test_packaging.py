"""The package installs as DESIGN.md says: a wheel carries edgeprune.models/.export/.device_bench; the core
install leaves out scipy and scikit-learn, and every import beyond the core is guarded by a one-line error."""

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement

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


SOURCES = [ROOT / folder for folder in MAPPING.values()]
LEFT_OUT_OF_CORE = {"scipy", "scikit-learn", "sklearn"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _core_distributions() -> set[str]:
    """The core requirements and, through the installed metadata, everything they require (no extras)."""
    todo = [Requirement(r).name for r in _pyproject()["project"]["dependencies"]]
    seen = set()
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in importlib.metadata.requires(name) or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def test_core_dependencies_leave_out_scipy_and_scikit_learn():
    project = _pyproject()["project"]
    core = {_norm(Requirement(r).name) for r in project["dependencies"]}
    assert not core & LEFT_OUT_OF_CORE
    assert not _core_distributions() & LEFT_OUT_OF_CORE, "a core dependency pulls in scipy or scikit-learn"
    extras = project["optional-dependencies"]
    assert [Requirement(r).name for r in extras["digits"]] == ["scikit-learn"]
    assert Requirement(extras["all"][0]).extras == {"tflite", "digits"}


def _guarded(parents: list) -> bool:
    """Inside a try whose ImportError handler raises (the one-line error) or calls something that returns it."""
    for node in reversed(parents):
        if not isinstance(node, ast.Try):
            continue
        for handler in node.handlers:
            names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            catches = {getattr(n, "id", None) for n in names} & {"ImportError", "ModuleNotFoundError"}
            if catches and any(isinstance(n, ast.Raise) for n in ast.walk(handler)):
                return True
    return False


def _imports(tree):
    """(top-level module, line, enclosing nodes) of every absolute import statement."""
    stack = [(tree, [])]
    while stack:
        node, parents = stack.pop()
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno, parents
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0], node.lineno, parents
        stack.extend((child, parents + [node]) for child in ast.iter_child_nodes(node))


def test_every_import_beyond_the_core_is_guarded_by_an_error():
    """A user of the core install meets an extra's module only through a one-line error (import statements;
    device_bench's runtimes go through importlib and have their own tests)."""
    core_dists = _core_distributions()
    core_modules = {module for module, dists in importlib.metadata.packages_distributions().items()
                    if any(_norm(d) in core_dists for d in dists)}
    assert {"torch", "numpy", "onnx", "onnxruntime", "matplotlib"} <= core_modules
    beyond, unguarded = set(), []
    for folder in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            for module, line, parents in _imports(ast.parse(path.read_text(), str(path))):
                if module in sys.stdlib_module_names or module == "edgeprune" or module in core_modules:
                    continue
                beyond.add(module)
                if not _guarded(parents):
                    unguarded.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert {"sklearn", "litert_torch"} <= beyond  # the check sees the extras' imports
    assert unguarded == []


_BLOCK_EXTRAS = """
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("scipy", "sklearn"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from edgeprune.baseline import fit_baseline
from edgeprune.data import open_data
from edgeprune.errors import EdgepruneError
bundle = open_data("synth", inputs=("fbank", "lips"), cache_dir=sys.argv[1], train=24, dev=12, test=6)
result = {"baseline": fit_baseline(bundle)["score"], "lips_std": float(bundle.train[0]["lips"].std())}
try:
    open_data("digits", inputs=("image",))
except EdgepruneError as exc:
    result["digits"] = str(exc)
result["loaded"] = sorted(m for m in ("scipy", "sklearn") if m in sys.modules)
print(json.dumps(result))
"""


def test_core_paths_run_without_scipy_and_scikit_learn(tmp_path):
    """Synth lips (blurred) and the baseline run with scipy and scikit-learn unimportable; digits says which extra."""
    out = subprocess.run([sys.executable, "-c", _BLOCK_EXTRAS, str(tmp_path)], capture_output=True, text=True,
                         env={**os.environ, "EDGEPRUNE_NO_PROGRESS": "1"}, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.splitlines()[-1])
    assert 0.0 <= result["baseline"] <= 2.0 and result["lips_std"] > 0.05
    assert result["loaded"] == []
    assert "\n" not in result["digits"]
    assert result["digits"].startswith("digits data needs scikit-learn, the digits extra")
    assert 'pip install "edgeprune[digits]"' in result["digits"]
