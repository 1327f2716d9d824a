"""misp2021:PATH on a small fake AVWWS tree: splits, channel choice, lips (T, 96, 96, 1), errors."""

import numpy as np
import pytest
import torch

from edgeprune.data import open_data
from edgeprune.data.wav import write_wav
from edgeprune.errors import EdgepruneError


def build_tree(root, lips=True):
    """Two samples per class and split, far field, channels 0 and 1 (channel 0 is silent)."""
    base = root / "MISP2021_AVWWS"
    for cls, freq in (("positive", 2000), ("negative", 400)):
        for split in ("train", "dev", "eval"):
            for i in range(2):
                key = f"R01_S{i}0{i}_C01_I0_Far"
                for ch, amp in ((0, 0.0), (1, 0.3)):
                    t = np.arange(24000) / 16000
                    write_wav(base / cls / "audio" / split / "far" / f"{key}_{ch}_{i}_{split}.wav",
                              amp * np.sin(2 * np.pi * (freq + 50 * i) * t))
                if lips:
                    folder = base / cls / "video" / split / "far"
                    folder.mkdir(parents=True, exist_ok=True)
                    np.save(folder / f"{key}_{i}_{split}.npy", np.full((38, 96, 96, 1), 100 + 10 * i, np.uint8))
    return root


def test_reads_splits_channel_and_lips(tmp_path):
    bundle = open_data(f"misp2021:{build_tree(tmp_path)}", inputs=("fbank", "lips"), lip_size=96)
    assert (len(bundle.train), len(bundle.dev), len(bundle.test)) == (4, 4, 4)
    assert bundle.test.label_counts() == {0: 2, 1: 2}
    assert all("_1_" in i for i in bundle.train.ids)
    item = bundle.test[0]
    assert item["fbank"].shape == (128, 40) and item["lips"].shape == (32, 96, 96)
    assert bundle.info["field"] == "far" and bundle.info["channel"] == 1
    raw_fb = torch.tensor(bundle.stats["fbank"]["std"])
    assert raw_fb.min() > 0.1  # channel 1 (a tone) was read, not the silent channel 0


def test_channel_zero_is_the_silent_one(tmp_path):
    bundle = open_data(f"misp2021:{build_tree(tmp_path, lips=False)}", channel=0)
    assert all("_0_" in i for i in bundle.train.ids)
    assert torch.tensor(bundle.stats["fbank"]["std"]).max() < 1e-3


def test_missing_lips_and_empty_class(tmp_path):
    root = build_tree(tmp_path)
    lip = next((root / "MISP2021_AVWWS" / "negative" / "video" / "dev" / "far").glob("*.npy"))
    lip.unlink()
    with pytest.raises(EdgepruneError, match=r"\.wav: no lip frames .*" + lip.name):
        open_data(f"misp2021:{root}", inputs=("fbank", "lips"), lip_size=96)
    skipped = open_data(f"misp2021:{root}", inputs=("fbank", "lips"), lip_size=96, skip_bad=True)
    assert len(skipped.dev) == 3 and len(skipped.bad) == 1
    assert open_data(f"misp2021:{root}").dev.label_counts() == {0: 2, 1: 2}  # audio-only needs no lips
    for wav in (root / "MISP2021_AVWWS" / "positive" / "audio" / "eval" / "far").iterdir():
        wav.unlink()
    with pytest.raises(EdgepruneError, match=r"positive/audio/eval/far: no channel-1 wav files"):
        open_data(f"misp2021:{root}")


def test_not_a_misp_folder(tmp_path):
    with pytest.raises(EdgepruneError, match="not a MISP2021 AVWWS folder"):
        open_data(f"misp2021:{tmp_path}")
    with pytest.raises(EdgepruneError, match="field must be"):
        open_data(f"misp2021:{tmp_path}", field="close")
