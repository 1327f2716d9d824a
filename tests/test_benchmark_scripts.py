"""benchmarks/ scripts: none shadows a standard-library module (a script's folder is first on sys.path), and the
precision benchmark runs end to end and prints its table."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_ort_ops_refuses_bad_arguments_before_any_work():
    for args, message in ((["--wsr", "1.5"], "--wsr values must lie in (0, 1)"),
                          (["--models", "nope"], "unknown model(s) ['nope']"),
                          (["--runs", "0"], "--runs, --cpu-runs and --layer-runs must be >= 1")):
        proc = subprocess.run([sys.executable, str(BENCH / "ort_ops.py"), *args], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert "# command" not in proc.stdout  # refused before the run started


def test_ort_ops_runs_end_to_end_on_a_small_model(tmp_path):
    import json

    out = tmp_path / "ops.json"
    proc = subprocess.run([sys.executable, str(BENCH / "ort_ops.py"), "--models", "tv-audio", "--wsr", "0.5",
                           "--runs", "2", "--cpu-runs", "1", "--layer-runs", "1", "--min-runs", "2", "--warmup", "1",
                           "--min-seconds", "0.01", "--json", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# command: python ") and "# git " in proc.stdout
    data = json.loads(out.read_text())
    (res,) = data["results"]
    labels = [v["label"] for v in res["variants"]]
    assert labels == ["dense", "wsr0.5", "wsr0.5+kw"]
    dense, slim, aligned = res["variants"]
    assert dense["macs_reduction"] == 1.0 and slim["macs_reduction"] > 1.5
    assert slim["efficiency"] == slim["speedup"] / slim["macs_reduction"]
    assert all(r["model_macs"] > 0 and r["layout"] in ("nchwc", "nchw") for r in dense["convs"])
    assert sum(r["model_macs"] for r in dense["convs"]) < dense["macs"]  # tv-audio's LSTM holds MACs too
    kw = res["kernel_widths"][0]
    assert kw["variant"] == "wsr0.5+kw" and kw["ms_chosen"] <= kw["ms_wanted"] * 1.000001
    assert all(g["wanted"] <= g["chosen"] <= g["full"] for g in kw["groups"])
    assert aligned["macs"] >= slim["macs"]  # widths only move up
    lost = slim["losses"]["lost_ms"]
    assert abs(sum(lost.values()) - (slim["cpu_p50"] - slim["losses"]["ideal_ms"])) < 1e-9
    assert all(v["fixed"]["cpu_p50"] > 0 for v in res["variants"])
    assert re.search(r"^tv-audio +wsr0\.5 ", proc.stdout, re.M)


def test_int8_isa_refuses_a_missing_checkpoint_before_any_work(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH / "int8_isa.py"), str(tmp_path / "nope.safetensors")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "command:" not in proc.stdout
    assert ("no checkpoint at" in proc.stderr) or ("qemu-x86_64 not found" in proc.stderr), proc.stderr


@pytest.mark.slow
def test_seeds_compares_a_methods_own_flags_against_a_dense_only_reference(tmp_path):
    out = tmp_path / "seeds"
    proc = subprocess.run([sys.executable, str(BENCH / "seeds.py"), "--methods", "lth-if", "cp --importance l1",
                           "--seeds", "0", "--data-size", "48", "--pretrain-epochs", "1", "--epochs", "1",
                           "--first-epochs", "1", "--target-wsr", "0.3", "--jobs", "2", "--out", str(out),
                           "--json", str(tmp_path / "s.json")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["cp-importance-l1-tv-audio-s0", "dense-tv-audio-s0",
                                                     "lth-if-tv-audio-s0"]
    dense_final = json.loads((out / "dense-tv-audio-s0" / "final" / "metrics.json").read_text())
    assert dense_final["wsr"] == 0.0 and dense_final["stop_reason"] == "max rounds (0) reached"
    cp_cfg = json.loads((out / "cp-importance-l1-tv-audio-s0" / "config.json").read_text())
    assert cp_cfg["method"] == "cp" and cp_cfg["importance"] == "l1"
    rows = json.loads((tmp_path / "s.json").read_text())["rows"]
    dense = next(r["round0_test"] for r in rows if r["method"] == "dense")
    assert "dense = a cplr run stopped after round 0" in proc.stdout
    assert "--methods lth-if 'cp --importance l1' --seeds 0" in proc.stdout.splitlines()[0]  # pasteable
    for entry in ("lth-if", "cp --importance l1"):
        r = next(r for r in rows if r["method"] == entry)
        assert 0.25 <= r["wsr"] <= 0.35
        line = next(x for x in proc.stdout.splitlines() if x.startswith(f"| {entry} |"))
        assert f"| {r['final_test'] - dense:.3f} |" in line  # final - dense against the dense-only run
    assert not any(x.startswith("| dense |") for x in proc.stdout.splitlines())
    per_seed = next(x for x in proc.stdout.splitlines() if x.startswith("  lth-if: s0 "))
    r = next(r for r in rows if r["method"] == "lth-if")
    assert per_seed == f"  lth-if: s0 {dense:.3f} -> {r['final_test']:.3f} ({r['final_test'] - dense:+.3f})"
