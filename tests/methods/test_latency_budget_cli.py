"""`edgeprune slim --latency-budget` end to end on tv-audio, measured for real on this machine (onnxruntime, one
thread, the thread-CPU clock, which other load on a shared machine does not move)."""

import json

import pytest

from edgeprune.cli import main

pytestmark = pytest.mark.slow

OPTIONS = {"clock": "thread-cpu", "grid": [0.5], "warmup": 1, "min_runs": 5, "min_seconds": 0}


def test_slim_to_a_budget_measured_here(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EDGEPRUNE_CACHE", str(tmp_path / "cache"))
    table = tmp_path / "table.json"
    rc = main(["profile", "tv-audio", "--out", str(table), "--clock", "thread-cpu", "--grid", "0.5", "--warmup", "1",
               "--min-runs", "5", "--min-seconds", "0", "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    dense = json.loads(table.read_text())["dense"]["p90"]
    budget = round(0.75 * dense, 4)
    out = tmp_path / "run"
    rc = main(["slim", "--latency-budget", str(budget), "--latency-options", json.dumps(OPTIONS), "--data-size", "120",
               "--pretrain-epochs", "1", "--epochs", "1", "--out", str(out), "--no-progress",
               "--json", str(tmp_path / "result.json")])
    io = capsys.readouterr()
    assert rc == 0, io.err
    assert "points measured now" not in io.err  # the profile's cache served the table
    head = next(line for line in io.out.splitlines() if line.strip().startswith("round"))
    assert head.split()[-4:] == ["p50", "ms", "p90", "ms"]

    report = json.loads((out / "final" / "report.json").read_text())
    assert report["latency_budget"] == budget and report["latency_target"] == "local (thread-cpu clock)"
    assert all(r["latency_p50"] > 0 and r["latency_p90"] >= r["latency_p50"] for r in report["rounds"])
    assert report["rounds"][0]["latency_p90"] > budget  # the dense model is over it ...
    final = json.loads((tmp_path / "result.json").read_text())["final"]
    assert final["latency"]["p90"] <= budget  # ... the slim one within it, measured again after the fine-tune
    assert report["final"]["latency_p90"] == final["latency"]["p90"]
    assert "within the" in final["stop_reason"] and final["macs"] < report["rounds"][0]["macs"]
    md = (out / "final" / "report.md").read_text()
    assert "| p50 ms | p90 ms | predicted p90 ms |" in md
    assert (out / "final" / "latency.png").stat().st_size > 0 and (out / "latency_table.json").is_file()
