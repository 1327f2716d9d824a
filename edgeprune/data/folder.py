"""The `folder:PATH` source: `positive/` and `negative/` wav folders, optional `lips/<stem>.npy` beside
them and an optional `snr.csv` (id,snr); splits as train/ dev/ test/ subfolders or made by a stable hash.

Layout (with splits):  PATH/{train,dev,test}/{positive,negative}/*.wav, PATH/<split>/lips/<stem>.npy
Layout (without):      PATH/{positive,negative}/*.wav, PATH/lips/<stem>.npy  -> 80/10/10 by name hash
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from edgeprune.data.progress import progress
from edgeprune.data.raw import RawSplit, crop_start, fit_length
from edgeprune.data.wav import SAMPLE_RATE, read_wav
from edgeprune.errors import EdgepruneError
from edgeprune.features.lips import FPS, lip_frames_for, prepare_lips

SPLITS = ("train", "dev", "test")
CLASSES = (("positive", 1), ("negative", 0))


def hash_split(name: str, dev_fraction: float = 0.1, test_fraction: float = 0.1) -> str:
    """A split for a file name that depends on nothing else (stable across runs, machines and seeds)."""
    u = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) / 16**8
    return "test" if u < test_fraction else "dev" if u < test_fraction + dev_fraction else "train"


def read_snr_table(path: Path) -> dict:
    """{id: snr} from a two-column `id,snr` CSV ('inf' = clean, empty = unknown)."""
    table = {}
    if not path.exists():
        return table
    for n, line in enumerate(path.read_text().splitlines()):
        if n == 0 and line.strip().lower().startswith("id,"):
            continue
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            table[parts[0].strip()] = float(parts[1]) if len(parts) > 1 and parts[1].strip() else math.nan
        except ValueError:
            raise EdgepruneError(f"{path}: line {n + 1}: SNR {parts[1].strip()!r} is not a number") from None
    return table


def list_class(folder: Path) -> list[Path]:
    wavs = sorted(folder.glob("*.wav"))
    if not folder.is_dir() or not wavs:
        raise EdgepruneError(f"{folder}: no .wav files (empty or missing class folder)")
    return wavs


def collect(root: Path, dev_fraction: float, test_fraction: float) -> dict:
    """{split: [(wav, label, split_folder)]} from either layout."""
    if not root.is_dir():
        raise EdgepruneError(f"{root}: no such data folder")
    if (root / "train").is_dir():
        missing = [s for s in SPLITS if not (root / s).is_dir()]
        if missing:
            raise EdgepruneError(f"{root}: has train/ but no {', '.join(s + '/' for s in missing)} split folder")
        return {s: [(w, y, root / s) for name, y in CLASSES for w in list_class(root / s / name)] for s in SPLITS}
    if not (root / "positive").is_dir() and not (root / "negative").is_dir():
        raise EdgepruneError(f"{root}: expected positive/ and negative/ folders (or train/ dev/ test/ with them)")
    out = {s: [] for s in SPLITS}
    for name, y in CLASSES:
        for w in list_class(root / name):
            out[hash_split(f"{name}/{w.name}", dev_fraction, test_fraction)].append((w, y, root))
    for s in SPLITS:
        for name, y in CLASSES:
            if not any(label == y for _, label, _ in out[s]):
                raise EdgepruneError(f"{root}: the deterministic {s} split got no {name} files (too few files; "
                                     f"give train/ dev/ test/ subfolders)")
    return out


def folder_lip_path(wav: Path, base: Path) -> Path:
    return base / "lips" / f"{wav.stem}.npy"


def load_split(items, split, *, want_lips, lip_size, clip_s, skip_bad, bad, lip_path=folder_lip_path) -> RawSplit:
    """Read (wav, label, base) items into a RawSplit; `lip_path(wav, base)` locates a clip's lip npy."""
    length = int(round(clip_s * SAMPLE_RATE))
    n_video = lip_frames_for(clip_s)
    waves, labels, snrs, ids, lips = [], [], [], [], []
    tables = {}
    for wav, label, base in progress(items, desc=f"read {split}"):
        try:
            x = read_wav(wav)
            frames = None
            if want_lips:
                npy = lip_path(wav, base)
                if not npy.exists():
                    raise EdgepruneError(f"{wav}: no lip frames {npy} (the inputs include lips)")
                try:
                    raw = np.load(npy, allow_pickle=False)
                except (ValueError, OSError, EOFError) as exc:
                    raise EdgepruneError(f"{npy}: unreadable npy ({exc})") from None
                start = int(round(crop_start(len(x), length) / SAMPLE_RATE * FPS))
                frames = prepare_lips(raw, lip_size, n_video, start, name=str(npy))
        except EdgepruneError as exc:
            if not skip_bad:
                raise
            bad.append({"file": str(wav), "reason": str(exc)})
            continue
        if base not in tables:
            tables[base] = read_snr_table(base / "snr.csv")
        waves.append(fit_length(x, length))
        labels.append(label)
        snrs.append(tables[base].get(wav.stem, math.nan))
        ids.append(wav.stem)
        lips.append(frames)
    for name, y in CLASSES:
        if y not in labels:
            where = items[0][2] if items else "?"
            raise EdgepruneError(f"{where}: no usable {name} files left in the {split} split (all were bad)")
    return RawSplit(
        np.stack(waves).astype(np.float32), np.asarray(labels), np.asarray(snrs, dtype=np.float64), ids,
        np.stack(lips) if want_lips else None, np.arange(len(ids)) if want_lips else None,
    )


def open_folder(path, *, inputs, lip_size, seed, cache_dir, skip_bad=False, clip_s=1.3,
                dev_fraction=0.1, test_fraction=0.1):
    """RawSplits, info and bad files of a folder corpus (seed and cache_dir are not used: nothing random)."""
    if not path:
        raise EdgepruneError("folder needs a path: folder:PATH")
    root = Path(path).expanduser()
    groups = collect(root, dev_fraction, test_fraction)
    bad: list = []
    raws = {s: load_split(groups[s], s, want_lips="lips" in inputs, lip_size=lip_size, clip_s=clip_s,
                          skip_bad=skip_bad, bad=bad) for s in SPLITS}
    info = {"source": "folder", "root": str(root), "sample_rate": SAMPLE_RATE, "clip_s": clip_s,
            "split_by": "folders" if (root / "train").is_dir() else "name hash"}
    return raws, info, bad
