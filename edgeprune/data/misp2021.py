"""The `misp2021:PATH` source: the MISP2021 AVWWS release layout
`{positive,negative}/{audio,video}/{train,dev,eval}/{near,middle,far}` (eval serves as test).

Audio: one 16 kHz wav per microphone channel; the channel is the third-from-last `_` field of the name
(the baseline's `*_1_*_*.wav`). Lips: (T, 96, 96, 1) uint8 npy in the video folder, named after the audio
file without its channel field (`<key>.npy` or `<key>_<anything>.npy`).
"""

from __future__ import annotations

from pathlib import Path

from edgeprune.data.folder import CLASSES, read_splits
from edgeprune.data.raw import DEFAULT_CLIP_S
from edgeprune.data.wav import SAMPLE_RATE
from edgeprune.errors import EdgepruneError

SPLIT_FOLDERS = {"train": "train", "dev": "dev", "test": "eval"}
FIELDS = ("near", "middle", "far")


def sample_key(wav: Path, channel: int) -> str | None:
    """`A_B_1_x_y.wav` with channel 1 -> 'A_B_x_y'; None when the name is of another channel."""
    parts = wav.stem.split("_")
    if len(parts) < 4 or parts[-3] != str(channel):
        return None
    return "_".join(parts[:-3] + parts[-2:])


def find_root(path: Path) -> Path:
    for candidate in (path, path / "MISP2021_AVWWS"):
        if (candidate / "positive" / "audio").is_dir() and (candidate / "negative" / "audio").is_dir():
            return candidate
    raise EdgepruneError(f"{path}: not a MISP2021 AVWWS folder (expected positive/audio and negative/audio)")


def list_split(root: Path, split: str, field: str, channel: int) -> list:
    items = []
    for name, label in CLASSES:
        folder = root / name / "audio" / SPLIT_FOLDERS[split] / field
        wavs = sorted(w for w in folder.glob("*.wav") if sample_key(w, channel) is not None)
        if not wavs:
            raise EdgepruneError(f"{folder}: no channel-{channel} wav files (*_{channel}_*_*.wav): empty class")
        items += [(w, label, root / name / "video" / SPLIT_FOLDERS[split]) for w in wavs]
    return items


def lip_locator(video_field: str, channel: int):
    """A function (wav, video split folder) -> the lip npy of that sample (a path that may not exist)."""
    def locate(wav: Path, base: Path) -> Path:
        key = sample_key(wav, channel)
        folder = base / video_field
        exact = folder / f"{key}.npy"
        if exact.exists():
            return exact
        matches = sorted(folder.glob(f"{key}_*.npy"))
        if len(matches) > 1:
            raise EdgepruneError(f"{wav}: several lip files match {folder / (key + '_*.npy')}")
        return matches[0] if matches else exact
    return locate


def open_misp2021(path, *, inputs, lip_size, seed, cache_dir, skip_bad=False, field="far", channel=1,
                  video_field=None, clip_s=None, full_waves=False, **sizes):
    """RawSplits, info and bad files of a MISP2021 AVWWS tree (cache_dir is not used). `clip_s`: clip
    length (default 1.3 s); `train`/`dev`/`test`: keep at most that many clips of the split, by `seed`."""
    if not path:
        raise EdgepruneError("misp2021 needs a path: misp2021:PATH")
    if field not in FIELDS or (video_field or field) not in FIELDS:
        raise EdgepruneError(f"misp2021: field must be one of {', '.join(FIELDS)}, got {field!r} / {video_field!r}")
    root = find_root(Path(path).expanduser())
    locate = lip_locator(video_field or field, channel)
    groups = {split: list_split(root, split, field, channel) for split in SPLIT_FOLDERS}
    raws, info, bad = read_splits(groups, inputs=inputs, lip_size=lip_size, seed=seed, skip_bad=skip_bad,
                                  clip_s=DEFAULT_CLIP_S if clip_s is None else clip_s, sizes=sizes,
                                  lip_path=locate, full_waves=full_waves)
    info = {"source": "misp2021", "root": str(root), "field": field, "channel": channel,
            "video_field": video_field or field, "sample_rate": SAMPLE_RATE, **info}
    return raws, info, bad
