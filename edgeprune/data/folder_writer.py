"""Write the synth corpus in the folder layout (wav + lips npy + snr.csv) so people can listen and look."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgeprune.atomic import atomic_dir
from edgeprune.data.progress import progress
from edgeprune.data.synth import DEFAULT_SIZES, corpus_args, load_audio, load_lips
from edgeprune.data.synth_speech import SR
from edgeprune.data.wav import write_wav
from edgeprune.errors import EdgepruneError


def write_synth_folder(out, *, seed=0, train=DEFAULT_SIZES["train"], dev=DEFAULT_SIZES["dev"],
                       test=DEFAULT_SIZES["test"], clip_s=1.3, lip_size=88,
                       lips=True, cache_dir=None, force=False) -> dict:
    """Write DIR/{train,dev,test}/{positive,negative}/<id>.wav, DIR/<split>/lips/<id>.npy (uint8 (Tv, S, S)),
    DIR/<split>/snr.csv and DIR/corpus.json; the whole folder appears at once (temp folder, rename)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise EdgepruneError(f"{out}: folder exists and is not empty (use --force to replace it)")
    args = corpus_args(seed=seed, train=train, dev=dev, test=test, clip_s=clip_s)
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
    return summary
