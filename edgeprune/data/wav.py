"""16-bit PCM wav reading and writing with the stdlib `wave` module, with one clear error per bad file.

A wrong sample rate is refused, not resampled: the models were trained on 16 kHz FBank, and a silent
resampler would hide a mismatched corpus. Convert first (e.g. `sox in.wav -r 16000 out.wav`).
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np

from edgeprune.atomic import atomic_path
from edgeprune.errors import EdgepruneError

SAMPLE_RATE = 16000
_DTYPES = {1: np.uint8, 2: np.int16, 4: np.int32}


def read_wav(path, sample_rate: int | None = SAMPLE_RATE) -> np.ndarray:
    """Read a PCM wav as float32 in [-1, 1], mono (the first channel of a multi-channel file).

    Raises EdgepruneError naming the file when it is missing, not a wav, truncated, empty, compressed,
    of an unsupported sample width, or (when `sample_rate` is given) at another sample rate.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, declared = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(declared)
    except FileNotFoundError:
        raise EdgepruneError(f"{path}: no such wav file") from None
    except (wave.Error, EOFError, OSError, RuntimeError, struct.error, ValueError) as exc:
        # a valid RIFF header over a garbage body makes the stdlib's chunk reader raise RuntimeError
        # (a seek past the end) or struct.error; all of them mean this file is not a readable wav
        reason = str(exc) or type(exc).__name__
        raise EdgepruneError(f"{path}: unreadable wav ({reason})") from None
    if width not in _DTYPES:
        raise EdgepruneError(f"{path}: {8 * width}-bit samples are not supported (use 16-bit PCM)")
    if sample_rate is not None and rate != sample_rate:
        raise EdgepruneError(
            f"{path}: sample rate {rate} Hz, expected {sample_rate} Hz (edgeprune refuses rather than resamples; "
            f"convert it, e.g. sox in.wav -r {sample_rate} out.wav)"
        )
    frame_bytes = channels * width
    got = len(raw) // frame_bytes
    if got < declared:
        raise EdgepruneError(f"{path}: truncated wav (header declares {declared} frames, file holds {got})")
    if got == 0:
        raise EdgepruneError(f"{path}: empty wav (no samples)")
    data = np.frombuffer(raw[: got * frame_bytes], dtype=_DTYPES[width]).reshape(got, channels)[:, 0]
    if width == 1:
        return (data.astype(np.float32) - 128.0) / 128.0
    return data.astype(np.float32) / float(2 ** (8 * width - 1))


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float [-1, 1] -> int16 with clipping."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32767.0), -32768, 32767).astype(np.int16)


def write_wav(path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono 16-bit PCM (float input in [-1, 1] is scaled; int16 is written as is), atomically."""
    data = samples if np.asarray(samples).dtype == np.int16 else to_int16(samples)
    with atomic_path(path) as tmp:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(np.ascontiguousarray(data, dtype="<i2").tobytes())
