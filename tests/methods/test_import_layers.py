"""Import directions (DESIGN.md): methods -> report -> rundir, never back. The run-directory reader sits below
both, so writing a report never imports the pruning methods and the methods package has no cycle with it."""

import ast
import subprocess
import sys
from pathlib import Path

import edgeprune

ROOT = Path(edgeprune.__file__).resolve().parent


def unit_of(module: str) -> str | None:
    """edgeprune.methods.loop -> edgeprune.methods; edgeprune.rundir -> edgeprune.rundir; numpy -> None."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "edgeprune" and len(parts) > 1 else None


def imports_of(path: Path) -> set[str]:
    """Every edgeprune module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if unit_of(m)}


def _exists(unit: str) -> bool:
    path = ROOT.parent / unit.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").is_file()


def unit_graph() -> dict[str, set[str]]:
    """{unit: units it imports} over edgeprune's own files (a unit is a top-level module or subpackage)."""
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        unit = unit_of(".".join(p for p in rel.parts if p != "__init__"))
        if unit is None:
            continue
        targets = {unit_of(m) for m in imports_of(path)} - {unit}
        graph.setdefault(unit, set()).update(t for t in targets if _exists(t))
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_graph_sees_the_known_edges():
    g = unit_graph()
    assert "edgeprune.report" in g["edgeprune.methods"]  # the loop writes final/report.*
    assert "edgeprune.rundir" in g["edgeprune.report"] and "edgeprune.rundir" in g["edgeprune.methods"]


def test_report_and_rundir_never_reach_methods_and_methods_has_no_cycle():
    g = unit_graph()
    for unit in ("edgeprune.report", "edgeprune.rundir"):
        assert "edgeprune.methods" not in reachable(g, unit), f"{unit} imports edgeprune.methods (directly or not)"
    for unit in ("edgeprune.methods", "edgeprune.report", "edgeprune.rundir"):
        assert unit not in reachable(g, unit), f"{unit} is on an import cycle"
    assert "edgeprune.report" not in reachable(g, "edgeprune.rundir")


def test_importing_the_report_loads_no_method_module():
    code = ("import sys, edgeprune.report, edgeprune.rundir\n"
            "bad = sorted(m for m in sys.modules if m.startswith('edgeprune.methods'))\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
