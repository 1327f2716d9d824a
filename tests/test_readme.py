"""The README walk: every command in README.md's ```bash blocks runs as written and exits as the README says.

Rules (simple on purpose, so that a reader of the README can tell what is checked):
- Only fenced blocks opened with ```bash are walked, in README order. Commands a CI machine cannot run (a board
  over SSH, a `pip install`, runs of hours) are in ```console blocks, introduced by a sentence saying why; ```console,
  ```python, ```text and plain ``` blocks are never run.
- One command per line; a line ending in a backslash continues on the next. Blank lines and lines starting with #
  are skipped; a trailing # comment is bash's own.
- A line `NAME=value` sets a variable for the following lines of its block.
- The set-up block's `python3 -m venv ... && pip install ... && REST` runs only REST, without `python -m pytest`
  (this test runs inside that environment and inside that pytest run).
- Every command runs in one fresh temporary folder (its cwd) with this test's Python environment first on PATH,
  and must exit 0; a command whose comment says `refused today (TEXT)` must exit 2 (the CLI's refusal) with
  TEXT on stderr instead.
The data cache is the user's (EDGEPRUNE_CACHE or ~/.cache/edgeprune), as for a reader following the README.
"""

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\S*)\s*$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")
REFUSED = re.compile(r"#.*\brefused today \(([^)]+)\)")
COMMAND_TIMEOUT_S = 900


def fenced_blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """(language, first line number, lines) of every fenced block."""
    blocks, current = [], None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if current is None and match:
            current = (match.group(1), number + 1, [])
        elif current is not None and line.startswith("```"):
            blocks.append(current)
            current = None
        elif current is not None:
            current[2].append(line)
    assert current is None, f"README.md: the block opened at line {current[1] - 1} is never closed"
    return blocks


def commands(lines: list[str]) -> list[str]:
    """The block's command lines, continuations joined."""
    out, pending = [], ""
    for line in lines:
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip() and not pending.lstrip().startswith("#"):
            out.append(pending.strip())
        pending = ""
    assert not pending, f"a continuation line ends the block: {pending!r}"
    return out


def setup_part(command: str) -> str:
    """What the walk runs of a set-up line: the part after `pip install`, less `python -m pytest`."""
    parts = [p.strip() for p in command.split("&&")]
    installs = [i for i, p in enumerate(parts) if p.startswith("pip install")]
    assert installs, f"a set-up line without pip install: {command}"
    return " && ".join(p for p in parts[installs[-1] + 1 :] if not p.startswith("python -m pytest"))


def walk_plan(text: str) -> list[tuple[int, str, str]]:
    """(README line of its block, variable assignments before it, command) for every command to run."""
    plan = []
    for language, first_line, lines in fenced_blocks(text):
        if language != "bash":
            continue
        assignments = []
        for command in commands(lines):
            if ASSIGNMENT.match(command):
                assignments.append(command)
                continue
            if command.startswith("python3 -m venv"):
                command = setup_part(command)
                if not command:
                    continue
            plan.append((first_line, "; ".join(assignments), command))
    return plan


def test_walk_plan_follows_the_rules():
    text = "\n".join([
        "```bash", "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && edgeprune slim",
        "python3 -m venv .venv && pip install -e '.[dev]' && python -m pytest", "```",
        "```console", "pip install x", "```", "```python", "print(1)", "```",
        "```bash", "# a comment", "", "X=a/b", "edgeprune export $X --out f \\", "    --json j   # note",
        "edgeprune export $X --int8   # refused today (parity gate), see below", "```",
    ])
    plan = walk_plan(text)
    assert plan == [(2, "", "edgeprune slim"), (12, "X=a/b", "edgeprune export $X --out f      --json j   # note"),
                    (12, "X=a/b", "edgeprune export $X --int8   # refused today (parity gate), see below")]
    assert REFUSED.search(plan[2][2]).group(1) == "parity gate" and not REFUSED.search(plan[1][2])
    with pytest.raises(AssertionError, match="never closed"):
        fenced_blocks("```bash\nls\n")


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "(nothing on stderr)"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_readme_bash_command_runs_as_written(tmp_path):
    plan = walk_plan(README.read_text())
    walked = " ".join(command for _, _, command in plan)
    for needed in ("edgeprune slim --method cplr", "edgeprune export", "edgeprune bench", "edgeprune eval",
                   "edgeprune report", "edgeprune data synth"):
        assert needed in walked, f"the README walk lost `{needed}`: are its blocks still ```bash?"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "EDGEPRUNE_NO_PROGRESS": "1"}
    work, logs = tmp_path / "walk", tmp_path / "logs"
    work.mkdir()
    logs.mkdir()
    timings = []
    for index, (line, assignments, command) in enumerate(plan):
        script = f"set -e\n{assignments}\n{command}\n"
        out, err = logs / f"{index:02d}.out", logs / f"{index:02d}.err"
        start, cpu = time.perf_counter(), _children_cpu_s()
        with out.open("w") as stdout, err.open("w") as stderr:
            rc = subprocess.run(["bash", "-c", script], cwd=work, env=env, stdout=stdout, stderr=stderr,
                                timeout=COMMAND_TIMEOUT_S).returncode
        timings.append((time.perf_counter() - start, _children_cpu_s() - cpu, command))
        refused = REFUSED.search(command)
        where = f"README block at line {line}: `{command}`"
        if refused:
            assert rc == 2, f"{where} exited {rc}, the README says it is refused (exit 2): {_last_line(err)}"
            assert refused.group(1) in err.read_text(), f"{where}: no '{refused.group(1)}' in: {_last_line(err)}"
        else:
            assert rc == 0, f"{where} exited {rc}: {_last_line(err)}"
    wall, cpu = sum(t[0] for t in timings), sum(t[1] for t in timings)
    print(f"\nREADME walk: {len(plan)} commands in {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU")
    for seconds, cpu_s, command in timings:
        print(f"{seconds:7.1f} s wall {cpu_s:7.1f} s CPU  {command}")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
