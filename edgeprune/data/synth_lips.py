"""Synthetic 25 fps grayscale mouth crops whose opening follows the speaker's clean speech, with lighting
changes, head jitter, blur, sensor noise and occasional occlusion."""

from __future__ import annotations

import numpy as np
from edgeprune.data.synth_speech import SR
from edgeprune.features.lips import FPS

LEAD_S = 0.03  # the mouth moves slightly ahead of the sound
TRUNCATE = 4.0  # kernel radius in standard deviations, as scipy.ndimage's default


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Blur (T, H, W) frames over H and W, edges repeated: scipy.ndimage.gaussian_filter(img, (0, sigma, sigma),
    mode="nearest") bit for bit.

    Written here so that the core install needs no scipy (about 140 MB) for one filter. Each axis is summed in
    float64 in scipy's order (centre tap, then symmetric pairs from the outside in) and stored in the input's
    dtype between axes, which is what keeps cached synth lips identical to the scipy-generated ones.
    """
    radius = int(TRUNCATE * float(sigma) + 0.5)
    taps = np.exp(-0.5 / (sigma * sigma) * np.arange(-radius, radius + 1) ** 2)
    taps = taps / taps.sum()
    out = img
    for axis in (1, 2):
        x = np.moveaxis(out, axis, -1).astype(np.float64)
        n = x.shape[-1]
        pad = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(radius, radius)], mode="edge")
        acc = x * taps[radius]
        for j in range(radius, 0, -1):
            acc = acc + (pad[..., radius - j : radius - j + n] + pad[..., radius + j : radius + j + n]) * taps[radius - j]
        out = np.moveaxis(acc.astype(img.dtype), -1, axis)
    return out


def mouth_tracks(clean: np.ndarray, tracks: dict | None, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """(n_frames, 2) float32 [opening 0..1, rounding 0..1] per video frame.

    Opening = the clean speech RMS envelope (40 ms window around each frame, relative to the utterance's
    loudest frame) shaped by the vowel's jaw height; `tracks=None` means the person is silent (idle
    mouth movements only).
    """
    times = (np.arange(n_frames) + 0.5) / FPS
    if tracks is None:
        idle = np.abs(np.convolve(rng.standard_normal(n_frames + 4), np.ones(5) / 5, mode="valid"))[:n_frames]
        return np.stack([0.08 * idle, np.zeros(n_frames)], axis=1).astype(np.float32)
    half = int(0.02 * SR)
    centres = ((times + LEAD_S) * SR).astype(int)
    padded = np.pad(clean, (half, half))
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half)[np.clip(centres, 0, len(clean) - 1)]
    env = np.sqrt(np.mean(windows**2, axis=1))
    env = env / (env.max() + 1e-12)
    jaw = np.clip(tracks["jaw"](times + LEAD_S), 0.0, 1.0)
    opening = np.clip(env, 0, 1) ** 0.6 * (0.45 + 0.55 * jaw)
    rounding = np.clip(tracks["rounding"](times + LEAD_S), 0.0, 1.0) * (env > 0.05)
    return np.stack([opening, rounding], axis=1).astype(np.float32)


def render_mouth(mouth: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """(Tv, 2) opening/rounding -> uint8 (Tv, size, size) mouth crops of one randomised person and scene."""
    n = len(mouth)
    opening, rounding = mouth[:, 0, None, None], mouth[:, 1, None, None]
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    v, u = np.meshgrid(axis, axis, indexing="ij")
    scale = rng.uniform(0.85, 1.15)
    walk = np.cumsum(rng.normal(0, 0.012, (n, 2)), axis=0)
    cx = (rng.uniform(-0.08, 0.08) + walk[:, 0])[:, None, None]
    cy = (rng.uniform(-0.05, 0.1) + walk[:, 1])[:, None, None]
    width = scale * rng.uniform(0.5, 0.65) * (1.0 - 0.3 * rounding) * (1.0 + 0.08 * opening)
    inner_h = scale * (0.015 + 0.3 * opening)
    lip = scale * rng.uniform(0.12, 0.2)
    du, dv = u[None] - cx, v[None] - cy
    d_in = (du / width) ** 2 + (dv / inner_h) ** 2
    d_out = (du / (width + 0.6 * lip)) ** 2 + (dv / (inner_h + lip)) ** 2
    sharp = 6.0
    inner = 1.0 / (1.0 + np.exp(np.clip(-sharp * (1.0 - d_in), -50, 50)))
    outer = 1.0 / (1.0 + np.exp(np.clip(-sharp * (1.0 - d_out), -50, 50)))
    skin, lip_tone, cavity = rng.uniform(0.45, 0.75), rng.uniform(0.25, 0.5), rng.uniform(0.03, 0.15)
    img = skin * (1 - outer) + lip_tone * (outer - inner).clip(0) + cavity * inner
    teeth = (dv < -0.45 * inner_h) & (d_in < 1.0) & (opening > 0.25)
    img = np.where(teeth, 0.8, img).astype(np.float32)
    # lighting: a gradient, slow flicker of the TV light and an occasional scene cut
    angle = rng.uniform(0, 2 * np.pi)
    gradient = 1.0 + rng.uniform(0.0, 0.35) * (np.cos(angle) * u + np.sin(angle) * v)
    t = np.arange(n) / FPS
    light = rng.uniform(0.6, 1.3) * (1.0 + rng.uniform(0, 0.15) * np.sin(2 * np.pi * rng.uniform(0.3, 3) * t + rng.uniform(0, 6.3)))
    if rng.random() < 0.3:
        light = light * np.where(np.arange(n) >= rng.integers(0, n), rng.uniform(0.7, 1.3), 1.0)
    img = img * gradient[None] * light[:, None, None].astype(np.float32)
    if rng.random() < 0.1:  # occlusion: a hand or a cup over part of the mouth for some frames
        start = int(rng.integers(0, n))
        stop = min(n, start + int(rng.integers(5, 20)))
        y0, x0 = rng.integers(0, size // 2, 2)
        img[start:stop, y0 : y0 + size // 2, x0 : x0 + int(size * rng.uniform(0.3, 0.6))] = rng.uniform(0.3, 0.8)
    sigma = rng.uniform(0.0, 1.5) * size / 88.0
    if sigma > 0.2:
        img = gaussian_blur(img, sigma)
    img = img + rng.normal(0, rng.uniform(0.005, 0.03), img.shape).astype(np.float32)
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
