"""Write the synth corpus in the folder layout (wav + lips npy + snr.csv) so people can listen and look."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from edgeprune.atomic import atomic_dir
from edgeprune.data.progress import progress
from edgeprune.data.synth import corpus_args, load_audio, load_lips
from edgeprune.data.synth_corpus import TEST_SNRS
from edgeprune.data.synth_speech import SR
from edgeprune.data.wav import write_wav
from edgeprune.errors import EdgepruneError
from edgeprune.features.lips import LIP_SIZES, lip_frames_for

_WAV_HEADER = 44  # bytes of a plain 16-bit PCM wav header (edgeprune.data.wav)
_NPY_HEADER = 128  # bytes of np.save's header for a small uint8 array (format 1.0)


# What `edgeprune data synth --out DIR` writes by default: a corpus to listen to and to read back with folder:,
# smaller than the 6000 training clips `--data synth` trains on (which would be ~360 MB of wav).
WRITE_SIZES = {"train": 2000, "dev": 300, "test": 200}


def estimate_size(*, train=WRITE_SIZES["train"], dev=WRITE_SIZES["dev"], test=WRITE_SIZES["test"],
                  clip_s=1.3, lip_size=88, lips=False) -> dict:
    """Bytes write_synth_folder will write, from the sizes alone (before anything is generated):
    {clips, wav_bytes, lips_bytes, total_bytes}; the small csv/json files are left out."""
    clips = int(train) + int(dev) + int(test) * len(TEST_SNRS)  # each test clip is written at every test SNR
    wav = clips * (_WAV_HEADER + 2 * int(round(clip_s * SR)))
    lip = clips * (_NPY_HEADER + lip_frames_for(clip_s) * lip_size * lip_size) if lips else 0
    return {"clips": clips, "wav_bytes": wav, "lips_bytes": lip, "total_bytes": wav + lip}


def folder_bytes(path) -> int:
    """Total size of the files under `path`."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def write_synth_folder(out, *, seed=0, train=WRITE_SIZES["train"], dev=WRITE_SIZES["dev"],
                       test=WRITE_SIZES["test"], clip_s=1.3, lip_size=88,
                       lips=False, cache_dir=None, force=False, on_start=None) -> dict:
    """Write DIR/{train,dev,test}/{positive,negative}/<id>.wav, with `lips` DIR/<split>/lips/<id>.npy
    (uint8 (Tv, S, S), about 6x the audio's size), DIR/<split>/snr.csv and DIR/corpus.json; the whole folder
    appears at once (temp folder, rename). `on_start(estimate_size(...))` is called once the arguments are
    checked, before anything is generated; the summary's "bytes" is what was written."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise EdgepruneError(f"{out}: folder exists and is not empty (use --force to replace it)")
    args = corpus_args(seed=seed, train=train, dev=dev, test=test, clip_s=clip_s)
    if lips and lip_size not in LIP_SIZES:
        raise EdgepruneError(f"synth: lip_size must be one of {LIP_SIZES}, got {lip_size}")
    estimate = estimate_size(train=train, dev=dev, test=test, clip_s=clip_s, lip_size=lip_size, lips=lips)
    need = estimate["total_bytes"]
    existing = next(p for p in (out, *out.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if free < need * 1.05:
        raise EdgepruneError(f"{out}: the corpus needs about {need / 1e6:,.1f} MB, only {free / 1e6:,.1f} MB free there")
    if on_start is not None:
        on_start(estimate)
    audio = load_audio(args, cache_dir)
    summary = {"source": "synth", "args": args, "lip_size": lip_size if lips else None, "splits": {}}
    with atomic_dir(out) as tmp:
        for split, a in audio.items():
            frames = load_lips(args, split, a["mouth"], lip_size, cache_dir) if lips else None
            base = Path(tmp) / split
            for sub in ("positive", "negative") + (("lips",) if lips else ()):
                (base / sub).mkdir(parents=True)
            rows = ["id,snr"]
            for i in progress(range(len(a["ids"])), desc=f"write {split}"):
                name = str(a["ids"][i])
                write_wav(base / ("positive" if a["labels"][i] else "negative") / f"{name}.wav", a["waves"][i], SR)
                if lips:
                    np.save(base / "lips" / f"{name}.npy", np.asarray(frames[a["lip_index"][i]]))
                rows.append(f"{name},{a['snr'][i]}")
            (base / "snr.csv").write_text("\n".join(rows) + "\n")
            summary["splits"][split] = {
                "clips": len(a["ids"]), "positive": int(a["labels"].sum()),
                "negative": int(len(a["labels"]) - a["labels"].sum()),
                "kinds": {str(k): int((a["kinds"] == k).sum()) for k in np.unique(a["kinds"])},
            }
        (Path(tmp) / "corpus.json").write_text(json.dumps(summary, indent=2))
        summary["bytes"] = folder_bytes(tmp)
    return summary
