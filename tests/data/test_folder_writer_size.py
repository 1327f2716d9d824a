"""`edgeprune data synth` says how much it will write before writing and how much it wrote; lip frames (six
times the audio) only with --lips; a disk too small for the estimate is refused before anything is generated."""

import argparse
import re
import shutil
from pathlib import Path

import pytest

from edgeprune.commands import data as data_command
from edgeprune.data.folder_writer import estimate_size, folder_bytes, write_synth_folder
from edgeprune.errors import EdgepruneError

SMALL = ["--train", "6", "--dev", "3", "--test", "2"]


def run_command(argv):
    parser = argparse.ArgumentParser()
    data_command.add_arguments(parser)
    return data_command.run(parser.parse_args(argv))


def _bytes(root: Path, suffix: str) -> int:
    return sum(p.stat().st_size for p in root.rglob(f"*{suffix}"))


def test_size_is_printed_before_and_after_and_the_estimate_is_exact(tmp_path, capsys):
    out, cache = tmp_path / "corpus", tmp_path / "cache"
    assert run_command(["synth", "--out", str(out), *SMALL, "--cache-dir", str(cache)]) == 0
    lines = capsys.readouterr().out.splitlines()
    est = estimate_size(train=6, dev=3, test=2)
    with_lips = estimate_size(train=6, dev=3, test=2, lips=True)
    assert est["clips"] == 6 + 3 + 2 * 3 and est["lips_bytes"] == 0
    assert lines[0] == (f"writing 15 clips to {out}: about {est['total_bytes'] / 1e6:,.1f} MB "
                        f"(wav; --lips would add {with_lips['lips_bytes'] / 1e6:,.1f} MB)")
    assert lines[1] == f"wrote {out}: {folder_bytes(out) / 1e6:,.1f} MB (seed 0, read it back with --data folder:{out})"
    assert _bytes(out, ".wav") == est["wav_bytes"] and len(list(out.rglob("*.wav"))) == 15
    assert not list(out.rglob("*.npy")), "lip frames are written only with --lips"

    lipped = tmp_path / "lipped"
    summary = write_synth_folder(lipped, train=6, dev=3, test=2, lips=True, cache_dir=cache)
    assert _bytes(lipped, ".npy") == with_lips["lips_bytes"] and _bytes(lipped, ".wav") == with_lips["wav_bytes"]
    assert summary["bytes"] == folder_bytes(lipped) > with_lips["total_bytes"]  # + snr.csv and corpus.json
    assert with_lips["lips_bytes"] > 5 * with_lips["wav_bytes"]


def test_default_corpus_size_is_reasonable():
    from edgeprune.data.folder_writer import WRITE_SIZES

    parser = argparse.ArgumentParser()
    data_command.add_arguments(parser)
    args = parser.parse_args(["synth", "--out", "x"])
    assert {k: getattr(args, k) for k in WRITE_SIZES} == WRITE_SIZES  # the command writes what is estimated
    default = estimate_size()  # what `edgeprune data synth --out DIR` writes
    assert default["clips"] == 2000 + 300 + 3 * 200
    assert 100e6 < default["total_bytes"] < 150e6
    assert estimate_size(lips=True)["total_bytes"] > 800e6  # the 816 MB a user once got without warning


def test_too_little_disk_space_is_refused_before_generation(tmp_path, monkeypatch, capsys):
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=100_000))
    out = tmp_path / "corpus"
    with pytest.raises(EdgepruneError, match=rf"^{re.escape(str(out))}: the corpus needs about 0\.6 MB, only 0\.1 MB free there$"):
        run_command(["synth", "--out", str(out), "--train", "6", "--dev", "3", "--test", "2",
                     "--cache-dir", str(tmp_path / "cache")])
    assert capsys.readouterr().out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing generated or written"
