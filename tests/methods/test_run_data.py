"""A slim run on a folder corpus: bad files stop it or are skipped and logged; every checkpoint carries
the data spec, the training split's feature statistics and the dev threshold, and export passes them on."""

import json

import pytest

import edgeprune
from edgeprune.data.folder_writer import write_synth_folder
from edgeprune.errors import EdgepruneError
from edgeprune.methods import run
from edgeprune.methods.config import SlimConfig

pytestmark = pytest.mark.slow


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "clips"
    write_synth_folder(root, seed=3, train=24, dev=8, test=6, lips=False, cache_dir=tmp_path / "cache")
    bad = sorted((root / "train" / "negative").glob("*.wav"))[0]
    bad.write_bytes(b"RIFF\x00\x00")  # truncated header
    return root, bad


def _cfg(root, out, **kw):
    return SlimConfig(method="cp", data=f"folder:{root}", out=str(out), target_wsr=0.3, epochs=1, batch_size=8,
                      lr=1e-3, **kw)


def test_bad_file_stops_the_run_naming_it(corpus, tmp_path):
    root, bad = corpus
    with pytest.raises(EdgepruneError, match=bad.name):
        run(_cfg(root, tmp_path / "run"))


def test_skip_bad_logs_the_file_and_checkpoints_carry_stats_and_threshold(corpus, tmp_path):
    root, bad = corpus
    out = tmp_path / "run"
    result = run(_cfg(root, out, skip_bad=True))
    assert result["status"] == "finished"
    skipped = json.loads((out / "data.json").read_text())["skipped"]
    assert [s["file"] for s in skipped] == [str(bad)] and bad.name in skipped[0]["reason"]
    for folder in ("round_000", "final"):
        _, meta = edgeprune.load(out / folder / "model.safetensors")
        assert meta["data"] == f"folder:{root}"
        assert len(meta["feature_stats"]["fbank"]["mean"]) == 40 and len(meta["feature_stats"]["fbank"]["std"]) == 40
        dev = json.loads((out / folder / "metrics.json").read_text())["dev"]
        assert meta["threshold"] == dev["threshold"] and 0.0 <= meta["threshold"] < 1.0

    from edgeprune.export import export_model
    from edgeprune.export.metadata import read_onnx_metadata

    export_model(out / "final" / "model.safetensors", "onnx", tmp_path / "m.onnx")
    onnx_meta = read_onnx_metadata(tmp_path / "m.onnx")
    stats = json.loads(onnx_meta["feature_stats"]) if isinstance(onnx_meta["feature_stats"], str) else onnx_meta["feature_stats"]
    assert stats == meta["feature_stats"]
