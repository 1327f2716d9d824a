"""benchmarks/ scripts: none shadows a standard-library module (a script's folder is first on sys.path), and the
precision benchmark runs end to end and prints its table."""

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_no_benchmark_script_shadows_a_standard_library_module():
    # benchmarks/profile.py once hid the stdlib `profile`: importing torch._dynamo (AdamW does) then failed
    clash = sorted(p.name for p in BENCH.glob("*.py") if p.stem in sys.stdlib_module_names)
    assert clash == []


def test_precision_benchmark_prints_both_precisions_and_their_ratio():
    proc = subprocess.run([sys.executable, str(BENCH / "precision.py"), "--models", "tv-audio", "--batch", "4",
                           "--repeats", "1", "--steps", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("command: python benchmarks/precision.py --models tv-audio")
    row = re.search(r"^\| tv-audio \| 4 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)x \|$", proc.stdout, re.M)
    assert row, proc.stdout
    f32, b16, ratio = map(float, row.groups())
    assert f32 > 0 and b16 > 0 and abs(ratio - f32 / b16) <= 0.01 + 0.005 * ratio  # the printed ratio is theirs


def test_budget_compare_finds_where_the_sweep_crosses_the_budget(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    from budget_compare import crossing

    rounds = [{"round": 0, "wsr": 0.0, "macs": 1000, "p90": 10.0}, {"round": 1, "wsr": 0.3, "macs": 700, "p90": 8.0},
              {"round": 2, "wsr": 0.5, "macs": 500, "p90": 4.0}, {"round": 3, "wsr": 0.7, "macs": 300, "p90": 5.0}]
    hit = crossing(rounds, 6.0)  # halfway between rounds 1 and 2
    assert hit["between_rounds"] == [1, 2]
    assert abs(hit["wsr"] - 0.4) < 1e-12 and abs(hit["macs"] - 600) < 1e-9
    at = crossing(rounds, 8.0)  # a round exactly at the budget is within it
    assert at["between_rounds"] == [0, 1] and abs(at["wsr"] - 0.3) < 1e-12
    try:
        crossing(rounds, 3.0)
    except SystemExit as exc:
        assert "never crosses the budget 3.000 ms" in str(exc) and "raise --sweep-wsr" in str(exc)
    else:
        raise AssertionError("a sweep that never reaches the budget must stop the benchmark")
