"""docs/OWN_MODEL.md runs as written: its Python blocks, in order, print what the page shows after each."""

import contextlib
import io
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)
FLOAT = re.compile(r"\d\.\d+e[-+]\d+")  # rounding-level figures (self-check, differences) may vary by machine


def _blocks():
    """(python code, the plain output block that follows it or None) for every Python block of the page."""
    fences = FENCE.findall((ROOT / "docs" / "OWN_MODEL.md").read_text())
    out = []
    for i, (lang, body) in enumerate(fences):
        if lang == "python":
            nxt = fences[i + 1] if i + 1 < len(fences) else None
            out.append((body, nxt[1] if nxt is not None and nxt[0] == "" else None))
    return out


def test_the_page_runs_and_prints_what_it_shows(tmp_path, monkeypatch):
    blocks = _blocks()
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)  # the page writes its checkpoints to the current folder
    monkeypatch.syspath_prepend(str(ROOT / "docs" / "examples"))
    monkeypatch.setattr(sys, "path", list(sys.path))  # the page's own sys.path.insert is undone afterwards
    namespace = {"__name__": "own_model_doc"}
    checked = 0
    for code, shown in blocks:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, "OWN_MODEL.md", "exec"), namespace)
        printed = [line.strip() for line in buffer.getvalue().splitlines() if line.strip()]
        if shown is None:
            continue
        expected = {line.strip() for line in shown.splitlines()}
        for line in printed:
            if not FLOAT.search(line):
                assert line in expected, f"printed {line!r}, which the page does not show"
                checked += 1
    assert checked >= 15  # 19 lines of the page are compared word for word
    assert os.path.isfile(tmp_path / "crnn-slim.safetensors") and os.path.isfile(tmp_path / "fusion-slim.safetensors")
