"""The `folder:PATH` source: `positive/` and `negative/` wav folders, optional `lips/<stem>.npy` beside
them and an optional `snr.csv` (id,snr); splits as train/ dev/ test/ subfolders or made by a stable hash.

Layout (with splits):  PATH/{train,dev,test}/{positive,negative}/*.wav, PATH/<split>/lips/<stem>.npy
Layout (without):      PATH/{positive,negative}/*.wav, PATH/lips/<stem>.npy  -> 80/10/10 by name hash
Every clip is brought to one length (clip_s, default 1.3 s: centre crop or zero padding, counted and said);
train/dev/test sizes subsample a split by seed.
"""

from __future__ import annotations

import hashlib
import math
import sys
from pathlib import Path

import numpy as np

from edgeprune.data.progress import progress
from edgeprune.data.raw import DEFAULT_CLIP_S, RawSplit, crop_start, fit_length
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
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgepruneError(f"{path}: unreadable SNR table ({exc})") from None
    for n, line in enumerate(text.splitlines()):
        if n == 0 and line.strip().lower().startswith("id,"):
            continue
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) != 2:
            raise EdgepruneError(f"{path}: line {n + 1}: expected two columns 'id,snr', got {line.strip()!r}")
        key, value = parts[0].strip(), parts[1].strip()
        if not key:
            raise EdgepruneError(f"{path}: line {n + 1}: empty id in {line.strip()!r}")
        if key in table:
            raise EdgepruneError(f"{path}: line {n + 1}: id {key!r} appears twice")
        try:
            table[key] = float(value) if value else math.nan
        except ValueError:
            raise EdgepruneError(f"{path}: line {n + 1}: SNR {value!r} is not a number") from None
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


def check_clip_s(clip_s) -> float:
    """The clip length in seconds: a finite number between 0.1 and 60."""
    try:
        value = float(clip_s)
    except (TypeError, ValueError):
        raise EdgepruneError(f"clip length must be a number of seconds, got {clip_s!r}") from None
    if not 0.1 <= value <= 60.0:
        raise EdgepruneError(f"clip length must be between 0.1 and 60 seconds, got {clip_s!r}")
    return value


def subsample(items: list, n: int | None, seed: int, split: str) -> list:
    """At most `n` of `items`, the classes in their proportions (at least one of each), chosen by `seed`;
    kept in their original order. None or n >= len(items): all of them."""
    if n is None or n >= len(items):
        return list(items)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise EdgepruneError(f"{split} size must be a positive integer, got {n!r}")
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    keep = []
    for _, label in CLASSES:
        members = [i for i, item in enumerate(items) if item[1] == label]
        if not members:
            continue
        k = min(len(members), max(1, round(n * len(members) / len(items))))
        keep += rng.choice(members, size=k, replace=False).tolist()
    return [items[i] for i in sorted(keep)]


def load_split(items, split, *, want_lips, lip_size, clip_s, skip_bad, bad, lip_path=folder_lip_path,
               keep_full=False, fitted=None) -> RawSplit:
    """Read (wav, label, base) items into a RawSplit; `lip_path(wav, base)` locates a clip's lip npy.

    Every clip becomes `clip_s` seconds: a longer one is centre-cropped (with `keep_full`, audio only, the
    whole recording is kept for random training crops), a shorter one zero-padded at the end. `fitted`, a
    dict, receives the counts {"cropped": n, "padded": n} of this split.
    """
    length = int(round(check_clip_s(clip_s) * SAMPLE_RATE))
    n_video = lip_frames_for(clip_s)
    waves, labels, snrs, ids, lips = [], [], [], [], []
    full = [] if keep_full and not want_lips else None
    counts = {"cropped": 0, "padded": 0}
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
        if len(x) != length:
            counts["cropped" if len(x) > length else "padded"] += 1
        if full is not None:
            full.append(x if len(x) > length else None)
        labels.append(label)
        snrs.append(tables[base].get(wav.stem, math.nan))
        ids.append(wav.stem)
        lips.append(frames)
    for name, y in CLASSES:
        if y not in labels:
            where = items[0][2] if items else "?"
            raise EdgepruneError(f"{where}: no usable {name} files left in the {split} split (all were bad)")
    if fitted is not None:
        fitted.update(counts)
    return RawSplit(
        np.stack(waves).astype(np.float32), np.asarray(labels), np.asarray(snrs, dtype=np.float64), ids,
        np.stack(lips) if want_lips else None, np.arange(len(ids)) if want_lips else None,
        full if full is not None and any(f is not None for f in full) else None,
    )


def fit_note(fitted: dict, clip_s: float) -> str | None:
    """One line saying how many clips were cropped or padded to the clip length (None when none were)."""
    cropped = sum(c["cropped"] for c in fitted.values())
    padded = sum(c["padded"] for c in fitted.values())
    if not cropped and not padded:
        return None
    parts = ([f"{cropped} longer clip(s) centre-cropped"] if cropped else []) + \
            ([f"{padded} shorter clip(s) zero-padded"] if padded else [])
    return f"clip length {clip_s:g} s: {' and '.join(parts)} (set another length with --clip-seconds)"


def read_splits(groups: dict, *, inputs, lip_size, clip_s, skip_bad, seed, sizes, lip_path=folder_lip_path,
                full_waves=False):
    """{split: RawSplit}, bad files and the info shared by folder and MISP2021 data: clip length, how many
    clips were cropped or padded to it (also printed, to stderr, when any were), subsampling. `full_waves`:
    the training split also keeps whole recordings longer than the clip (RawSplit.window; costs memory)."""
    clip_s = check_clip_s(clip_s)
    unknown = set(sizes) - set(SPLITS)
    if unknown:
        raise EdgepruneError(f"unknown split size argument(s) {', '.join(sorted(unknown))}; use train, dev, test")
    bad: list = []
    fitted = {s: {} for s in SPLITS}
    raws = {s: load_split(subsample(groups[s], sizes.get(s), seed, s), s, want_lips="lips" in inputs,
                          lip_size=lip_size, clip_s=clip_s, skip_bad=skip_bad, bad=bad, lip_path=lip_path,
                          keep_full=full_waves and s == "train", fitted=fitted[s])
            for s in SPLITS}
    info = {"clip_s": clip_s, "fitted": fitted}
    if any(sizes.get(s) is not None for s in SPLITS):
        info["subsampled"] = {s: len(raws[s]) for s in SPLITS}
    note = fit_note(fitted, clip_s)
    if note:
        print(note, file=sys.stderr)
    return raws, info, bad


def open_folder(path, *, inputs, lip_size, seed, cache_dir, skip_bad=False, clip_s=None, full_waves=False,
                dev_fraction=0.1, test_fraction=0.1, **sizes):
    """RawSplits, info and bad files of a folder corpus (cache_dir is not used). `clip_s`: clip length
    (default 1.3 s); `train`/`dev`/`test`: keep at most that many clips of the split, chosen by `seed`;
    `full_waves`: keep whole training recordings for random crops (see read_splits)."""
    if not path:
        raise EdgepruneError("folder needs a path: folder:PATH")
    root = Path(path).expanduser()
    groups = collect(root, dev_fraction, test_fraction)
    raws, info, bad = read_splits(groups, inputs=inputs, lip_size=lip_size, seed=seed, skip_bad=skip_bad,
                                  clip_s=DEFAULT_CLIP_S if clip_s is None else clip_s, sizes=sizes,
                                  full_waves=full_waves)
    info = {"source": "folder", "root": str(root), "sample_rate": SAMPLE_RATE, **info,
            "split_by": "folders" if (root / "train").is_dir() else "name hash"}
    return raws, info, bad
