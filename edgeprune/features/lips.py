"""Lip frames: grayscale mouth crops resized to 88x88 (ICASSP paper) or 96x96 (MISP2021), fixed frame count.

Raw frames are uint8 (T, H, W) or MISP's (T, H, W, 1); models get float32 (T, S, S) scaled to [0, 1] and
then normalised with the training split's stats (one mean/std for all pixels).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from edgeprune.errors import EdgepruneError

FPS = 25
LIP_SIZES = (88, 96)


def lip_frames_for(seconds: float) -> int:
    """Number of 25 fps frames in a clip of `seconds` (1.3 s -> 32)."""
    return int(seconds * FPS + 1e-6)


def check_pixels(a: np.ndarray, name: str = "lip frames") -> None:
    """Pixels must be uint8 (0..255) or float in [0, 1] with no NaN/inf; anything else would be clamped or
    wrapped into a different picture (float 0..255 turns white, NaN black), so it is refused."""
    if a.dtype == np.uint8:
        return
    if a.dtype.kind != "f":
        raise EdgepruneError(f"{name}: lip frames must be uint8 (0-255) or float in [0, 1], got dtype {a.dtype}")
    if a.size and not np.isfinite(a).all():
        raise EdgepruneError(f"{name}: lip frames contain NaN or inf")
    if a.size and (a.min() < 0.0 or a.max() > 1.0):
        raise EdgepruneError(f"{name}: float lip frames must lie in [0, 1], got {float(a.min()):g}..{float(a.max()):g} "
                             "(store 0-255 pixels as uint8)")


def as_gray_frames(frames, name: str = "lip frames") -> np.ndarray:
    """Accept (T, H, W), (T, H, W, 1) or colour (T, H, W, 3) of uint8 or float in [0, 1] pixels; return uint8
    or float in [0, 1] (T, H, W) grayscale."""
    a = np.asarray(frames)
    check_pixels(a, name)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    elif a.ndim == 4 and a.shape[-1] == 3:
        scale = 1.0 / 255.0 if a.dtype == np.uint8 else 1.0  # keep [0, 1]: resize_frames clamps floats
        a = (a.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)) * np.float32(scale)
        a = np.clip(a, 0.0, 1.0)
    if a.ndim != 3 or min(a.shape) == 0:
        raise EdgepruneError(f"{name}: expected frames of shape (T, H, W) or (T, H, W, 1), got {a.shape}")
    return a


def resize_frames(frames, size: int) -> torch.Tensor:
    """(T, H, W) grayscale (uint8 0..255 or float 0..1) -> float32 (T, size, size) in [0, 1]."""
    a = np.asarray(frames)
    x = torch.from_numpy(np.ascontiguousarray(a)).to(torch.float32)
    if a.dtype == np.uint8:
        x = x / 255.0
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x[:, None], size=(size, size), mode="bilinear", align_corners=False, antialias=True)[:, 0]
    return x.clamp_(0.0, 1.0)


def fit_frames(frames: np.ndarray, count: int, start: int = 0) -> np.ndarray:
    """Take `count` frames from `start`, repeating the last frame when the clip is short."""
    a = frames[start : start + count]
    if len(a) == 0:
        a = frames[-1:]
    if len(a) < count:
        a = np.concatenate([a, np.repeat(a[-1:], count - len(a), axis=0)], axis=0)
    return a


def prepare_lips(frames, size: int, count: int, start: int = 0, name: str = "lip frames") -> np.ndarray:
    """Raw frames -> uint8 (count, size, size), ready to store; normalisation happens at item time."""
    gray = fit_frames(as_gray_frames(frames, name), count, start)
    return (resize_frames(gray, size).numpy() * 255.0 + 0.5).astype(np.uint8)


def lips_to_float(frames_u8) -> torch.Tensor:
    """uint8 (..., S, S) -> float32 in [0, 1]."""
    return torch.from_numpy(np.asarray(frames_u8, dtype=np.float32)) / 255.0
