"""folder:PATH reading, bad-data handling, and the `edgeprune data synth` -> folder:DIR round trip."""

import argparse
import json
import math
import wave

import numpy as np
import pytest
import torch

from edgeprune.commands import data as data_command
from edgeprune.data import open_data
from edgeprune.data.folder import hash_split
from edgeprune.data.wav import read_wav, write_wav
from edgeprune.errors import EdgepruneError


def tone(freq, seconds=1.3):
    return 0.3 * np.sin(2 * np.pi * freq * np.arange(int(16000 * seconds)) / 16000)


def make_tree(root, n=3, lips=False, splits=("train", "dev", "test")):
    for split in splits:
        for cls, freq in (("positive", 1000), ("negative", 300)):
            for i in range(n):
                write_wav(root / split / cls / f"{cls}{i}.wav", tone(freq + 10 * i))
                if lips:
                    (root / split / "lips").mkdir(parents=True, exist_ok=True)
                    np.save(root / split / "lips" / f"{cls}{i}.npy", np.full((40, 96, 96, 1), 50 + i, np.uint8))
    return root


def run_command(argv):
    parser = argparse.ArgumentParser()
    data_command.add_arguments(parser)
    return data_command.run(parser.parse_args(argv))


def test_split_folders_labels_and_lengths(tmp_path):
    bundle = open_data(f"folder:{make_tree(tmp_path)}")
    assert (len(bundle.train), len(bundle.dev), len(bundle.test)) == (6, 6, 6)
    assert bundle.train.label_counts() == {0: 3, 1: 3}
    item = bundle.train[0]
    assert item["fbank"].shape == (128, 40) and math.isnan(item["snr"])
    # a 1 kHz tone (positive) puts more energy in the upper bands than a 300 Hz one (negative)
    pos = [bundle.train[i] for i in range(6) if bundle.train[i]["label"] == 1]
    neg = [bundle.train[i] for i in range(6) if bundle.train[i]["label"] == 0]
    assert pos[0]["fbank"][:, 15].mean() > neg[0]["fbank"][:, 15].mean()


def test_lips_are_resized_and_cropped_to_the_clip(tmp_path):
    bundle = open_data(f"folder:{make_tree(tmp_path, lips=True)}", inputs=("fbank", "lips"), lip_size=88)
    lips = bundle.train[0]["lips"]
    assert lips.shape == (32, 88, 88)
    assert torch.allclose(lips, lips[0, 0, 0].expand_as(lips))  # constant frames stay constant


def test_deterministic_split_without_split_folders(tmp_path):
    for cls in ("positive", "negative"):
        for i in range(40):
            write_wav(tmp_path / cls / f"{cls}_{i}.wav", tone(500, 0.5))
    a = open_data(f"folder:{tmp_path}")
    b = open_data(f"folder:{tmp_path}", seed=5)
    assert a.test.ids == b.test.ids and len(a.train) + len(a.dev) + len(a.test) == 80
    expected = sorted(f"positive_{i}" for i in range(40) if hash_split(f"positive/positive_{i}.wav") == "test")
    assert sorted(i for i in a.test.ids if i.startswith("positive")) == expected
    assert a.info["split_by"] == "name hash"


def test_truncated_wav_names_the_file_and_skip_bad_records_it(tmp_path):
    make_tree(tmp_path)
    bad = tmp_path / "train" / "positive" / "positive1.wav"
    bad.write_bytes(bad.read_bytes()[:1000])
    with pytest.raises(EdgepruneError, match=r"positive1\.wav: truncated wav"):
        open_data(f"folder:{tmp_path}")
    bundle = open_data(f"folder:{tmp_path}", skip_bad=True)
    assert len(bundle.train) == 5 and [b["file"] for b in bundle.bad] == [str(bad)]
    assert "truncated" in bundle.bad[0]["reason"]


def test_wrong_sample_rate_is_refused(tmp_path):
    make_tree(tmp_path)
    path = tmp_path / "dev" / "negative" / "negative0.wav"
    write_wav(path, tone(300), sample_rate=8000)
    with pytest.raises(EdgepruneError, match=r"negative0\.wav: sample rate 8000 Hz, expected 16000 Hz.*refuses"):
        open_data(f"folder:{tmp_path}")


def test_not_a_wav_and_empty_class_and_missing_lips(tmp_path):
    make_tree(tmp_path)
    (tmp_path / "test" / "negative" / "negative2.wav").write_text("hello")
    with pytest.raises(EdgepruneError, match=r"negative2\.wav: unreadable wav"):
        open_data(f"folder:{tmp_path}")
    for p in (tmp_path / "test" / "negative").iterdir():
        p.unlink()
    with pytest.raises(EdgepruneError, match=r"test/negative: no \.wav files"):
        open_data(f"folder:{tmp_path}")
    other = make_tree(tmp_path / "again")
    with pytest.raises(EdgepruneError, match=r"positive0\.wav: no lip frames .*positive0\.npy"):
        open_data(f"folder:{other}", inputs=("fbank", "lips"))


def test_wav_reader_round_trip_and_errors(tmp_path):
    x = tone(440, 0.1)
    write_wav(tmp_path / "a.wav", x)
    np.testing.assert_allclose(read_wav(tmp_path / "a.wav"), x, atol=1 / 32767)
    with wave.open(str(tmp_path / "e.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
    with pytest.raises(EdgepruneError, match=r"e\.wav: empty wav"):
        read_wav(tmp_path / "e.wav")
    with pytest.raises(EdgepruneError, match=r"nope\.wav: no such wav file"):
        read_wav(tmp_path / "nope.wav")


def test_data_synth_command_round_trips_through_folder(tmp_path, capsys):
    out = tmp_path / "corpus"
    assert run_command(["synth", "--out", str(out), "--train", "6", "--dev", "3", "--test", "2", "--lips",
                        "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "folder:" in capsys.readouterr().out
    summary = json.loads((out / "corpus.json").read_text())
    assert summary["splits"]["test"]["clips"] == 6
    synth = open_data("synth", inputs=("fbank", "lips"), cache_dir=tmp_path / "cache", train=6, dev=3, test=2)
    back = open_data(f"folder:{out}", inputs=("fbank", "lips"))
    for split in ("train", "dev", "test"):
        s, f = getattr(synth, split), getattr(back, split)
        order = [f.ids.index(i) for i in s.ids]
        assert sorted(s.ids) == sorted(f.ids)
        assert torch.equal(s.labels, f.labels[order])
        assert s.snr == [f.snr[i] for i in order]
        torch.testing.assert_close(s[0]["lips"], f[order[0]]["lips"])
    assert torch.allclose(torch.tensor(synth.stats["fbank"]["mean"]), torch.tensor(back.stats["fbank"]["mean"]), atol=1e-4)
    with pytest.raises(EdgepruneError, match="not empty"):
        run_command(["synth", "--out", str(out), "--train", "6", "--dev", "3", "--test", "2"])


# ---- bad files that --skip-bad can skip, and SNR tables that name their bad line ---------------------------


def test_garbage_body_under_a_riff_header_is_a_bad_file(tmp_path):
    import struct

    make_tree(tmp_path)
    bad = tmp_path / "train" / "negative" / "negative1.wav"
    body = bytes(range(256)) * 2
    bad.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body)
    with pytest.raises(EdgepruneError, match=r"negative1\.wav: unreadable wav"):
        read_wav(bad)
    bundle = open_data(f"folder:{tmp_path}", skip_bad=True)
    assert [b["file"] for b in bundle.bad] == [str(bad)] and len(bundle.train) == 5


@pytest.mark.parametrize("row, match", [
    ("positive0", r"snr\.csv: line 3: expected two columns 'id,snr', got 'positive0'"),
    (",5", r"snr\.csv: line 3: empty id in ',5'"),
    ("positive1,5,7", r"snr\.csv: line 3: expected two columns"),
    ("negative0,3", r"snr\.csv: line 3: id 'negative0' appears twice"),
])
def test_bad_snr_rows_name_the_line(tmp_path, row, match):
    make_tree(tmp_path)
    (tmp_path / "dev" / "snr.csv").write_text(f"id,snr\nnegative0,0\n{row}\n")
    with pytest.raises(EdgepruneError, match=match):
        open_data(f"folder:{tmp_path}")


def test_snr_rows_are_read(tmp_path):
    make_tree(tmp_path)
    (tmp_path / "dev" / "snr.csv").write_text("id,snr\npositive0,-5\nnegative1,inf\npositive2,\n")
    dev = open_data(f"folder:{tmp_path}").dev
    snr = dict(zip(dev.ids, dev.snr))
    assert snr["positive0"] == -5.0 and snr["negative1"] == math.inf
    assert math.isnan(snr["positive2"]) and math.isnan(snr["negative0"])


# ---- --data-size on folder data: subsampled by seed, classes kept ---------------------------------------------


def test_split_sizes_subsample_each_split_by_seed(tmp_path):
    make_tree(tmp_path, n=6)
    # the sizes Context passes for --data-size 4: train 4, dev and test max(ceil(4 / 3), 10) -> all 12
    a = open_data(f"folder:{tmp_path}", train=4, dev=2, test=12, seed=1)
    assert (len(a.train), len(a.dev), len(a.test)) == (4, 2, 12)
    assert a.train.label_counts() == {0: 2, 1: 2} and a.dev.label_counts() == {0: 1, 1: 1}
    assert a.info["subsampled"] == {"train": 4, "dev": 2, "test": 12}
    assert open_data(f"folder:{tmp_path}", train=4, dev=2, test=12, seed=1).train.ids == a.train.ids
    picks = {tuple(open_data(f"folder:{tmp_path}", train=4, seed=s).train.ids) for s in range(6)}
    assert len(picks) > 1  # the seed chooses
    assert "subsampled" not in open_data(f"folder:{tmp_path}").info


def test_bad_split_size_is_one_line(tmp_path):
    make_tree(tmp_path)
    with pytest.raises(EdgepruneError, match="train size must be a positive integer, got 0"):
        open_data(f"folder:{tmp_path}", train=0)


# ---- clip length: cropped (centred in eval, random windows for training) or padded, and said so ------------------


def test_clip_length_is_the_callers_and_longer_clips_are_not_silently_cut(tmp_path, capfd):
    for split in ("train", "dev", "test"):
        for cls, freq in (("positive", 1000), ("negative", 300)):
            write_wav(tmp_path / split / cls / f"{cls}_long.wav", tone(freq, 2.0))
            write_wav(tmp_path / split / cls / f"{cls}_short.wav", tone(freq, 0.5))
    whole = open_data(f"folder:{tmp_path}", clip_s=2.0)
    assert whole.train[0]["fbank"].shape == (198, 40) and whole.info["clip_s"] == 2.0
    assert whole.info["fitted"]["dev"] == {"cropped": 0, "padded": 2}
    capfd.readouterr()
    default = open_data(f"folder:{tmp_path}")
    assert default.train[0]["fbank"].shape == (128, 40) and default.info["clip_s"] == 1.3
    assert default.info["fitted"]["test"] == {"cropped": 2, "padded": 2}
    note = capfd.readouterr().err.strip().splitlines()
    assert note == ["clip length 1.3 s: 6 longer clip(s) centre-cropped and 6 shorter clip(s) zero-padded "
                    "(set another length with --clip-seconds)"]
    with pytest.raises(EdgepruneError, match="clip length must be between 0.1 and 60 seconds, got 0"):
        open_data(f"folder:{tmp_path}", clip_s=0)


def test_training_windows_are_random_crops_of_the_whole_recording(tmp_path):
    from edgeprune.data.folder import collect, load_split

    for split in ("train", "dev", "test"):
        for cls in ("positive", "negative"):
            write_wav(tmp_path / split / cls / f"{cls}.wav", np.linspace(-0.9, 0.9, 32000))  # 2 s ramp
            write_wav(tmp_path / split / cls / f"{cls}_short.wav", tone(300, 1.0))
    items = collect(tmp_path, 0.1, 0.1)["train"]
    raw = load_split(items, "train", want_lips=False, lip_size=88, clip_s=1.3, skip_bad=False, bad=[],
                     keep_full=True)
    i = raw.ids.index("positive")
    length = raw.waves.shape[1]
    whole = read_wav(tmp_path / "train" / "positive" / "positive.wav")
    centred = (32000 - length) // 2
    np.testing.assert_array_equal(raw.window(i), whole[centred : centred + length])  # eval: the centre
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(20):
        w = raw.window(i, rng)
        start = int(np.argmin(np.abs(whole - w[0])))
        np.testing.assert_array_equal(w, whole[start : start + length])  # a true window of the recording
        starts.add(start)
    assert len(starts) > 5 and min(starts) >= 0 and max(starts) <= 32000 - length
    short = raw.ids.index("positive_short")
    np.testing.assert_array_equal(raw.window(short, rng), raw.waves[short])  # padded clips have no other window
    from edgeprune.data.folder import open_folder  # whole recordings are kept only when asked (memory)

    kept, _, _ = open_folder(tmp_path, inputs=("fbank",), lip_size=88, seed=0, cache_dir=None, full_waves=True)
    plain, _, _ = open_folder(tmp_path, inputs=("fbank",), lip_size=88, seed=0, cache_dir=None)
    assert kept["train"].full is not None and kept["dev"].full is None and plain["train"].full is None
