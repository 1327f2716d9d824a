"""Reports: round table, widths, pruned share per type, FAR per SNR, curves for several runs; the slim and
report commands print the table and where the results are."""

import argparse
import json

import pytest

from edgeprune.commands import report as report_cmd
from edgeprune.commands import slim as slim_cmd
from edgeprune.errors import EdgepruneError
from edgeprune.report import round_table, write_report

pytestmark = pytest.mark.slow

TINY = ["--data-size", "48", "--epochs", "1", "--first-epochs", "1", "--batch-size", "16", "--lr", "1e-3"]


def parse(module, argv):
    p = argparse.ArgumentParser()
    module.add_arguments(p)
    return p.parse_args(argv)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    a, b = base / "cplr", base / "lthif"
    assert slim_cmd.run(parse(slim_cmd, ["--method", "cplr", "--target-wsr", "0.3", "--out", str(a), *TINY])) == 0
    assert slim_cmd.run(parse(slim_cmd, ["--method", "lth-if", "--per-round", "0.15", "--target-wsr", "0.3",
                                         "--out", str(b), "--json", str(base / "b.json"), *TINY])) == 0
    return a, b


def test_slim_writes_report_and_prints_table(two_runs, capsys):
    a, b = two_runs
    rep = json.loads((a / "final" / "report.json").read_text())
    assert [r["round"] for r in rep["rounds"]] == [0, 1] and rep["final"]["round"] == "final"
    assert rep["pruned_share_by_type"]["conv"] > 0.3 and set(rep["pruned_share_by_type"]) == {"conv", "lstm", "fc"}
    widths = {w["name"]: w for w in rep["widths"]}
    assert widths["backend.convs.0"]["before"] == 128 and widths["backend.convs.0"]["after"] < 128
    snr_rows = rep["far_per_snr"]["rows"]
    assert snr_rows[0]["pruned"] == 0.0 and set(snr_rows[0]["far"]) == {"-5.0", "0.0", "5.0"}
    md = (a / "final" / "report.md").read_text()
    assert "seed 001 Table 4" in md and "seed 001 Table 3" in md and "| backend.convs.0 | Conv1d |" in md
    out = json.loads((a.parent / "b.json").read_text())
    assert out["status"] == "finished" and out["final"]["wsr"] == pytest.approx(0.3, abs=0.005)
    # re-running prints the table and says it is already finished
    slim_cmd.run(parse(slim_cmd, ["--method", "cplr", "--target-wsr", "0.3", "--out", str(a), *TINY]))
    text = capsys.readouterr().out
    assert "already finished" in text and " final " in text and "WSR" in text


def test_report_command_several_runs_one_curve_each(two_runs, tmp_path, capsys):
    a, b = two_runs
    assert report_cmd.run(parse(report_cmd, [str(a), str(b), "--out", str(tmp_path / "cmp")])) == 0
    content = json.loads((tmp_path / "cmp" / "report.json").read_text())
    assert [r["method"] for r in content["runs"]] == ["cplr", "lth-if"]
    assert (tmp_path / "cmp" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(EdgepruneError, match="not a slim run directory"):
        write_report([tmp_path], tmp_path / "x")


def test_round_table_formats_missing_values():
    text = round_table([{"round": 0, "wsr": 0.0, "params": 1000, "macs": 20000, "dev_score": None,
                         "test_score": float("nan")}])
    assert text.splitlines()[2].split() == ["0", "0.000", "1,000", "20,000", "-", "-"]
