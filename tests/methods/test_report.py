"""Reports: round table, widths, pruned share per type, FAR per SNR, curves for several runs; the slim and
report commands print the table and where the results are; several runs side by side in one table; the
curves on a fixed Score axis with the dense model and chance as reference lines."""

import argparse
import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.image
import matplotlib.pyplot as plt
import pytest

from edgeprune.commands import report as report_cmd
from edgeprune.commands import slim as slim_cmd
from edgeprune.errors import EdgepruneError
from edgeprune.rundir import write_json
from edgeprune.report import COMPARISON_HEAD, build_report, curves_figure, load_run, round_table, write_report

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


@pytest.mark.slow
def test_slim_writes_report_and_prints_table(two_runs, capsys):
    a, b = two_runs
    rep = json.loads((a / "final" / "report.json").read_text())
    assert [r["round"] for r in rep["rounds"]] == [0, 1] and rep["final"]["round"] == "final"
    shares = rep["pruned_share_by_type"]
    assert set(shares) == {"conv", "lstm", "fc"}
    # cplr's default bn_scale+l1 ranks the LSTM and FC units too, not only the channels behind a BatchNorm
    assert all(v > 0.05 for v in shares.values()), shares
    widths = {w["name"]: w for w in rep["widths"]}
    assert widths["backend.convs.0"]["before"] == 128 and widths["backend.convs.0"]["after"] < 128
    snr_rows = rep["far_per_snr"]["rows"]
    assert snr_rows[0]["pruned"] == 0.0 and set(snr_rows[0]["far"]) == {"-5.0", "0.0", "5.0"}
    md = (a / "final" / "report.md").read_text()
    assert "seed 001 Table 4" in md and "seed 001 Table 3" in md and "| backend.convs.0 | Conv1d |" in md
    assert rep["auto_ratios"] is None and "Per-group ratios" not in md  # only --ratios auto runs select ratios
    out = json.loads((a.parent / "b.json").read_text())
    assert out["status"] == "finished" and out["final"]["wsr"] == pytest.approx(0.3, abs=0.005)
    # re-running prints the table and says it is already finished
    slim_cmd.run(parse(slim_cmd, ["--method", "cplr", "--target-wsr", "0.3", "--out", str(a), *TINY]))
    text = capsys.readouterr().out
    assert "already finished" in text and " final " in text and "WSR" in text


@pytest.mark.slow
def test_report_command_several_runs_one_curve_each(two_runs, tmp_path, capsys):
    a, b = two_runs
    assert report_cmd.run(parse(report_cmd, [str(a), str(b), "--out", str(tmp_path / "cmp")])) == 0
    content = json.loads((tmp_path / "cmp" / "report.json").read_text())
    assert [r["method"] for r in content["runs"]] == ["cplr", "lth-if"]
    assert [r["label"] for r in content["comparison"]] == ["cplr · tv-audio · synth (48 train clips)",
                                                           "lth-if · tv-audio · synth (48 train clips)"]
    for row, rep in zip(content["comparison"], content["runs"]):
        assert row["params_dense"] == rep["rounds"][0]["params"] > row["params"] == rep["final"]["params"]
        assert row["test_score_change"] == pytest.approx(rep["final"]["test_score"] - rep["rounds"][0]["test_score"])
    md = (tmp_path / "cmp" / "report.md").read_text()
    assert md.count("\n# ") + md.startswith("# ") == 1, "one document, not several concatenated"
    assert _md_rows(md, COMPARISON_HEAD)[0][0] == "cplr · tv-audio · synth (48 train clips)"
    assert (tmp_path / "cmp" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(EdgepruneError, match="not a slim run directory"):
        write_report([tmp_path], tmp_path / "x")


def test_round_table_formats_missing_values():
    text = round_table([{"round": 0, "wsr": 0.0, "params": 1000, "macs": 20000, "dev_score": None,
                         "test_score": float("nan")}])
    assert text.splitlines()[2].split() == ["0", "0.000", "1,000", "20,000", "-", "-"]


# ---------------------------------------------------------------- run folders written here, no training
def _metrics(rnd, wsr, params, dev, test, **extra):
    per_snr = {str(snr): {"score": test, "frr": test / 2, "far": test / 2, "far_at_frr": test / 2 + 0.1, "n": 10,
                          "n_wake": 4} for snr in (-5.0, 0.0, 5.0)}
    return {"round": rnd, "stage": 0, "stage_name": "model", "wsr": wsr, "params": params, "macs": params * 30,
            "lr": 3e-3, "wall_s": 1.5, "dev": {"score": dev, "frr": dev / 2, "far": dev / 2},
            "test": {"score": test, "frr": test / 2, "far": test / 2, "far_at_frr": test / 2 + 0.1,
                     "frr_target": 0.0122, "per_snr": per_snr}, **extra}


def _arch(width, params):
    return {"widths": {"conv": {"type": "Conv1d", "out_channels": width}},
            "params_by_type": {"conv": params, "lstm": 0, "fc": 0, "norm": 0, "other": 0}}


def make_run(path, method, model="tv-audio", data="synth", dev=(0.62, 0.64, 0.61), test=(0.63, 0.66, 0.65),
             finished=True):
    """A run folder as slim writes it: config.json, round_000/, round_001/ and (finished) final/."""
    write_json(path / "config.json", {"method": method, "model": model, "data": data, "data_size": None,
                                      "target_wsr": 0.5})
    for n, (wsr, params, width) in enumerate([(0.0, 1000, 16), (0.5, 500, 8)]):
        write_json(path / f"round_{n:03d}" / "metrics.json", _metrics(n, wsr, params, dev[n], test[n]))
        write_json(path / f"round_{n:03d}" / "arch.json", _arch(width, params))
    if finished:
        write_json(path / "final" / "metrics.json",
                   _metrics("final", 0.5, 500, dev[2], test[2], stop_reason="target WSR reached"))
        write_json(path / "final" / "arch.json", _arch(8, 500))
    return path


def _md_rows(md: str, head: list[str]) -> list[list[str]]:
    """The body rows of the markdown table whose header is `head`."""
    lines = md.splitlines()
    start = lines.index("| " + " | ".join(head) + " |") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def test_several_runs_give_one_side_by_side_table(tmp_path):
    a = make_run(tmp_path / "a", "cplr")
    b = make_run(tmp_path / "b", "lth-if", data="folder:/data/tv", test=(0.70, 0.90, 0.80), finished=False)
    out = tmp_path / "cmp"
    write_report([a, b], out)

    content = json.loads((out / "report.json").read_text())
    rows = content["comparison"]
    assert [r["label"] for r in rows] == ["cplr · tv-audio · synth", "lth-if · tv-audio · folder:/data/tv"]
    assert rows[0]["test_score_dense"] == 0.63 and rows[0]["test_score"] == 0.65  # final of a finished run
    assert rows[0]["test_score_change"] == pytest.approx(0.02) and rows[0]["stop_reason"] == "target WSR reached"
    assert rows[1]["test_score"] == 0.90 and rows[1]["finished"] is False  # the last round of an unfinished one
    assert [r["params_dense"] for r in rows] == [1000, 1000] and [r["params"] for r in rows] == [500, 500]

    md = (out / "report.md").read_text()
    assert md.startswith("# 2 runs compared\n") and md.count("\n# ") == 0
    table = _md_rows(md, COMPARISON_HEAD)
    assert table == [
        ["cplr · tv-audio · synth", "0.500 (0.50)", "1", "1,000 -> 500", "30,000 -> 15,000", "0.6200 -> 0.6100",
         "0.6300 -> 0.6500", "+0.0200", "0.4250", "target WSR reached"],
        ["lth-if · tv-audio · folder:/data/tv", "0.500 (0.50)", "1", "1,000 -> 500", "30,000 -> 15,000",
         "0.6200 -> 0.6400", "0.7000 -> 0.9000", "+0.2000", "0.5500", "not finished"],
    ]
    # each run's own report follows, one heading level down
    assert "\n## cplr on tv-audio (synth)\n" in md and "\n### Rounds\n" in md
    assert md.index("## cplr on tv-audio") < md.index("## lth-if on tv-audio")


def test_runs_that_read_the_same_get_their_folder_name(tmp_path):
    a = make_run(tmp_path / "seed0", "cp")
    b = make_run(tmp_path / "seed1", "cp")
    content = write_report([a, b], tmp_path / "cmp")
    assert [r["label"] for r in content["comparison"]] == ["cp · tv-audio · synth [seed0]",
                                                           "cp · tv-audio · synth [seed1]"]


def test_curves_have_a_fixed_axis_reference_lines_and_a_legend(tmp_path):
    # Scores between 0.61 and 0.66: an autoscaled axis would make this noise look dramatic.
    reps = [build_report(load_run(make_run(tmp_path / "a", "cplr"))),
            build_report(load_run(make_run(tmp_path / "b", "lth", dev=(0.5, 0.52, 0.51), test=(0.6, 1.3, 1.2))))]
    fig = curves_figure(reps[:1])
    try:
        dev_ax, test_ax = fig.axes
        assert dev_ax.get_ylim() == test_ax.get_ylim() == pytest.approx((0.0, 1.05))
        assert dev_ax.get_xlim() == pytest.approx((-0.02, 1.0))
        flat = {round(line.get_ydata()[0], 6) for line in test_ax.get_lines() if len(set(line.get_ydata())) == 1
                and line.get_linestyle() in ("--", ":")}
        assert flat == {1.0, 0.63}  # chance, and the dense model's test Score
        assert {round(line.get_ydata()[0], 6) for line in dev_ax.get_lines() if line.get_linestyle() == "--"} == {0.62}
        stars = [line for line in test_ax.get_lines() if line.get_marker() == "*"]
        assert len(stars) == 1 and list(stars[0].get_xydata()[0]) == [0.5, 0.65]
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert legend == ["cplr · tv-audio · synth", "final model (final/)", "dense model (round 0)",
                          "chance (Score 1.0)"]
        assert "dev" in dev_ax.get_title() and "test" in test_ax.get_title()
    finally:
        plt.close(fig)
    fig = curves_figure(reps)  # a Score above chance widens the axis instead of being cut off
    try:
        assert fig.axes[1].get_ylim() == pytest.approx((0.0, 1.05 * 1.3))
        assert [t.get_text() for t in fig.legends[0].get_texts()][:2] == ["cplr · tv-audio · synth",
                                                                          "lth · tv-audio · synth"]
    finally:
        plt.close(fig)

    write_report([tmp_path / "a", tmp_path / "b"], tmp_path / "cmp")
    image = matplotlib.image.imread(tmp_path / "cmp" / "curves.png")  # a PNG that decodes
    assert image.shape[1] == 1320 and 500 < image.shape[0] < 800 and image.std() > 0.05
    assert not math.isnan(float(image.mean()))


def test_report_command_prints_the_runs_side_by_side(tmp_path, capsys):
    a = make_run(tmp_path / "a", "cplr")
    b = make_run(tmp_path / "b", "cp", test=(0.70, 0.90, 0.80))
    assert report_cmd.run(parse(report_cmd, [str(a), str(b), "--out", str(tmp_path / "cmp")])) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("run ")))
    assert lines[start].split() == ["run", "WSR", "params", "dense", "->", "final", "test", "Score", "dense", "->",
                                    "final"]
    assert lines[start + 2].split() == ["cplr", "·", "tv-audio", "·", "synth", "0.500", "1,000", "->", "500",
                                        "0.6300", "->", "0.6500"]
    assert lines[start + 3].split()[-3:] == ["0.7000", "->", "0.8000"]
