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
